/**
 * `tailstream`: the streaming form of `tailrec` for `async function*` loops.
 *
 * @module
 */

import { checkBeforeStep, type LoopOptions, resolveOptions } from "./options.ts";
import { registerLoop, transferStep } from "./loops.ts";
import { isTailCall, type LoopResult, type RecurCheck, type TailCall } from "./recur.ts";
import type { TailStream } from "./tailrec.ts";

/**
 * Makes a stack-safe streaming loop. `step` is an `async function*` that yields values to the
 * consumer and ends with `return recur(...nextArgs)` (or `tailcall(otherStream, ...)`) to go on,
 * or with a plain `return value` to finish. The returned async generator function chains the
 * steps in a loop with constant stack and memory. It is pull-based like any async generator: a
 * step runs only as far as the consumer asks (back-pressure), and when the consumer stops early
 * (`break` in `for await`, or `return()`), the running step's `finally` blocks run and no further
 * step starts. Values passed to `next(value)` reach the running step's `yield`.
 *
 * @example
 * ```ts
 * import { recur, tailstream } from "@loom/tailcalls";
 * const pages = tailstream(async function* (page: number) {
 *   yield `page ${page}`;
 *   return page === 3 ? "end" : recur(page + 1);
 * });
 * for await (const line of pages(1)) console.log(line); // page 1, page 2, page 3
 * ```
 */
export function tailstream<Args extends unknown[], Y, R>(
  step: ((...args: Args) => StepIterator<Y, R | TailCall<NoInfer<Args>>>) & RecurCheck<R, Args>,
  options?: LoopOptions,
): TailStream<Args, Y, StreamResult<R>> {
  const resolved = resolveOptions(options);
  const { guarded, onStep } = resolved;
  const entry = step as unknown as (...args: unknown[]) => AsyncIterator<unknown, unknown, unknown>;
  const loop = async function* (...initial: unknown[]): AsyncGenerator<unknown, unknown, unknown> {
    let args = initial;
    let body = entry;
    let current = loop as (...args: never) => unknown;
    let done = 0;
    for (;;) {
      if (guarded) {
        checkBeforeStep(resolved, current, args, done);
        if (onStep !== undefined) {
          await onStep({ phase: "before", step: done + 1, loop: current, args });
        }
      }
      // `yield*` hands next/return/throw straight to the running step, so back-pressure and an
      // early return() behave exactly as if the consumer held the step's own generator.
      const result: unknown = yield* toIterable(body(...args));
      done++;
      const bounce = isTailCall(result);
      if (onStep !== undefined) {
        await onStep({ phase: "after", step: done, loop: current, args, result, done: !bounce });
      }
      if (!bounce) return result;
      args = (result as TailCall<unknown[]>).args;
      const target = (result as TailCall<unknown[]>).target;
      if (target !== undefined) {
        body = transferStep(target, "tailstream") as typeof body;
        current = target as typeof current;
      }
    }
  };
  return registerLoop(
    loop,
    "tailstream",
    entry,
    options?.name ?? (step.name || "tailstream"),
  ) as never;
}

/**
 * What a `tailstream` step returns, as far as typing needs: an async generator (or any async
 * iterator) yielding `Y` and returning `R`. Only `next` is named so that `R` is inferred from the
 * step's `return` statements alone.
 */
export interface StepIterator<Y, R> {
  /** Resumes the step; `value` becomes the result of its pending `yield`. */
  next(...value: [] | [unknown]): Promise<IteratorResult<Y, R>>;
}

/**
 * The return type of a stream whose steps return `R`: like `LoopResult`, except that a stream
 * that never returns a value settles with `void`, as TypeScript types such generators (so
 * `iterator.return()` stays callable).
 */
export type StreamResult<R> = [LoopResult<R>] extends [never] ? void : LoopResult<R>;

/** Lets `yield*` delegate to a bare async iterator as well as to an async generator. */
function toIterable<T, R>(iterator: AsyncIterator<T, R, unknown>): AsyncIterable<T, R, unknown> {
  if (Symbol.asyncIterator in iterator) return iterator as AsyncIterable<T, R, unknown>;
  return { [Symbol.asyncIterator]: () => iterator };
}

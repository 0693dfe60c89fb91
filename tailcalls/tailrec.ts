/**
 * `tailrec`: run a loop whose step returns `recur(...)` in constant stack and memory, and
 * `tailcall`: transfer from one loop to another.
 *
 * @module
 */

import { type LoopOptions, resolveOptions } from "./options.ts";
import { checkBeforeStep, isThenable } from "./options.ts";
import { loopInfo, registerLoop, transferStep } from "./loops.ts";
import {
  type Awaitable,
  type LoopResult,
  type RecurCheck,
  TAIL_CALL,
  type TailCall,
  type TailTransfer,
  transferMarker,
} from "./recur.ts";

/** A loop made by `tailrec`: an async function with the step's parameters. */
export type TailRec<Args extends unknown[], Result> = (...args: Args) => Promise<Result>;

/** A loop made by `tailstream`: an async generator function with the step's parameters. */
export type TailStream<Args extends unknown[], Yield, Result> = (
  ...args: Args
) => AsyncGenerator<Yield, Result, unknown>;

/**
 * Makes a stack-safe loop. `step` returns either the final value or `recur(...nextArgs)` (or
 * `tailcall(otherLoop, ...args)`); the returned async function runs those bounces in a plain
 * `while` loop, so a million steps use constant stack and memory (no promise chain grows).
 * A step that needs no `await` may return synchronously; then no microtask is spent on it.
 *
 * @example
 * ```ts
 * import { recur, tailrec } from "@loom/tailcalls";
 * const countdown = tailrec(async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1));
 * console.log(await countdown(1_000_000, 0)); // 1000000
 * ```
 */
export function tailrec<Args extends unknown[], R>(
  step: ((...args: Args) => Awaitable<R | TailCall<NoInfer<Args>>>) & RecurCheck<R, Args>,
  options?: LoopOptions,
): TailRec<Args, LoopResult<R>> {
  const resolved = resolveOptions(options);
  const { guarded, onStep } = resolved;
  const entry = step as unknown as (...args: unknown[]) => unknown;
  const loop = async (...initial: unknown[]): Promise<unknown> => {
    let args = initial;
    let body = entry;
    let current = loop as (...args: never) => unknown;
    let done = 0;
    for (;;) {
      if (guarded) {
        checkBeforeStep(resolved, current, args, done);
        if (onStep !== undefined) {
          const hooked = onStep({ phase: "before", step: done + 1, loop: current, args });
          if (hooked !== undefined) await hooked;
        }
      }
      let result = body(...args);
      if (isThenable(result)) result = await result;
      done++;
      const bounce = typeof result === "object" && result !== null &&
        (result as { [TAIL_CALL]?: unknown })[TAIL_CALL] === true;
      if (onStep !== undefined) {
        const hooked = onStep({
          phase: "after",
          step: done,
          loop: current,
          args,
          result,
          done: !bounce,
        });
        if (hooked !== undefined) await hooked;
      }
      if (!bounce) return result;
      const marker = result as TailCall<unknown[]>;
      args = marker.args;
      if (marker.target !== undefined) {
        body = transferStep(marker.target, "tailrec") as typeof body;
        current = marker.target as typeof current;
      }
    }
  };
  return registerLoop(loop, "tailrec", entry, options?.name ?? (step.name || "tailrec")) as never;
}

/**
 * Transfers from the current loop to another `tailrec` (or, inside a `tailstream`, another
 * `tailstream`) loop with `args`, without growing the stack: mutual recursion and state machines
 * with several states. Return it from a step, like `recur`.
 *
 * Loops that transfer to each other refer to each other, so TypeScript needs one of them
 * annotated, e.g. `const isOdd: TailRec<[number], boolean> = tailrec(...)`.
 *
 * @example
 * ```ts
 * import { tailcall, tailrec, type TailRec } from "@loom/tailcalls";
 * const isEven: TailRec<[number], boolean> = tailrec(async (n: number) =>
 *   n === 0 ? true : tailcall(isOdd, n - 1)
 * );
 * const isOdd: TailRec<[number], boolean> = tailrec(async (n: number) =>
 *   n === 0 ? false : tailcall(isEven, n - 1)
 * );
 * console.log(await isEven(1_000_000)); // true
 * ```
 */
export function tailcall<A extends unknown[], R>(
  target: TailRec<A, R>,
  ...args: A
): TailTransfer<R>;
/** Transfers to another `tailstream` loop; see the first overload. */
export function tailcall<A extends unknown[], Y, R>(
  target: TailStream<A, Y, R>,
  ...args: A
): TailTransfer<R>;
export function tailcall(target: unknown, ...args: unknown[]): TailTransfer<unknown> {
  if (loopInfo(target) === undefined) {
    throw new TypeError("tailcall target is not a loop made by tailrec or tailstream");
  }
  return transferMarker(target, args);
}

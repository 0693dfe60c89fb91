/**
 * `tailrec`: run a loop whose step returns `recur(...)` in constant stack and memory, and
 * `tailcall`: transfer from one loop to another.
 *
 * @module
 */

import {
  checkBeforeStep,
  isForeignThenable,
  type LoopOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { loopInfo, registerLoop, transferStep } from "./loops.ts";
import {
  announce,
  type Awaitable,
  isTailCall,
  type LoopResult,
  type RecurCheck,
  recurHook,
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
  const entry = step as unknown as Step;
  // Real async functions (one extra promise per call, none per step), as the issue promises.
  const loop: (...args: unknown[]) => Promise<unknown> = resolved.guarded
    ? async (...args) => await runGuarded(loop, entry, args, resolved)
    : async (...args) => await runPlain(entry, args);
  return registerLoop(loop, "tailrec", entry, options?.name ?? (step.name || "tailrec")) as never;
}

type Step = (...args: unknown[]) => unknown;

// The hot loop of a loop without options: call the step, await it only if it is a promise (or
// another thenable), and bounce while it returns a marker. Per step it allocates nothing beyond
// what the step itself makes (its promise, the marker and its argument array).
//
// `body` and `args` are locals rather than the parameters themselves: reassigning a parameter
// inside this async loop measured about 10% slower per bounce than reassigning a local.
async function runPlain(entry: Step, initial: unknown[]): Promise<unknown> {
  let body = entry;
  let args = initial;
  for (;;) {
    let result = callStep(body, args);
    if (result instanceof Promise || isForeignThenable(result)) result = await result;
    if (!isTailCall(result)) return result;
    args = result.args;
    if (result.target !== undefined) body = transferStep(result.target, "tailrec") as Step;
  }
}

/**
 * Calls `body` with `args`. Loops rarely have more than four parameters, and a direct call is
 * cheaper than spreading an array (measured about 25% per bounce for an async step).
 */
export function callStep(body: (...args: unknown[]) => unknown, args: unknown[]): unknown {
  switch (args.length) {
    case 0:
      return body();
    case 1:
      return body(args[0]);
    case 2:
      return body(args[0], args[1]);
    case 3:
      return body(args[0], args[1], args[2]);
    case 4:
      return body(args[0], args[1], args[2], args[3]);
    default:
      return body(...args);
  }
}

// The same loop with budget, signal and hooks.
async function runGuarded(
  entry: (...args: never) => unknown,
  firstBody: Step,
  initial: unknown[],
  options: ResolvedOptions,
): Promise<unknown> {
  const { onStep } = options;
  let body = firstBody;
  let args = initial;
  let current = entry;
  let done = 0;
  for (;;) {
    checkBeforeStep(options, current, args, done);
    if (onStep !== undefined) {
      const hooked = onStep({ phase: "before", step: done + 1, loop: current, args });
      if (hooked !== undefined) await hooked;
    }
    let result = callStep(body, args);
    if (result instanceof Promise || isForeignThenable(result)) result = await result;
    done++;
    const bounce = isTailCall(result);
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
    const { args: next, target } = result as TailCall<unknown[]>;
    args = next;
    if (target !== undefined) {
      body = transferStep(target, "tailrec") as Step;
      current = target as typeof current;
    }
  }
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
  const marker = transferMarker(target, args);
  return recurHook === undefined ? marker : announce(marker);
}

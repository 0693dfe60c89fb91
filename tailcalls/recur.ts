/**
 * The tail-call marker: the value a loop step returns to say "run again with these arguments".
 *
 * @module
 */

/** Brand that marks a value as a tail call. `Symbol.for` so copies of the library agree. */
export const TAIL_CALL: unique symbol = Symbol.for("loom.tailcall") as never;

/**
 * A request to re-enter a loop with new arguments. `Args` is the loop's own parameter list, so a
 * `recur(...)` with the wrong arguments does not type-check against the loop it is returned from.
 */
export interface TailCall<Args extends unknown[] = unknown[]> {
  /** The brand. */
  readonly [TAIL_CALL]: true;
  /** The arguments of the next bounce. */
  readonly args: Args;
  /** The loop to transfer to; `undefined` means "the same loop" (set by `tailcall`). */
  readonly target?: unknown;
}

/**
 * A tail call that transfers to another loop (made by `tailcall`). `Result` is what that loop
 * settles with, so it flows into the result type of the loop that returns the transfer.
 */
export interface TailTransfer<Result = unknown> extends TailCall<never> {
  /** The `tailrec`/`tailstream` loop that runs next. */
  readonly target: (...args: never) => unknown;
  /** Phantom field: carries the target's result type. Never set at run time. */
  readonly result?: Result;
}

/**
 * What a loop whose step returns `R` finally settles with: `R` without its `recur` markers, plus
 * the results of the loops it transfers to with `tailcall`.
 */
export type LoopResult<R> = R extends TailTransfer<infer X> ? X
  : R extends TailCall<infer _> ? never
  : R;

/**
 * Compile-time check used by `tailrec`/`tailstream`: a step that only ever returns `recur(...)`
 * lets TypeScript fold the marker into the result type instead of checking it, so this re-checks
 * every marker in `R` against the loop's parameters and names the problem when one does not fit.
 */
export type RecurCheck<R, Args extends unknown[]> = [Extract<R, TailCall<unknown[]>>] extends
  [TailCall<Args>] ? unknown
  : { readonly "recur(...) arguments do not match the loop's parameters": Args };

/** A value or a promise of it: steps may return synchronously. */
export type Awaitable<T> = T | PromiseLike<T>;

/**
 * Re-enter the current loop with new arguments. Return it; never `await` it or use its value.
 *
 * @example
 * ```ts
 * import { recur, tailrec } from "@loom/tailcalls";
 * const count = tailrec(async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1));
 * ```
 */
export function recur<Args extends unknown[]>(...args: Args): TailCall<Args> {
  // A plain object literal, not a class instance: when an async step returns it, V8 resolves the
  // step's promise without looking up `then` along a custom prototype chain (measured: a class
  // made each bounce about 1.5x slower). The computed brand goes last, after the plain keys the
  // literal's boilerplate can hold (measured a few percent faster than brand first). Every marker
  // has the same three keys in the same order, so one shape.
  // The hook is tested before the marker is built, and called from a separate function: making
  // the marker first and then testing (or calling) the hook measured about 30% slower per
  // bounce in the benchmark, even with no hook installed.
  if (recurHook !== undefined) return announce({ args, target: undefined, [TAIL_CALL]: true });
  return { args, target: undefined, [TAIL_CALL]: true };
}

/** Builds a marker that transfers to `target`; used by `tailcall`, which checks the target. */
export function transferMarker<R>(target: unknown, args: unknown[]): TailTransfer<R> {
  return { args: args as never, target: target as TailTransfer<R>["target"], [TAIL_CALL]: true };
}

/** True when `value` is a tail-call marker made by `recur` or `tailcall`. */
export function isTailCall(value: unknown): value is TailCall<unknown[]> {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[TAIL_CALL] === true;
}

/** A function `onRecur` installs: it sees every marker right after `recur`/`tailcall` made it. */
export type RecurHook = (marker: TailCall<unknown[]>) => void;

/** The installed hook (read by `tailcall` too, through this live binding). */
export let recurHook: RecurHook | undefined;

/** Passes a marker just made by `recur` or `tailcall` (their caller is the next frame) to the hook. */
export function announce<M extends TailCall<unknown[]>>(marker: M): M {
  recurHook!(marker);
  return marker;
}

/**
 * Installs `hook` to be called synchronously by every `recur(...)` and `tailcall(...)` in the
 * process with the marker it just made, before the step returns it; `onRecur(undefined)` removes
 * it. There is one slot: installing a hook replaces the previous one. Meant for tracing which
 * exits a loop took: the hook runs inside `recur`/`tailcall`, so in `new Error().stack` captured
 * in the hook, the frame right after the `recur` (or `tailcall`) frame is the exit's call site.
 * A hook that throws makes the step throw. Unset, it costs `recur` one `undefined` check.
 *
 * @example
 * ```ts
 * import { onRecur, recur, tailrec } from "@loom/tailcalls";
 * const sites: string[] = [];
 * onRecur(() => {
 *   const frames = new Error().stack!.split("\n");
 *   sites.push(frames[frames.findIndex((f) => /^\s*at (recur|tailcall) /.test(f)) + 1].trim());
 * });
 * await tailrec(async (n: number) => n === 0 ? "done" : recur(n - 1))(3);
 * onRecur(undefined);
 * console.log(sites.length); // 3, each "at <step> (file:line:col)"
 * ```
 */
export function onRecur(hook: RecurHook | undefined): void {
  if (hook !== undefined && typeof hook !== "function") {
    throw new TypeError("onRecur expects a function or undefined");
  }
  recurHook = hook;
}

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
 * Re-enter the current loop with new arguments. Return it; never `await` it or use its value.
 *
 * @example
 * ```ts
 * import { recur, tailrec } from "@loom/tailcalls";
 * const count = tailrec(async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1));
 * ```
 */
export function recur<Args extends unknown[]>(...args: Args): TailCall<Args> {
  return { [TAIL_CALL]: true, args };
}

/** True when `value` is a tail-call marker made by `recur` or `tailcall`. */
export function isTailCall(value: unknown): value is TailCall<unknown[]> {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[TAIL_CALL] === true;
}

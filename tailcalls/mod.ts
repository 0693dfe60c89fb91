/**
 * `@loom/tailcalls`: stack-safe async loops. (Being built; see issue 2.)
 *
 * @module
 */
export { isTailCall, recur, TAIL_CALL, type TailCall } from "./recur.ts";

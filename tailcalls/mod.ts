/**
 * `@loom/tailcalls`: stack-safe async loops. A loop is an async function that returns either its
 * final value or `recur(...nextArgs)`; `tailrec` runs it in constant stack and memory.
 *
 * - {@link tailrec} / {@link recur}: the loop and its bounce.
 * - {@link tailcall}: transfer to another loop (mutual recursion, state machines).
 * - {@link tailstream}: the same for `async function*` loops that yield values.
 * - Options: `maxSteps` ({@link StepBudgetExceededError}), `onStep` hooks, `signal`
 *   ({@link LoopAbortedError}).
 * - {@link explainTailcalls}: finds shapes in a loop's source that defeat the trampoline.
 * - {@link onRecur}: an opt-in hook that sees every marker as it is made (for tracing).
 *
 * @example
 * ```ts
 * import { recur, tailrec } from "@loom/tailcalls";
 * const countdown = tailrec(async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1));
 * console.log(await countdown(1_000_000, 0)); // 1000000, in constant stack and memory
 * ```
 *
 * @module
 */
export {
  type Awaitable,
  isTailCall,
  type LoopResult,
  onRecur,
  recur,
  type RecurCheck,
  type RecurHook,
  TAIL_CALL,
  type TailCall,
  type TailTransfer,
} from "./recur.ts";
export { tailcall, type TailRec, tailrec, type TailStream } from "./tailrec.ts";
export { type StepIterator, type StreamResult, tailstream } from "./tailstream.ts";
export { LoopAbortedError, LoopInterruptedError, StepBudgetExceededError } from "./errors.ts";
export type { AfterStepEvent, BeforeStepEvent, LoopOptions, StepEvent } from "./options.ts";
export {
  type ExplainOptions,
  explainTailcalls,
  type TailcallDiagnostic,
  type TailcallRule,
} from "./explain.ts";

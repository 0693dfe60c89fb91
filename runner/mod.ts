/**
 * `@loom/runner`: durable runs on SQLite or PostgreSQL. An agent's step returns a final value or
 * `recur(nextState)`; every `recur` is committed as a checkpoint before the next step starts, so a
 * run survives SIGKILL at any point and resumes from its last committed step. Tool calls are
 * idempotent, signal waits, timers and child runs are durable calls, and every step, failed
 * attempt and call can be inspected afterwards. The words (run, step, attempt, call, signal,
 * checkpoint, lease, event) are defined in the README's glossary.
 *
 * @example
 * ```ts
 * import { defineAgent, openStore, recur, startRun } from "@loom/runner";
 *
 * const counter = defineAgent({
 *   name: "counter",
 *   initialState: () => ({ current: 0, target: 3 }),
 *   step(state, ctx) {
 *     if (state.current >= state.target) return { current: state.current, steps: ctx.step };
 *     return recur({ ...state, current: state.current + 1 });
 *   },
 * });
 * const store = openStore(":memory:");
 * const result = await startRun(counter, { store, runId: "demo" });
 * console.log(result.status, result.result);
 * store.close();
 * ```
 *
 * @module
 */
export { isTailCall, recur, TAIL_CALL, type TailCall } from "@loom/tailcalls";
export {
  type Agent,
  AGENT_BRAND,
  type AgentDefinition,
  agentSourceHash,
  type CheckpointPolicy,
  defineAgent,
  isAgent,
  type PayloadPolicy,
} from "./engine/agent.ts";
export {
  describeWait,
  isSignalTimeout,
  type SignalTimeout,
  type StepContext,
  type StepLogger,
  type ToolCallContext,
  type ToolCallInfo,
  type ToolCallOptions,
} from "./engine/context.ts";
export {
  classifyError,
  CorruptDatabaseError,
  ERROR_CATEGORIES,
  type ErrorCategory,
  LeaseHeldError,
  LoomError,
  NotSerializableError,
  ReadOnlyDatabaseError,
  RunnerError,
  ToolTimeoutError,
} from "./errors.ts";
export { assertJson, hashJson, stableStringify } from "./json.ts";
export { type RetryPolicy } from "./engine/retry.ts";
export type { LeaseResult } from "./engine/lease.ts";
export type {
  ObservedToolCall,
  RunObserver,
  RunStartInfo,
  ToolCallEvent,
} from "./engine/observer.ts";
export { combineObservers } from "./engine/observer.ts";
export {
  enqueueRun,
  resolvePolicy,
  resumeRun,
  type RunOptions,
  type RunResult,
  startOrResumeRun,
  startRun,
} from "./engine/engine.ts";
export {
  cancelRun,
  type DeleteResult,
  deleteRun,
  type ForkOptions,
  forkRun,
  getCheckpoint,
  type PruneOptions,
  pruneRuns,
  retryRun,
  sendSignal,
  type SpaceOptions,
} from "./inspect/admin.ts";
export {
  type ReclaimMethod,
  type ReclaimOptions,
  type RunSize,
  spaceOf,
  type SpaceReport,
  type StoreSpace,
  type TableSize,
  type TrimOptions,
} from "./store/space.ts";
export {
  explainRun,
  type Explanation,
  formatExplain,
  type RunTreeNode,
} from "./inspect/explain.ts";
export { type VerifyReport, verifyRun } from "./inspect/verify.ts";
export type {
  AttemptRecord,
  CallKind,
  CallRecord,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  MaybePromise,
  Page,
  RunFilter,
  RunPatch,
  RunRecord,
  RunStatus,
  SignalRecord,
  StepRecord,
  StepStats,
  Store,
  StoredPolicy,
  WaitInfo,
} from "./store/store.ts";
export { RUN_STATUSES, TERMINAL_STATUSES } from "./store/store.ts";
export { openStore, type OpenStoreOptions, SqliteStore } from "./store/sqlite.ts";

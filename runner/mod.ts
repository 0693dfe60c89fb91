/**
 * `@loom/runner`: durable runs on SQLite or PostgreSQL. An agent's step returns a final value or
 * `recur(nextState)`; every `recur` is committed before the next step starts, so a run survives
 * SIGKILL at any point and resumes from its last committed transition. Tool calls are idempotent,
 * waits and timers are durable, and every step, attempt and tool call can be inspected afterwards.
 *
 * @example
 * ```ts
 * import { defineAgent, openStore, recur, startRun } from "@loom/runner";
 *
 * const counter = defineAgent({
 *   name: "counter",
 *   initialState: () => ({ current: 0, target: 3 }),
 *   step(state, ctx) {
 *     if (state.current >= state.target) return { current: state.current, steps: ctx.stepIndex };
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
  type ToolCallInfo,
  type ToolCallOptions,
} from "./engine/context.ts";
export {
  classifyError,
  ERROR_CATEGORIES,
  type ErrorCategory,
  LoomError,
  NotSerializableError,
  RunnerError,
  ToolTimeoutError,
} from "./errors.ts";
export { assertJson, hashJson, stableStringify } from "./json.ts";
export { type RetryPolicy } from "./engine/retry.ts";
export type { LeaseResult } from "./engine/lease.ts";
export type {
  RunObserver,
  RunStartInfo,
  ToolCallInfo as ObservedToolCall,
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
  deleteRun,
  forkRun,
  getCheckpoint,
  pruneRuns,
  retryRun,
  sendSignal,
} from "./inspect/admin.ts";
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
  LeaseState,
  MaybePromise,
  Page,
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

/**
 * `@loom/runner/studio`: Loom Studio, a local web console over a run store — a live list of runs,
 * each run's trace, process history, steps, calls and signals, and steering (signal, approve or
 * deny a loom-ops gate, resume, cancel, retry, fork with an edited state). `createStudioHandler`
 * is a plain fetch handler (`Deno.serve` runs it, a Hono app mounts it); `serveStudio` listens on
 * 127.0.0.1 unless a token is set. Routes and shapes: `API.md` beside this file.
 *
 * @example
 * ```ts ignore
 * import { openStore } from "@loom/runner";
 * import { serveStudio } from "@loom/runner/studio";
 * const store = openStore("runs.sqlite");
 * const studio = await serveStudio({ store, port: 8787 });
 * console.log(`Loom Studio at ${studio.url}`);
 * ```
 *
 * @module
 */
export { createStudioHandler, type StudioHandler, type StudioOptions } from "./handler.ts";
export { serveStudio, type StudioServeOptions, type StudioServer } from "./serve.ts";
export type { RunRow, RunsPage, RunsQuery } from "./runs_query.ts";
export type { Process } from "./process_history.ts";
export type { Gate, StateChange } from "./api_run.ts";
export { MAX_BODY_BYTES, STUDIO_CSP, STUDIO_HEADER } from "./security.ts";

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type { TAIL_CALL, TailCall } from "@loom/tailcalls";
export type {
  Agent,
  AGENT_BRAND,
  AgentDefinition,
  CallKind,
  CallRecord,
  CheckpointPolicy,
  ErrorCategory,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  MaybePromise,
  Page,
  PayloadPolicy,
  RetryPolicy,
  RunFilter,
  RunPatch,
  RunRecord,
  RunStatus,
  SignalRecord,
  SignalTimeout,
  StepContext,
  StepLogger,
  StepRecord,
  StepStats,
  Store,
  ToolCallContext,
  ToolCallOptions,
  WaitInfo,
} from "../mod.ts";

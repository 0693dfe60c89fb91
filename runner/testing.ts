/**
 * `@loom/runner/testing`: the regression lab. Golden scenarios that run in `deno test`, offline
 * and deterministic, and fail when a prompt or code change alters what an agent does.
 *
 * - `scenario(name, options, check)` registers a `Deno.test` that runs an agent (or an app
 *   through its CLI) durably on a temporary SQLite file and hands back the run, its history
 *   and its normalised trace.
 * - `cassette(file)` records real OpenAI-compatible exchanges once (`LOOM_RECORD=1`) and replays
 *   them byte for byte; a request the recording does not have fails the scenario with a diff.
 * - `faults`: crash after step N (a real subprocess, SIGKILLed, then resumed), tools that fail
 *   transiently or are slow past their timeout; `signals` with a delay arrive late.
 * - `assertMatchesGolden(run, "golden/x.json")` compares the trace with a golden file through
 *   the xray diff (`LOOM_UPDATE_GOLDEN=1` accepts a change).
 *
 * @example
 * ```ts ignore
 * import { assertMatchesGolden, scenario } from "@loom/runner/testing";
 * import counter from "./counter_agent.ts";
 *
 * scenario("counter survives a crash", {
 *   agent: counter,
 *   input: { target: 5 },
 *   faults: { crashAfterStep: 2 },
 * }, async (run) => {
 *   if (run.status !== "completed") throw new Error(`ended ${run.status}`);
 *   await assertMatchesGolden(run, "golden/counter-crash.json");
 * });
 * ```
 *
 * @module
 */
export {
  type Cassette,
  cassette,
  type CassetteFile,
  type CassetteOptions,
  type Interaction,
  scrubSecrets,
  type Upstream,
} from "./testing/cassette.ts";
export { type Faults, InjectedFault, type ToolFault, withFaults } from "./testing/faults.ts";
export {
  assertMatchesGolden,
  divergenceInWords,
  firstDivergence,
  GoldenMismatchError,
  type GoldenOptions,
  type GoldenSubject,
  normalizeTrace,
  stringNormalizer,
} from "./testing/golden.ts";
export {
  type AppCommand,
  CassetteMismatchError,
  type CommandRun,
  runScenario,
  scenario,
  type ScenarioEnv,
  ScenarioError,
  type ScenarioHistory,
  type ScenarioOptions,
  type ScenarioRun,
  type SignalDelivery,
  type TraceBuilder,
} from "./testing/scenario.ts";
export { llmCallsFromTools, traceWithLlmCalls } from "./testing/llm_spans.ts";
export { waitFor, type WaitForOptions } from "./testing/wait.ts";
export { type SeededRandom, seededRandom, testSeed, withSeed } from "./testing/seed.ts";

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type { TAIL_CALL, TailCall } from "@loom/tailcalls";
export type {
  AttributeValue,
  Change,
  DiffOptions,
  Span,
  SpanError,
  SpanKind,
  SpanStatus,
  Tolerance,
  TraceData,
} from "@loom/xray";
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
  LoomError,
  MaybePromise,
  Page,
  PayloadPolicy,
  RetryPolicy,
  RunFilter,
  RunPatch,
  RunRecord,
  RunResult,
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
} from "./mod.ts";

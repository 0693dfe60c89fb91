/**
 * The runner's side of tracing: a `RunObserver` that records a live run into an xray `Recorder`
 * (`--trace`), and `traceRun`, which rebuilds the trace of a whole run (every process, attempt
 * and child run) from the store afterwards. xray knows nothing of the runner; this module is the
 * only place the two meet.
 *
 * @module
 */
import { onRecur, type TailCall } from "@loom/tailcalls";
import {
  DEFAULT_MAX_VALUE_BYTES,
  exitsOf,
  LOOM_EXIT_LOCATION,
  Recorder,
  type RecorderOptions,
  type SpanHandle,
  type TraceData,
} from "@loom/xray";
import type { RunObserver } from "./engine/observer.ts";
import type { CallRecord, RunRecord, StepRecord, Store } from "./store/store.ts";
import { RunnerError } from "./errors.ts";
import { Buffer } from "node:buffer";

/**
 * Attribute names the runner adds to spans (beside OpenTelemetry's GenAI names). The step number
 * is `loom.step.index`: an OpenTelemetry name cannot be both an attribute and a namespace, and
 * `loom.step` is the namespace of `loom.step.attempt`.
 */
const RUN_ID = "loom.run.id";
const STEP_INDEX = "loom.step.index";
const ATTEMPT = "loom.step.attempt";
const EXIT_KIND = "loom.exit.kind";
const TAILCALLS_FRAME = /\/tailcalls\/[^/]+\.ts:/;
const CATEGORY = "loom.error.category";
const LEASE_OWNER = "loom.lease.owner";

/** A `RunObserver` that records into a recorder, plus access to the open spans. */
export interface TraceObserver extends RunObserver {
  /** The recorder spans go to. */
  readonly recorder: Recorder;
  /**
   * The span of the step of `runId` that is running now, so code inside a step (an LLM client)
   * can hang its own spans under it: `recorder.recordLlm({ parent: tracer.stepSpan(ctx.runId) })`.
   */
  stepSpan(runId: string): SpanHandle | undefined;
}

/** Options for `traceObserver`. */
export interface TraceObserverOptions {
  /**
   * The agent's step and its module source. When given, the trace records the loop's possible
   * exits (every `recur(...)` and `return` in the step) and, for each step, the `recur` it took
   * (its `file:line:col`, captured while the run is traced). A final `return` gets a location
   * only when the step has a single `return`: a stack cannot tell which `return` ran.
   */
  exits?: { step: (...args: never[]) => unknown; file: string; source: string };
}

/**
 * Records runs as they happen: one `run` span per run (child runs nest under the parent's step),
 * a `step` span per attempt with the state before as input and after as output, `tool` spans
 * (replayed ones marked), an `error` span per failed attempt with its category, and `event`
 * spans for waits and log lines.
 *
 * @param recorder Where to record; one recorder can watch several runs (a parent and children).
 * @returns The observer; pass it as `RunOptions.observer`.
 */
export function traceObserver(
  recorder: Recorder,
  options: TraceObserverOptions = {},
): TraceObserver {
  const live: LiveTrace = {
    recorder,
    runs: new Map(),
    steps: new Map(),
    exits: options.exits ? loopExits(recorder, options.exits) : undefined,
  };
  // A plain object of own hooks: callers may spread it and replace one (`{ ...base, onLog }`).
  return {
    recorder,
    stepSpan: (runId) => live.steps.get(runId),
    onRunStart: (info) => runStarted(live, info),
    onStepStart: (info) => stepStarted(live, info),
    onStepEnd: (info) => stepEnded(live, info),
    onToolCall: (info) => toolCalled(live, info),
    onAttemptError: (info) => attemptFailed(live, info),
    onWaiting(info) {
      recorder.recordEvent(`waiting for ${info.waiting.kind}`, {
        parent: openSpan(live, info.runId),
        input: info.waiting,
      });
      endStep(live, info.runId, undefined);
    },
    onLog(info) {
      recorder.recordEvent(`log ${info.level}`, {
        parent: openSpan(live, info.runId),
        input: info.data === undefined ? info.message : { message: info.message, data: info.data },
      });
    },
    onRunEnd: (info) => runEnded(live, info),
  };
}

/** The spans a trace observer has open: one per run, and the running step's per run. */
interface LiveTrace {
  recorder: Recorder;
  runs: Map<string, SpanHandle>;
  steps: Map<string, SpanHandle>;
  exits?: ReturnType<typeof loopExits>;
}

/** What the engine hands hook `K`. */
type HookInfo<K extends keyof RunObserver> = Parameters<NonNullable<RunObserver[K]>>[0];

/** The running step's span of a run, else the run's span, else none (a root). */
function openSpan(live: LiveTrace, runId: string): SpanHandle | null {
  return live.steps.get(runId) ?? live.runs.get(runId) ?? null;
}

function endStep(live: LiveTrace, runId: string, output?: unknown, error?: unknown): void {
  const span = live.steps.get(runId);
  if (!span) return;
  live.steps.delete(runId);
  span.end(error !== undefined ? { error } : { output });
}

function runStarted(live: LiveTrace, info: HookInfo<"onRunStart">): void {
  const { recorder, runs, steps } = live;
  const parent = info.parentRunId
    ? steps.get(info.parentRunId) ?? runs.get(info.parentRunId) ?? null
    : null;
  const span = recorder.startSpan("run", `${info.agentName} ${info.runId}`, {
    parent,
    input: info.state,
    attributes: {
      [RUN_ID]: info.runId,
      "loom.agent.name": info.agentName,
      "loom.agent.version": info.agentVersion,
      "loom.run.resumed": info.resumed,
      "loom.run.first_step": info.step,
    },
  });
  runs.set(info.runId, span);
  if (runs.size === 1) live.exits?.watch(true);
  if (!recorder.meta.runId) recorder.meta.runId = info.runId;
}

function stepStarted(live: LiveTrace, info: HookInfo<"onStepStart">): void {
  endStep(live, info.runId); // a step span left open by a suspended attempt
  const span = live.recorder.startSpan("step", `step ${info.step}`, {
    parent: live.runs.get(info.runId) ?? null,
    input: info.state,
    startTime: info.startedAt,
    attributes: {
      [RUN_ID]: info.runId,
      [STEP_INDEX]: info.step,
      [ATTEMPT]: info.attempt,
    },
  });
  live.steps.set(info.runId, span);
}

function stepEnded(live: LiveTrace, info: HookInfo<"onStepEnd">): void {
  const span = live.steps.get(info.runId);
  span?.setAttribute(EXIT_KIND, info.final ? "return" : "recur");
  const location = live.exits?.locate(info.final ? undefined : info.marker);
  if (location) span?.setAttribute(LOOM_EXIT_LOCATION, location);
  endStep(live, info.runId, info.final ? info.result : info.stateAfter);
}

function toolCalled(live: LiveTrace, info: HookInfo<"onToolCall">): void {
  live.recorder.recordTool({
    parent: openSpan(live, info.runId),
    name: info.name,
    args: info.args,
    result: info.result,
    key: info.key,
    replayed: info.replayed,
    startTime: info.startedAt,
    durationMs: info.durationMs,
    error: info.error !== undefined ? new Error(info.error) : undefined,
    attributes: { "loom.tool.attempts": info.attempts },
  });
}

function attemptFailed(live: LiveTrace, info: HookInfo<"onAttemptError">): void {
  const attributes = {
    [CATEGORY]: info.errorCategory,
    [STEP_INDEX]: info.step,
    ...(info.retryInMs !== null ? { "loom.retry_in_ms": info.retryInMs } : {}),
  };
  if (info.scope === "step") {
    live.steps.get(info.runId)?.setAttributes(attributes).tag(
      info.retryInMs !== null ? "retry" : "failed",
    );
    endStep(live, info.runId, undefined, info.error);
  } else {
    live.recorder.recordError(info.error, {
      parent: openSpan(live, info.runId),
      name: `${info.toolName ?? "tool"} attempt ${info.attempt} failed`,
      attributes,
    });
  }
}

function runEnded(live: LiveTrace, info: HookInfo<"onRunEnd">): void {
  endStep(live, info.runId);
  const span = live.runs.get(info.runId);
  live.runs.delete(info.runId);
  if (live.runs.size === 0) live.exits?.watch(false);
  span?.setAttributes({ "loom.run.status": info.status, "loom.run.steps": info.steps });
  if (info.status === "failed" && info.error) {
    span?.end({ error: Object.assign(new Error(info.error.message), { name: "RunFailed" }) });
  } else {
    span?.end({ output: info.result, status: "ok" });
  }
}

/**
 * Possible exits of a step (stored in the trace) and, while watching, where each `recur` marker
 * was made (from the stack inside the `onRecur` hook: the first frame outside tailcalls).
 */
function loopExits(recorder: Recorder, loop: NonNullable<TraceObserverOptions["exits"]>) {
  const possible = exitsOf(loop.step, loop.file, loop.source);
  recorder.addPossibleExits(possible);
  const returns = possible.filter((e) => e.kind === "return");
  const sites = new WeakMap<TailCall, string>();
  const hook = (marker: TailCall) => {
    const frame = new Error().stack?.split("\n").slice(1).find((f) =>
      !TAILCALLS_FRAME.test(f) && !f.includes(import.meta.url)
    );
    const m = frame && /\(?((?:file|https?):[^\s()]*?):(\d+):(\d+)\)?\s*$/.exec(frame);
    if (m) sites.set(marker, `${m[1]}:${m[2]}:${m[3]}`);
  };
  return {
    watch(on: boolean) {
      onRecur(on ? hook : undefined);
    },
    /** The location of a `recur` marker, or of the only `return` for a final step. */
    locate(marker: TailCall | undefined): string | undefined {
      if (marker) return sites.get(marker);
      return returns.length === 1 ? returns[0].location : undefined;
    },
  };
}

const parseJson = (text: string | null): unknown => text === null ? undefined : JSON.parse(text);

/** Options for `traceRun`: recorder options, and a hook that draws some calls its own way. */
export interface TraceRunOptions extends RecorderOptions {
  /**
   * Called for each call before the default drawing; return `true` when it recorded the
   * call itself (an app that runs its LLM turns through `ctx.callTool` draws them as `llm` spans).
   */
  recordCall?: (call: CallRecord, parent: SpanHandle, recorder: Recorder) => boolean;
  /**
   * Cap on one checkpoint's stored JSON size (UTF-8 bytes): a step whose state is larger carries
   * a small marker (`{ "$loom": "state omitted", bytes, step, hint }`) as its input/output
   * instead, and the state is never parsed.
   * @default 262144 (256 KiB)
   */
  maxStateBytes?: number;
  /**
   * Budget for the states of one trace (all its runs): each state the trace holds counts what
   * the recorder keeps of it (its size, at most `maxValueBytes`), once; once the budget is
   * spent, later states are markers too. Which states are omitted depends only on their sizes
   * and order.
   * @default 33554432 (32 MiB)
   */
  maxStateBytesTotal?: number;
}

/** Defaults of `TraceRunOptions`' state caps, in one place. */
const STATE_CAPS = { maxStateBytes: 256 * 1024, maxStateBytesTotal: 32 * 1024 * 1024 };
/** Step rows read at once: each holds its whole state, so a page of big states stays bounded. */
const STEP_PAGE = 8;
/** Attribute on a run span: how many of its states the trace omitted. */
const STATES_OMITTED = "loom.trace.states_omitted";

/** The marker a step span carries in place of a state the trace omitted. */
export interface OmittedState {
  /** Always "state omitted". */
  $loom: "state omitted";
  /** The state's stored JSON size, in UTF-8 bytes. */
  bytes: number;
  /** The step after which this checkpoint was taken (`firstStep - 1`: the run's initial state). */
  step: number;
  /** How to print the whole state. */
  hint: string;
}

/** What states a trace holds: the caps, the budget left, and how many were omitted. */
interface StateBudget {
  perState: number;
  left: number;
  counted: number;
  location: string;
  omitted: number;
}

/** UTF-8 length of a string, without encoding it (native: a JS loop over 3 MB states is slow). */
const utf8Bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/**
 * A stored state as the trace holds it: parsed when it fits the per-state cap and the budget,
 * else the omission marker (`undefined` stays `undefined`).
 */
function admitState(
  budget: StateBudget,
  runId: string,
  step: number,
  text: string | null,
): unknown {
  if (text === null) return undefined;
  const bytes = utf8Bytes(text);
  const cost = Math.min(bytes, budget.counted);
  if (bytes <= budget.perState && cost <= budget.left) {
    budget.left -= cost;
    return JSON.parse(text);
  }
  budget.omitted++;
  const hint = step < 0
    ? `the state run ${runId} started from (its input, or the checkpoint it was forked from)`
    : `loom-runner history --run-id ${runId} --db ${budget.location} --from-step ${step} ` +
      `--limit 1 --json`;
  return { $loom: "state omitted", bytes, step, hint } satisfies OmittedState;
}

/**
 * Rebuilds the trace of a run from the store: the run, its committed steps (with the kept
 * checkpoints), failed attempts with their error categories, calls (tool calls, signal waits,
 * timers), events, and child runs nested under the step that started them. Times are the
 * recorded ones.
 *
 * @param store The store.
 * @param runId The run.
 * @param options Recorder options (name, redaction, prices).
 * @returns The trace.
 * @throws {RunnerError} When the run does not exist.
 */
export async function traceRun(
  store: Store,
  runId: string,
  options: TraceRunOptions = {},
): Promise<TraceData> {
  const run = await store.getRun(runId);
  if (!run) throw new RunnerError(`no run "${runId}" in ${store.location}`);
  const recorder = new Recorder({
    name: `${run.agentName} ${runId}`,
    startTime: run.createdAt,
    ...options,
    meta: { runId, agent: run.agentName, status: run.status, db: store.location, ...options.meta },
  });
  const budget: StateBudget = {
    perState: options.maxStateBytes ?? STATE_CAPS.maxStateBytes,
    left: options.maxStateBytesTotal ?? STATE_CAPS.maxStateBytesTotal,
    counted: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
    location: store.location,
    omitted: 0,
  };
  await addRun(store, recorder, run, null, 0, { recordCall: options.recordCall, budget });
  if (budget.omitted > 0) recorder.meta.statesOmitted = budget.omitted;
  return recorder.toJSON();
}

async function addRun(
  store: Store,
  recorder: Recorder,
  run: RunRecord,
  parent: SpanHandle | null,
  depth: number,
  o: { recordCall: TraceRunOptions["recordCall"]; budget: StateBudget },
): Promise<void> {
  const { recordCall, budget } = o;
  const omittedBefore = budget.omitted;
  const initialState = admitState(budget, run.runId, run.firstStep - 1, run.initialState);
  const runSpan = recorder.startSpan("run", `${run.agentName} ${run.runId}`, {
    parent,
    startTime: run.createdAt,
    input: initialState,
    attributes: {
      [RUN_ID]: run.runId,
      "loom.agent.name": run.agentName,
      "loom.agent.version": run.agentVersion,
      "loom.run.status": run.status,
    },
  });
  const steps = await addSteps(store, recorder, run, runSpan, initialState, budget);
  const [failedAttempts, calls, events, children] = await Promise.all([
    store.listFailedAttempts(run.runId, { limit: 1_000_000 }),
    store.listCalls(run.runId, { limit: 1_000_000 }),
    store.listEvents(run.runId, { limit: 1_000_000 }),
    depth < 20 ? store.listRuns({ parentRunId: run.runId, limit: 10_000 }) : [],
  ]);
  const stepSpans = steps.spans;
  addUncommittedSteps(recorder, run, runSpan, calls, stepSpans);
  const underStep = (step: number) => stepSpans.get(step) ?? runSpan;
  for (const a of failedAttempts) {
    pointSpan(
      recorder,
      "error",
      `${a.scope ? "tool" : "step"} ${a.step} attempt ${a.attempt} failed`,
      {
        parent: underStep(a.step),
        at: a.startedAt + a.durationMs,
        error: Object.assign(new Error(a.error), { name: a.errorType }),
        attributes: { [CATEGORY]: a.errorCategory, [STEP_INDEX]: a.step },
      },
    );
  }
  const childIds = new Set(children.map((c) => c.runId));
  for (const call of calls) {
    if (call.kind === "child" && childIds.has(call.name)) continue; // drawn as a nested run below
    if (recordCall?.(call, underStep(call.step), recorder)) continue;
    addCall(recorder, call, underStep(call.step));
  }
  for (const e of events) {
    const owner = leaseOwner(e.data); // started/resumed name the process: xray draws it as a band
    pointSpan(recorder, "event", e.kind, {
      parent: runSpan,
      at: e.at,
      input: e.message,
      ...(owner ? { attributes: { [LEASE_OWNER]: owner } } : {}),
    });
  }
  for (const child of children.reverse()) {
    await addRun(store, recorder, child, underStep(child.parentStep ?? -1), depth + 1, o);
  }
  // Counted after the children, so a parent also says when its children's states were omitted.
  const omitted = budget.omitted - omittedBefore;
  if (omitted > 0) runSpan.setAttribute(STATES_OMITTED, omitted);
  endRunSpan(run, runSpan, steps.last);
}

/**
 * One span per committed step, with the state before and after (or omission markers); by step.
 * Reads the step rows a page at a time, so only one page of whole states is held at once.
 */
async function addSteps(
  store: Store,
  recorder: Recorder,
  run: RunRecord,
  runSpan: SpanHandle,
  initialState: unknown,
  budget: StateBudget,
): Promise<{ spans: Map<number, SpanHandle>; last: StepRecord | undefined }> {
  const spans = new Map<number, SpanHandle>();
  const lastStep = run.status === "completed" ? (await store.lastStep(run.runId))?.step : -1;
  let stateBefore = initialState;
  let last: StepRecord | undefined;
  for (let from = -1;;) {
    const page = await store.listSteps(run.runId, { fromStep: from, limit: STEP_PAGE });
    for (const step of page) {
      const final = step.step === lastStep;
      const span = recorder.startSpan("step", `step ${step.step}`, {
        parent: runSpan,
        startTime: step.startedAt,
        input: stateBefore,
        attributes: {
          [RUN_ID]: run.runId,
          [STEP_INDEX]: step.step,
          [ATTEMPT]: step.attempt,
          [EXIT_KIND]: final ? "return" : "recur",
        },
      });
      const after = final
        ? parseJson(run.result)
        : admitState(budget, run.runId, step.step, step.state);
      span.end({ output: after, endTime: step.startedAt + step.durationMs });
      if (step.state !== null) stateBefore = after;
      spans.set(step.step, span);
      last = step;
    }
    if (page.length < STEP_PAGE) break;
    from = page[page.length - 1].step + 1;
  }
  // Only the timing of the last step row is kept: its state is not needed any more.
  return { spans, last: last && { ...last, state: null } };
}

/** Calls of a step that never committed (the run stopped inside it) get an open step span. */
function addUncommittedSteps(
  recorder: Recorder,
  run: RunRecord,
  runSpan: SpanHandle,
  calls: CallRecord[],
  stepSpans: Map<number, SpanHandle>,
): void {
  for (const call of calls) {
    if (stepSpans.has(call.step)) continue;
    const open = recorder.startSpan("step", `step ${call.step} (not committed)`, {
      parent: runSpan,
      startTime: call.startedAt,
      attributes: { [RUN_ID]: run.runId, [STEP_INDEX]: call.step },
    });
    const ends = calls.filter((c) => c.step === call.step).map((c) =>
      c.startedAt + (c.durationMs ?? 0)
    );
    open.end({ status: "unset", endTime: Math.max(...ends) });
    stepSpans.set(call.step, open);
  }
}

/** Ends a run's span at its last change (or its last step's end): failed, or ok with its result. */
function endRunSpan(run: RunRecord, runSpan: SpanHandle, lastStep: StepRecord | undefined): void {
  const endTime = Math.max(run.updatedAt, lastStep ? lastStep.startedAt + lastStep.durationMs : 0);
  if (run.status === "failed") {
    runSpan.end({
      error: Object.assign(new Error(run.error ?? "run failed"), { name: "RunFailed" }),
      endTime,
    });
  } else {
    runSpan.end({ output: parseJson(run.result), endTime, status: "ok" });
  }
}

function addCall(recorder: Recorder, call: CallRecord, parent: SpanHandle): void {
  const timing = { parent, startTime: call.startedAt, durationMs: call.durationMs ?? 0 };
  if (call.kind === "tool") {
    recorder.recordTool({
      ...timing,
      name: call.name,
      args: parseJson(call.args),
      result: call.status === "completed" ? parseJson(call.result) : undefined,
      key: call.key,
      error: call.status === "failed" ? new Error(call.error ?? "tool failed") : undefined,
      attributes: {
        "loom.tool.attempts": call.attempts,
        "loom.tool.status": call.status,
        "loom.tool.capped": call.capped,
      },
    });
  } else {
    pointSpan(recorder, "event", `${call.kind} ${call.name}`, {
      parent,
      at: call.startedAt,
      input: { status: call.status, args: parseJson(call.args), result: parseJson(call.result) },
    });
  }
}

/** The lease owner (`host:pid:token`) an event's data names, if any. */
function leaseOwner(data: string | null): string | undefined {
  try {
    const owner = data === null ? undefined : JSON.parse(data)?.owner;
    return typeof owner === "string" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** A zero-length span at a recorded time (the recorder's own helpers stamp "now"). */
function pointSpan(
  recorder: Recorder,
  kind: "event" | "error",
  name: string,
  o: {
    parent: SpanHandle;
    at: number;
    input?: unknown;
    error?: Error;
    attributes?: Record<string, string | number>;
  },
): void {
  recorder.startSpan(kind, name, {
    parent: o.parent,
    startTime: o.at,
    input: o.input,
    attributes: o.attributes,
  })
    .end({ endTime: o.at, ...(o.error ? { error: o.error } : { status: "ok" }) });
}

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type { TAIL_CALL, TailCall } from "@loom/tailcalls";
export type {
  AttributeValue,
  EndSpanOptions,
  ExitKind,
  ExitSite,
  LlmCall,
  ModelPrice,
  ParentRef,
  PriceTable,
  RecordedTiming,
  Recorder,
  RecorderOptions,
  RecordErrorOptions,
  RedactContext,
  Redactor,
  Span,
  SpanError,
  SpanHandle,
  SpanKind,
  SpanStatus,
  StartSpanOptions,
  ToolCall,
  TraceData,
} from "@loom/xray";
export type {
  CallKind,
  CallRecord,
  ErrorCategory,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  MaybePromise,
  Page,
  RunFilter,
  RunObserver,
  RunPatch,
  RunRecord,
  RunStartInfo,
  RunStatus,
  SignalRecord,
  StepRecord,
  StepStats,
  Store,
  ToolCallEvent,
  WaitInfo,
} from "./mod.ts";

/**
 * The JSON of one run: the run with its parsed fields, children, processes, events and what it
 * waits for (a loom-ops approval gate named as such); its steps with the state after each and
 * the change from the state before; its calls, failed attempts and signals.
 *
 * @module
 */
import type { RunRecord, StepRecord, Store, WaitInfo } from "../store/store.ts";
import { jsonChanges } from "../testing/json_diff.ts";
import { processHistory } from "./process_history.ts";
import { rowOf, stepTimes } from "./runs_query.ts";
import { Buffer } from "node:buffer";

/** A loom-ops approval gate a run waits at (see `API.md`). */
export interface Gate {
  /** The signal that decides it: `approval:<step>`. */
  signal: string;
  /** The plan step it guards. */
  step: string;
  /** Who may decide (`*`: anyone); empty when the run's state does not say. */
  approvers: string[];
  /** Why the gate exists, when the plan says. */
  reason: string | null;
  /** The gated command, when the plan says. */
  argv: string[] | null;
}

/** One change between a step's state before and after. */
export interface StateChange {
  /** Where: keys and indexes joined by dots (`""`: the whole value). */
  path: string;
  /** What happened to the value there. */
  op: "add" | "remove" | "replace";
  /** The value before (absent when added). */
  before?: unknown;
  /** The value after (absent when removed). */
  after?: unknown;
}

const parse = (text: string | null): unknown => text === null ? null : JSON.parse(text);

/** The gate a run waits at, when it waits for a loom-ops `approval:<step>` signal. */
export function gateOf(run: RunRecord, state: unknown): Gate | null {
  if (run.status !== "waiting" || !run.waiting) return null;
  const w = JSON.parse(run.waiting) as WaitInfo;
  if (w.kind !== "signal") return null;
  const step = /^approval:(.+)$/.exec(w.name)?.[1];
  if (step === undefined) return null;
  // A loom-ops supervisor keeps its plan in its state: { plan: { steps: [{ id, run, approve }] } }.
  const plan = (state as { plan?: { steps?: unknown } } | null)?.plan;
  const planStep = Array.isArray(plan?.steps)
    ? (plan.steps as { id?: unknown; run?: unknown; approve?: unknown }[]).find((s) =>
      s?.id === step
    )
    : undefined;
  const approve = planStep?.approve as { by?: unknown; reason?: unknown } | undefined;
  return {
    signal: w.name,
    step,
    approvers: Array.isArray(approve?.by) ? approve.by.map(String) : [],
    reason: typeof approve?.reason === "string" ? approve.reason : null,
    argv: Array.isArray(planStep?.run) ? planStep.run.map(String) : null,
  };
}

/** The latest stored state of a run (the last kept checkpoint, else the initial state). */
async function latestState(store: Store, run: RunRecord): Promise<unknown> {
  if (run.patchedState !== null) return parse(run.patchedState);
  const last = await store.lastStep(run.runId);
  if (last?.state) return parse(last.state);
  return parse(run.initialState);
}

/** `GET /api/runs/:id`: everything the run page shows above its step list. */
export async function runDetail(store: Store, run: RunRecord): Promise<unknown> {
  const [row, children, events, steps, state] = await Promise.all([
    rowOf(store, run),
    store.listRuns({ parentRunId: run.runId, limit: 1000 }),
    store.listEvents(run.runId, { limit: 10_000 }),
    stepTimes(store, run.runId),
    latestState(store, run),
  ]);
  const waitInfo = run.waiting ? JSON.parse(run.waiting) as WaitInfo : null;
  return {
    run: {
      ...row,
      input: parse(run.input),
      // The checkpoint before the run's first step (0, or where a fork starts), and one an edit
      // or a migration replaced: the fork editor shows what `fork` would start from.
      firstStep: run.firstStep,
      initialState: parse(run.initialState),
      patchedStep: run.patchedStep,
      patchedState: parse(run.patchedState),
      result: parse(run.result),
      policy: parse(run.policy),
      waitInfo,
      leaseOwner: run.leaseOwner,
      leaseExpires: run.leaseExpires,
    },
    children: await Promise.all(children.map((c) => rowOf(store, c))),
    processes: processHistory(run, events, steps),
    events,
    gate: gateOf(run, state),
    waitingFor: run.status === "waiting" && waitInfo?.kind === "signal"
      ? { kind: "signal", name: waitInfo.name, deadline: waitInfo.deadline }
      : null,
  };
}

/** Caps of the steps API, in one place (see `API.md`). */
export const STEP_CAPS = {
  /** A state whose stored JSON is larger is sent as an omission marker. */
  maxStateBytes: 64 * 1024,
  /** Changes listed per step at most; the walk stops there. */
  maxDiffChanges: 200,
  /** Step rows read at once (each holds its whole state). */
  rowsPerRead: 8,
};

/** What a step's `state` is in place of a state over `STEP_CAPS.maxStateBytes`. */
export interface OmittedStateJson {
  /** Always "state omitted". */
  $loom: "state omitted";
  /** The state's stored JSON size, in UTF-8 bytes. */
  bytes: number;
}

/**
 * The changes from `a` to `b`, leaf by leaf, in document order: at most `limit` (the walk
 * stops after one more, so a huge change costs no more than the limit).
 */
export function stateDiff(a: unknown, b: unknown, limit = Infinity): StateChange[] {
  return jsonChanges(a, b, limit).map(({ path, a, b }): StateChange =>
    a === undefined
      ? { path, op: "add", after: b }
      : b === undefined
      ? { path, op: "remove", before: a }
      : { path, op: "replace", before: a, after: b }
  );
}

/** UTF-8 length of a string, without encoding it (native: a JS loop over 3 MB states is slow). */
const utf8Bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** A value for the steps API: itself when its JSON fits the cap, else the omission marker. */
function capped(value: unknown, text?: string | null): unknown {
  if (value === null || typeof value !== "object" && typeof value !== "string") return value;
  const bytes = utf8Bytes(text ?? JSON.stringify(value));
  return bytes <= STEP_CAPS.maxStateBytes
    ? value
    : { $loom: "state omitted", bytes } satisfies OmittedStateJson;
}

/**
 * `GET /api/runs/:id/steps?from=&limit=`: step rows with the state after each and its diff from
 * the state before (null when either checkpoint was not kept). A state over
 * `STEP_CAPS.maxStateBytes` is sent as `{ $loom: "state omitted", bytes }` with
 * `stateOmitted: true` (`GET /api/runs/:id/steps/:step/state` has it whole); a diff is cut at
 * `STEP_CAPS.maxDiffChanges` changes (then `diffTruncated: true`), each value in it capped too.
 */
export async function runSteps(
  store: Store,
  run: RunRecord,
  from: number,
  limit: number,
): Promise<unknown> {
  const stats = await store.stepStats(run.runId);
  const first = Math.max(from, run.firstStep);
  let before: unknown = first === run.firstStep ? parse(run.initialState) : undefined;
  let known = first === run.firstStep;
  const out = [];
  // One more row before the page: the state its first step started from. Rows are read a few
  // at a time so that a page of big states is never held whole at once.
  for (let next = first - 1; out.length < limit;) {
    const want = Math.min(STEP_CAPS.rowsPerRead, limit - out.length + (next < first ? 1 : 0));
    const rows = await store.listSteps(run.runId, { fromStep: next, limit: want });
    for (const row of rows) {
      if (row.step >= first && out.length < limit) {
        out.push(stepJson(run, row, stats.last, before, known));
      }
      before = parse(row.state);
      known = row.state !== null;
    }
    if (rows.length < want) break;
    next = rows[rows.length - 1].step + 1;
  }
  return { steps: out, total: stats.count };
}

function stepJson(
  run: RunRecord,
  row: StepRecord,
  lastStep: number | null,
  before: unknown,
  known: boolean,
) {
  const final = run.status === "completed" && row.step === lastStep;
  const after = final ? parse(run.result) : parse(row.state);
  const hasAfter = final || row.state !== null;
  const changes = known && hasAfter ? stateDiff(before, after, STEP_CAPS.maxDiffChanges) : null;
  const truncated = changes !== null && changes.length > STEP_CAPS.maxDiffChanges;
  const state = capped(after, final ? run.result : row.state);
  return {
    step: row.step,
    attempt: row.attempt,
    startedAt: row.startedAt,
    durationMs: row.durationMs,
    state,
    ...(state !== after ? { stateOmitted: true } : {}),
    diff: changes && changes.slice(0, STEP_CAPS.maxDiffChanges).map((c) => ({
      ...c,
      ...("before" in c ? { before: capped(c.before) } : {}),
      ...("after" in c ? { after: capped(c.after) } : {}),
    })),
    ...(truncated ? { diffTruncated: true } : {}),
  };
}

/**
 * `GET /api/runs/:id/steps/:step/state`: the stored JSON of the checkpoint after a step (the
 * run's result for the final step of a completed run), or why there is none.
 */
export async function stepState(
  store: Store,
  run: RunRecord,
  step: number,
): Promise<string | { error: string }> {
  const row = await store.getStep(run.runId, step);
  if (!row) return { error: `run "${run.runId}" has no committed step ${step}` };
  if (run.status === "completed" && run.result !== null) {
    const last = await store.lastStep(run.runId);
    if (last?.step === step) return run.result;
  }
  if (row.state === null) return { error: `the checkpoint after step ${step} was not kept` };
  return row.state;
}

/** `GET /api/runs/:id/calls`: the run's calls, JSON fields parsed. */
export async function runCalls(store: Store, runId: string): Promise<unknown> {
  const calls = await store.listCalls(runId, { limit: 100_000 });
  return {
    calls: calls.map((c) => ({ ...c, args: parse(c.args), result: parse(c.result) })),
  };
}

/** `GET /api/runs/:id/failed-attempts`. */
export async function runFailedAttempts(store: Store, runId: string): Promise<unknown> {
  return { failedAttempts: await store.listFailedAttempts(runId, { limit: 100_000 }) };
}

/** `GET /api/runs/:id/signals`: payloads parsed. */
export async function runSignals(store: Store, runId: string): Promise<unknown> {
  const signals = await store.listSignals(runId, { limit: 100_000 });
  return { signals: signals.map((s) => ({ ...s, data: parse(s.data) })) };
}

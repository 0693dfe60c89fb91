/**
 * The JSON of one run: the run with its parsed fields, children, processes, events and what it
 * waits for (a loom-ops approval gate named as such); its steps with the state after each and
 * the change from the state before; its calls, failed attempts and signals.
 *
 * @module
 */
import { jsonChanges } from "../testing/json_diff.ts";
import type { RunRecord, StepRecord, Store, WaitInfo } from "../store/store.ts";
import { processHistory } from "./process_history.ts";
import { rowOf, stepTimes } from "./runs_query.ts";

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

/** The changes from `a` to `b`, leaf by leaf. */
export function stateDiff(a: unknown, b: unknown): StateChange[] {
  return jsonChanges(a, b).map((c) => {
    if (c.a === undefined) return { path: c.path, op: "add", after: c.b };
    if (c.b === undefined) return { path: c.path, op: "remove", before: c.a };
    return { path: c.path, op: "replace", before: c.a, after: c.b };
  });
}

/**
 * `GET /api/runs/:id/steps?from=&limit=`: step rows with the state after each and its diff from
 * the state before (null when either checkpoint was not kept).
 */
export async function runSteps(
  store: Store,
  run: RunRecord,
  from: number,
  limit: number,
): Promise<unknown> {
  const stats = await store.stepStats(run.runId);
  const first = Math.max(from, run.firstStep);
  // One more row before the page: the state its first step started from.
  const rows = await store.listSteps(run.runId, { fromStep: first - 1, limit: limit + 1 });
  let before: unknown = first === run.firstStep ? parse(run.initialState) : undefined;
  let known = first === run.firstStep;
  const out = [];
  for (const row of rows) {
    if (row.step < first) {
      before = parse(row.state);
      known = row.state !== null;
      continue;
    }
    if (out.length >= limit) break;
    out.push(stepJson(run, row, stats.last, before, known));
    before = parse(row.state);
    known = row.state !== null;
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
  return {
    step: row.step,
    attempt: row.attempt,
    startedAt: row.startedAt,
    durationMs: row.durationMs,
    state: after,
    diff: known && hasAfter ? stateDiff(before, after) : null,
  };
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

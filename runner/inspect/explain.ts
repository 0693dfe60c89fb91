/**
 * `explainRun`: what happened in a run, as plain data; `formatExplain`: the same for a person.
 * Needs only the store (never the agent module).
 *
 * @module
 */
import type { ErrorCategory } from "../errors.ts";
import { requireRun } from "../engine/engine.ts";
import type {
  EventRecord,
  FailedAttemptRecord,
  RunStatus,
  Store,
  StoredPolicy,
  WaitInfo,
} from "../store/store.ts";

/** A node of the child-run tree. */
export interface RunTreeNode {
  /** The child run. */
  runId: string;
  /** The agent that owns it. */
  agentName: string;
  /** Its status now. */
  status: RunStatus;
  /** Its own child runs, in the order it started them. */
  children: RunTreeNode[];
}

/** Everything `explain` reports: plain JSON. Times are ISO 8601, durations ms. */
export interface Explanation {
  /** The run explained. */
  runId: string;
  /** The agent that owns the run, its version and source hash (null when unknown). */
  agent: { name: string; version: number; sourceHash: string | null };
  /** The run's status now. */
  status: RunStatus;
  /** When the run was created. */
  createdAt: string;
  /** The last change of the run record. */
  updatedAt: string;
  /** When the run reached its terminal status; null while it can still change. */
  endedAt: string | null;
  /** From creation to the last change. */
  wallMs: number;
  /** Policies stored with the run. */
  policy: StoredPolicy;
  /** For a child run: its parent and the parent's step that started it. */
  parent: { runId: string; step: number | null } | null;
  /** For a fork: the run it was forked from and the step it starts at. */
  forkOf: { runId: string; step: number | null } | null;
  /**
   * Step rows: the first step, how many are committed and the last one, the step that runs
   * next, checkpoints kept (the initial state included), and the time spent inside steps.
   */
  steps: {
    first: number;
    committed: number;
    lastCommitted: number | null;
    next: number;
    checkpointsKept: number;
    timeInStepsMs: number;
  };
  /**
   * Failed attempts (of steps and tool calls): how many, how many were followed by another
   * attempt, how many per error category, and the latest ten.
   */
  failedAttempts: {
    count: number;
    retried: number;
    byCategory: Partial<Record<ErrorCategory, number>>;
    latest: FailedAttemptRecord[];
  };
  /** Calls by kind and name, counted by status (`started`: no outcome recorded). */
  calls: { kind: string; name: string; completed: number; failed: number; started: number }[];
  /** What a waiting run waits for; null unless `waiting`. */
  waiting: WaitInfo | null;
  /** Signals received by a wait, still pending, and rejected by a wait's validator. */
  signals: { delivered: number; pending: number; rejected: number };
  /** The final result (completed runs), else null. */
  result: unknown;
  /** The error (failed runs) or reason (cancelled runs), else null. */
  error: { message: string; category: ErrorCategory } | null;
  /** The latest checkpoint: the state the run would resume from, or finished with. */
  lastState: unknown;
  /** Child runs (recursively). */
  children: RunTreeNode[];
  /** The latest 50 events of the run's history. */
  events: EventRecord[];
}

async function childTree(store: Store, runId: string, depth = 0): Promise<RunTreeNode[]> {
  if (depth > 20) return [];
  const kids = await store.listRuns({ parentRunId: runId, limit: 1000 });
  const out: RunTreeNode[] = [];
  // In the order the parent started them.
  kids.sort((a, b) =>
    (a.parentStep ?? 0) - (b.parentStep ?? 0) || a.createdAt - b.createdAt ||
    (a.runId < b.runId ? -1 : 1)
  );
  for (const k of kids) {
    out.push({
      runId: k.runId,
      agentName: k.agentName,
      status: k.status,
      children: await childTree(store, k.runId, depth + 1),
    });
  }
  return out;
}

/** Gathers what happened in a run. */
export async function explainRun(store: Store, runId: string): Promise<Explanation> {
  const run = await requireRun(store, runId);
  const stats = await store.stepStats(runId);
  const last = await store.lastStep(runId);
  const policy = JSON.parse(run.policy) as StoredPolicy;
  const failed = await store.listFailedAttempts(runId, { limit: 10_000 });
  const byCategory: Partial<Record<ErrorCategory, number>> = {};
  for (const a of failed) byCategory[a.errorCategory] = (byCategory[a.errorCategory] ?? 0) + 1;
  const calls = new Map<string, Explanation["calls"][number]>();
  for (const c of await store.countCalls(runId)) {
    const k = `${c.kind}\0${c.name}`;
    const e = calls.get(k) ?? { kind: c.kind, name: c.name, completed: 0, failed: 0, started: 0 };
    e[c.status as "completed" | "failed" | "started"] += c.n;
    calls.set(k, e);
  }
  const signals = await store.listSignals(runId, { limit: 10_000 });
  let lastStateJson: string | null = run.initialState;
  if (last) {
    lastStateJson = last.state;
    if (last.state === null && last.step > run.firstStep) {
      lastStateJson = (await store.getStep(runId, last.step - 1))?.state ?? null;
    } else if (last.state === null) lastStateJson = run.initialState;
  }
  const next = last ? last.step + 1 : run.firstStep;
  if (run.patchedStep === next && run.patchedState) lastStateJson = run.patchedState;
  const events = await store.listEvents(runId, { limit: 1000 });
  return {
    runId,
    agent: { name: run.agentName, version: run.agentVersion, sourceHash: run.agentHash },
    status: run.status,
    createdAt: new Date(run.createdAt).toISOString(),
    updatedAt: new Date(run.updatedAt).toISOString(),
    endedAt: run.endedAt === null ? null : new Date(run.endedAt).toISOString(),
    wallMs: run.updatedAt - run.createdAt,
    policy,
    parent: run.parentRunId ? { runId: run.parentRunId, step: run.parentStep } : null,
    forkOf: run.forkOfRunId ? { runId: run.forkOfRunId, step: run.forkOfStep } : null,
    steps: {
      first: run.firstStep,
      committed: stats.count,
      lastCommitted: stats.last,
      next,
      checkpointsKept: stats.withState + 1,
      timeInStepsMs: Math.round(stats.totalMs * 1000) / 1000,
    },
    failedAttempts: {
      count: failed.length,
      retried: failed.filter((a) => a.retryAt !== null).length,
      byCategory,
      latest: failed.slice(-10),
    },
    calls: [...calls.values()],
    waiting: run.status === "waiting" && run.waiting ? JSON.parse(run.waiting) : null,
    signals: {
      delivered: signals.filter((s) => s.consumedBy).length,
      pending: signals.filter((s) => !s.consumedBy && !s.rejected).length,
      rejected: signals.filter((s) => s.rejected).length,
    },
    result: run.result === null ? null : JSON.parse(run.result),
    error: run.error ? { message: run.error, category: run.errorCategory ?? "unknown" } : null,
    lastState: lastStateJson === null ? null : JSON.parse(lastStateJson),
    children: await childTree(store, runId),
    events: events.slice(-50),
  };
}

/** Shortens a JSON rendering for display. */
export function preview(value: unknown, max = 400): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? "undefined";
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

function ms(n: number): string {
  if (n < 1000) return `${n.toFixed(n < 10 ? 2 : 0)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(2)} s`;
  return `${(n / 60_000).toFixed(1)} min`;
}

function tree(nodes: RunTreeNode[], indent: string, lines: string[]): void {
  nodes.forEach((n, i) => {
    const lastOne = i === nodes.length - 1;
    lines.push(`${indent}${lastOne ? "└─" : "├─"} ${n.runId} (${n.agentName}) ${n.status}`);
    tree(n.children, indent + (lastOne ? "   " : "│  "), lines);
  });
}

function describeWaiting(w: WaitInfo): string {
  if (w.kind === "signal") {
    return `signal "${w.name}"${
      w.deadline ? ` (times out ${new Date(w.deadline).toISOString()})` : ""
    }; deliver it with: loom-runner signal --run-id <id> --name ${w.name} --data '<json>', then resume`;
  }
  if (w.kind === "timer") {
    return `a timer until ${new Date(w.wakeAt).toISOString()}; resume after then`;
  }
  return `child run ${w.childRunId}; resume this run to advance it`;
}

/**
 * Renders an explanation for a person.
 *
 * @param e The explanation.
 * @param options `db`: the database as the user named it, used in the "next" hint.
 * @returns Lines of text.
 */
export function formatExplain(e: Explanation, options: { db?: string } = {}): string {
  const L: string[] = [];
  L.push(`run ${e.runId}: ${e.status.toUpperCase()}`);
  L.push(
    `  agent      ${e.agent.name} v${e.agent.version}${
      e.agent.sourceHash ? ` (source ${e.agent.sourceHash})` : ""
    }`,
  );
  L.push(`  started    ${e.createdAt}, last change ${e.updatedAt} (${ms(e.wallMs)} wall)`);
  if (e.parent) L.push(`  parent     child of run ${e.parent.runId} (step ${e.parent.step})`);
  if (e.forkOf) L.push(`  lineage    forked from run ${e.forkOf.runId} at step ${e.forkOf.step}`);
  L.push(
    `  steps      ${e.steps.committed} committed (steps ${e.steps.first}..${
      e.steps.lastCommitted ?? "-"
    }), next step ${e.steps.next}; ${ms(e.steps.timeInStepsMs)} inside steps`,
  );
  L.push(
    `  policy     checkpoints ${
      e.policy.checkpoint === "full" ? "every step" : `one in ${e.policy.every} + latest`
    } (${e.steps.checkpointsKept} kept), tool results capped at ${e.policy.maxInlineBytes} bytes`,
  );
  const failed = e.failedAttempts;
  const cats = Object.entries(failed.byCategory).map(([k, v]) => `${k} ${v}`).join(", ");
  L.push(
    `  attempts   ${failed.count} failed${
      failed.count ? ` (${cats}); ${failed.retried} retried` : ""
    }`,
  );
  for (const a of failed.latest) {
    L.push(
      `             step ${a.step}${
        a.scope ? ` tool ${a.scope}` : ""
      } attempt ${a.attempt}: ${a.errorCategory}: ${a.error}${a.retryAt ? " -> retried" : ""}`,
    );
  }
  if (e.calls.length === 0) L.push("  calls      none");
  for (const c of e.calls) {
    const parts = [`${c.completed} completed`];
    if (c.failed) parts.push(`${c.failed} failed`);
    if (c.started) parts.push(`${c.started} unfinished`);
    L.push(`  ${c.kind.padEnd(10)} ${c.name}: ${parts.join(", ")}`);
  }
  if (e.signals.delivered + e.signals.pending + e.signals.rejected > 0) {
    L.push(
      `  signals    ${e.signals.delivered} received, ${e.signals.pending} pending, ${e.signals.rejected} rejected`,
    );
  }
  if (e.waiting) L.push(`  waiting    for ${describeWaiting(e.waiting)}`);
  if (e.children.length) {
    L.push("  children");
    tree(e.children, "    ", L);
  }
  if (e.error) L.push(`  error      ${e.error.category}: ${e.error.message}`);
  if (e.status === "completed") L.push(`  result     ${preview(e.result)}`);
  L.push(`  last state ${preview(e.lastState)}`);
  const notable = e.events.filter((ev) =>
    !["resumed", "started", "signal-sent", "signal-received"].includes(ev.kind)
  );
  if (notable.length) {
    L.push("  history");
    for (const ev of notable.slice(-15)) {
      L.push(`    ${new Date(ev.at).toISOString()} ${ev.kind}: ${ev.message}`);
    }
  }
  const db = options.db ? ` --db ${options.db}` : "";
  const hint = e.status === "failed"
    ? `  next       loom-runner retry <agent module> --run-id ${e.runId}${db}`
    : e.status === "paused"
    ? `  next       loom-runner resume <agent module> --run-id ${e.runId}${db}`
    : null;
  if (hint) L.push(hint);
  return L.join("\n");
}

/**
 * The processes phase of `summarize`: which processes advanced each run, and the moments that
 * changed hands — a crash, a resume, a lease takeover, a wait and its wake-up — read from the
 * spans a runner trace carries. xray knows no runner: it reads plain span names and attributes.
 *
 * A trace rebuilt from the store (`loom-runner trace`) has one `event` span per run event under
 * the run span, named after the event kind (`started`, `resumed`, `lease-takeover`,
 * `interrupted`, `failed`…), its message as input (`resumed from running`, `took over the lease
 * from host:pid:token …`) and, on `started`/`resumed`, the process's lease owner as
 * `loom.lease.owner`. Each `started`/`resumed` begins a process; what the `resumed` says it
 * resumed from tells how the previous process stopped (`running`: it died holding the run).
 * A trace recorded live (`--trace`) has one run span per process instead, with
 * `loom.run.resumed` on the ones that resumed.
 *
 * @module
 */

import type { Span } from "./model.ts";
import type {
  ProcessBand,
  ProcessEnd,
  ProcessMarker,
  ProcessTimeline,
  SpanSummary,
} from "./summary.ts";
import type { SpanTree } from "./tree.ts";

const RUN_ID = "loom.run.id";
const RUN_STATUS = "loom.run.status";
const RUN_RESUMED = "loom.run.resumed";
const STEP_INDEX = "loom.step.index";
const LEASE_OWNER = "loom.lease.owner";

/** How markers at the same moment are ordered: how one process stops before the next starts. */
const ORDER: ProcessMarker["kind"][] = [
  "start",
  "wait",
  "pause",
  "fail",
  "crash",
  "lease-takeover",
  "wake",
  "resume",
];

/** A `host:pid:token` lease owner named in an event message. */
const OWNER = /\bfrom (\S+:\d+:\S+?)(?:[\s,;)]|$)/;
/** Wait calls as `traceRun` draws them (`timer 0:timer:0`) or a live trace does (`waiting for`). */
const WAIT = /^(timer|signal|child) |^waiting for /;

/** One run as this phase reads it: its run spans, and the spans of its subtree by role. */
interface RunSpans {
  runId: string;
  runs: Span[];
  boundaries: Span[]; // started / resumed events
  events: Span[]; // other event spans directly under a run span
  steps: Span[];
  waits: Span[];
  activity: Span[]; // spans that show a process at work: steps, calls, its own events
}

/** Groups the spans under root-level run spans (child runs count for their parent's process). */
function collectRuns(tree: SpanTree): RunSpans[] {
  const runs = new Map<string, RunSpans>();
  const runOf = new Map<string, RunSpans>(); // span id -> its top-level run
  for (const s of tree.order) {
    const parentRun = s.parentId !== null ? runOf.get(s.parentId) : undefined;
    if (!parentRun) {
      // A run of the runner: a run span carrying its run id (a plain traced program has none).
      if (s.kind !== "run" || typeof s.attributes[RUN_ID] !== "string") continue;
      const runId = String(s.attributes[RUN_ID]);
      let r = runs.get(runId);
      if (!r) {
        r = { runId, runs: [], boundaries: [], events: [], steps: [], waits: [], activity: [] };
        runs.set(runId, r);
      }
      r.runs.push(s);
      runOf.set(s.id, r);
      continue;
    }
    runOf.set(s.id, parentRun);
    const direct = s.parentId !== null && parentRun.runs.some((x) => x.id === s.parentId);
    if (direct && s.kind === "event" && (s.name === "started" || s.name === "resumed")) {
      parentRun.boundaries.push(s);
      continue;
    }
    if (direct && s.kind === "event") parentRun.events.push(s);
    // Run-level events other than these are written by whoever acts on the run (a takeover by
    // the next process, a signal by a CLI): they do not show the process was still there.
    if (!direct || s.kind !== "event" || s.name === "failed" || s.name === "interrupted") {
      parentRun.activity.push(s);
    }
    if (direct && s.kind === "step") parentRun.steps.push(s);
    if (s.kind === "event" && WAIT.test(s.name)) parentRun.waits.push(s);
  }
  return [...runs.values()];
}

const byStart = (a: Span, b: Span) => a.startOffset - b.startOffset;
const text = (s: Span): string => typeof s.input === "string" ? s.input : "";
const stepIndex = (s: Span): number | null => {
  const v = s.attributes[STEP_INDEX];
  return typeof v === "number" ? v : null;
};

/** What a run's trace says about where its processes start and end. */
interface RunContext {
  run: RunSpans;
  end: (s: Span) => number;
  bands: ProcessBand[];
  markers: ProcessMarker[];
}

/** The last step of the run committed at or before `at`, or `null`. */
function stepBefore(ctx: RunContext, at: number): number | null {
  let best: number | null = null;
  for (const s of ctx.run.steps) {
    const k = stepIndex(s);
    if (k !== null && ctx.end(s) <= at + 1e-6 && (best === null || k > best)) best = k;
  }
  return best;
}

function mark(
  ctx: RunContext,
  kind: ProcessMarker["kind"],
  atMs: number,
  process: number,
  message: string,
  span: Span | null,
): void {
  ctx.markers.push({
    kind,
    runId: ctx.run.runId,
    atMs,
    process,
    afterStep: stepBefore(ctx, atMs),
    message,
    spanId: span?.id ?? null,
  });
}

/** A band over `[start, end]` with the steps that started inside `[start, until)`. */
function band(
  ctx: RunContext,
  runSpan: Span,
  start: number,
  end: number,
  until: number,
): ProcessBand {
  const steps = ctx.run.steps.filter((s) => s.startOffset >= start && s.startOffset < until);
  let firstStep: number | null = null;
  let lastStep: number | null = null;
  for (const s of steps) {
    const k = stepIndex(s);
    if (k === null) continue;
    if (firstStep === null || k < firstStep) firstStep = k;
    if (lastStep === null || k > lastStep) lastStep = k;
  }
  return {
    runId: ctx.run.runId,
    runSpanId: runSpan.id,
    index: ctx.bands.length + 1,
    owner: null,
    startMs: start,
    endMs: Math.max(start, end),
    steps: steps.length,
    firstStep,
    lastStep,
    ended: "running",
  };
}

/** How a run that is not running any more ended, from its run span. */
function endFromStatus(run: Span): ProcessEnd {
  const status = run.attributes[RUN_STATUS];
  switch (status) {
    case "completed":
    case "failed":
    case "waiting":
    case "paused":
    case "cancelled":
      return status;
    case "running":
    case "queued":
      return "running";
  }
  if (run.duration === null) return "running";
  return run.status === "error" ? "failed" : "completed";
}

/** Store-rebuilt runs: one band per `started`/`resumed` event. */
function fromEvents(ctx: RunContext): void {
  const { run } = ctx;
  const bounds = run.boundaries.slice().sort(byStart);
  const runEnd = run.runs.reduce((m, r) => Math.max(m, ctx.end(r)), -Infinity);
  bounds.forEach((b, k) => {
    const next = bounds[k + 1];
    const until = next ? next.startOffset : Infinity;
    let end = next ? b.startOffset : runEnd;
    if (next) {
      for (const s of run.activity) {
        if (s.startOffset >= b.startOffset && s.startOffset < until) {
          end = Math.max(end, ctx.end(s));
        }
      }
      end = Math.min(end, until);
    }
    const p = band(ctx, run.runs[0], b.startOffset, end, until);
    const owner = b.attributes[LEASE_OWNER];
    if (typeof owner === "string") p.owner = owner;
    ctx.bands.push(p);
  });
  bounds.forEach((b, k) => {
    const p = ctx.bands[k];
    if (k === 0) {
      mark(ctx, b.name === "started" ? "start" : "resume", b.startOffset, k, text(b) || b.name, b);
    }
    const next = bounds[k + 1];
    if (!next) {
      p.ended = endFromStatus(run.runs[0]);
      return;
    }
    const from = /^resumed from (\w+)/.exec(text(next))?.[1] ?? "";
    p.ended = transition(ctx, k, from, next);
  });
  for (const e of run.events) {
    if (e.name !== "lease-takeover") continue;
    // A takeover is written by the process that takes over, just before its `resumed` event.
    const starts = ctx.bands.findIndex((b) => b.startMs >= e.startOffset);
    const k = starts < 0 ? ctx.bands.length - 1 : starts;
    mark(ctx, "lease-takeover", e.startOffset, k, text(e) || e.name, e);
    const owner = OWNER.exec(text(e))?.[1];
    if (owner && k > 0) ctx.bands[k - 1].owner ??= owner;
  }
}

/** The band a moment belongs to: the last one started at or before it. */
function bandAt(ctx: RunContext, at: number): number {
  let k = 0;
  ctx.bands.forEach((b, i) => {
    if (b.startMs <= at) k = i;
  });
  return k;
}

/** Marks how band `k` stopped and how the next one began; returns how band `k` ended. */
function transition(ctx: RunContext, k: number, from: string, next: Span): ProcessEnd {
  const p = ctx.bands[k];
  const after = (names: string[]) =>
    ctx.run.events.filter((e) =>
      names.includes(e.name) && e.startOffset >= p.startMs && e.startOffset <= next.startOffset
    ).pop();
  let ended: ProcessEnd;
  if (from === "running") {
    ended = "crashed";
    mark(ctx, "crash", p.endMs, k, "the process stopped holding the run (killed or lost)", null);
  } else if (from === "waiting") {
    ended = "waiting";
    const wait = ctx.run.waits.filter((w) =>
      w.startOffset >= p.startMs && w.startOffset <= next.startOffset
    )
      .pop();
    mark(
      ctx,
      "wait",
      wait ? wait.startOffset : p.endMs,
      k,
      wait ? wait.name : "waiting",
      wait ?? null,
    );
  } else if (from === "paused") {
    ended = "paused";
    const e = after(["interrupted"]);
    mark(ctx, "pause", e ? e.startOffset : p.endMs, k, e ? text(e) || e.name : "paused", e ?? null);
  } else if (from === "failed") {
    ended = "failed";
    const e = after(["failed"]);
    mark(ctx, "fail", e ? e.startOffset : p.endMs, k, e ? text(e) || e.name : "failed", e ?? null);
  } else {
    ended = "stopped";
  }
  mark(
    ctx,
    from === "waiting" ? "wake" : "resume",
    next.startOffset,
    k + 1,
    text(next) || next.name,
    next,
  );
  return ended;
}

/** Live-recorded runs: one band per run span of the run id. */
function fromRunSpans(ctx: RunContext): void {
  const spans = ctx.run.runs.slice().sort(byStart);
  spans.forEach((r, k) => {
    const next = spans[k + 1];
    const b = band(ctx, r, r.startOffset, ctx.end(r), next ? next.startOffset : Infinity);
    b.ended = endFromStatus(r);
    ctx.bands.push(b);
    const resumed = r.attributes[RUN_RESUMED] === true;
    const prev = ctx.bands[k - 1];
    const kind = !resumed ? "start" : prev?.ended === "waiting" ? "wake" : "resume";
    mark(ctx, kind, r.startOffset, k, resumed ? "resumed" : "started", r);
    if (prev && prev.ended === "running") {
      prev.ended = "crashed";
      mark(
        ctx,
        "crash",
        prev.endMs,
        k - 1,
        "the process stopped holding the run (killed or lost)",
        null,
      );
    }
  });
  for (const w of ctx.run.waits) {
    mark(ctx, "wait", w.startOffset, bandAt(ctx, w.startOffset), w.name, w);
  }
}

/**
 * Finds the processes that advanced each top-level run, and the markers between them.
 *
 * @param tree The trace's span tree.
 * @param perSpan Per-span times (an open span lasts until the end of the trace).
 * @returns Bands in run and time order, markers in time order.
 */
export function processTimeline(
  tree: SpanTree,
  perSpan: Record<string, SpanSummary>,
): ProcessTimeline {
  const bands: ProcessBand[] = [];
  const markers: ProcessMarker[] = [];
  const end = (s: Span) => s.startOffset + (perSpan[s.id]?.totalMs ?? s.duration ?? 0);
  for (const run of collectRuns(tree)) {
    const ctx: RunContext = { run, end, bands: [], markers: [] };
    if (run.boundaries.length > 0) fromEvents(ctx);
    else fromRunSpans(ctx);
    const offset = bands.length;
    bands.push(...ctx.bands);
    for (const m of ctx.markers) markers.push({ ...m, process: m.process + offset });
  }
  // Same moment (event times are whole milliseconds): in the order they happen to a run.
  markers.sort((a, b) => a.atMs - b.atMs || ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  return { bands, markers };
}

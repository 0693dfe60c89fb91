/**
 * Totals and analyses of a trace that count every thing exactly once.
 *
 * The Python viewer this replaces summed nested durations (a step inside a run counted twice),
 * counted tokens on every wrapper an SDK response passed through, and counted one exception once
 * per frame it crossed. Here:
 *
 * - time: each span has a *total* time (its own interval) and a *self* time (its interval minus
 *   the union of its children's intervals, so concurrent children are not subtracted twice);
 *   trace-wide time is wall time from the first start to the last end, never a sum of nested spans;
 * - tokens and cost: read from `llm` spans only, whatever attributes other spans carry;
 * - errors: one error is counted once, at its root cause (the deepest span that failed with it);
 *   ancestors that ended with the same error only propagated it.
 *
 * `summarize` builds the span tree once (`tree.ts`) and runs the phases over it, each in its own
 * private module: per-span times and subtree totals (`_summary_spans.ts`), the critical path,
 * errors, the counting pass for totals, models, repeated calls and tags (`_summary_usage.ts`),
 * loop exits, aggregates (`_summary_aggregates.ts`), the call tree (`_summary_call_tree.ts`) and
 * the processes of each run (`_summary_processes.ts`).
 *
 * @module
 */

import { aggregates } from "./_summary_aggregates.ts";
import { callTree } from "./_summary_call_tree.ts";
import { criticalPath } from "./_summary_critical_path.ts";
import { findErrors, isErrorSpan } from "./_summary_errors.ts";
import { processTimeline } from "./_summary_processes.ts";
import { exitUsage } from "./_summary_exits.ts";
import { spanFigures, timeline } from "./_summary_spans.ts";
import { countUsage, emptyTotals } from "./_summary_usage.ts";
import type { ExitKind } from "./exits.ts";
import type { SpanKind, TraceData } from "./model.ts";
import { spanTree } from "./tree.ts";

/** Token and cost totals of one span's subtree (the span and all its descendants). */
export interface SubtreeTotals {
  /** Input tokens of the `llm` spans in the subtree. */
  inputTokens: number;
  /** Output tokens of the `llm` spans in the subtree. */
  outputTokens: number;
  /** Known cost in USD of the `llm` spans in the subtree (unpriced calls add nothing). */
  costUsd: number;
  /** Number of `llm` spans in the subtree. */
  llmCalls: number;
  /** Number of `tool` spans in the subtree. */
  toolCalls: number;
  /** Root-cause errors inside the subtree. */
  errors: number;
}

/** Per-span figures. Times are monotonic milliseconds. */
export interface SpanSummary {
  /** The span's own duration; for a span still open, up to the last time seen in the trace. */
  totalMs: number;
  /** `totalMs` minus the time covered by at least one child (children clipped to the span). */
  selfMs: number;
  /** `true` when the span never ended (its times are estimated). */
  open: boolean;
  /** 0 for a root. */
  depth: number;
  /** Ids of the direct children, in start order. */
  children: string[];
  /** Totals of the span and its descendants. */
  subtree: SubtreeTotals;
  /** Index in `TraceSummary.callTree` of the node the span is merged into. */
  callNode: number;
}

/** Whole-trace totals. */
export interface TraceTotals {
  /** Number of spans. */
  spans: number;
  /** Number of spans of each kind. */
  byKind: Record<SpanKind, number>;
  /** Wall time of the trace: first span start to last span end (monotonic ms). */
  wallMs: number;
  /** Number of `llm` spans. */
  llmCalls: number;
  /** Number of `tool` spans. */
  toolCalls: number;
  /** Tool spans whose result was replayed from the store. */
  replayedToolCalls: number;
  /** Input tokens, `llm` spans only. */
  inputTokens: number;
  /** Output tokens, `llm` spans only. */
  outputTokens: number;
  /** `inputTokens + outputTokens`. */
  totalTokens: number;
  /** Input tokens served from a provider cache (part of `inputTokens`). */
  cachedInputTokens: number;
  /** Sum of the known costs in USD. */
  costUsd: number;
  /** `llm` spans with no cost (model not in the price table): their tokens count, cost does not. */
  unpricedLlmCalls: number;
  /** Distinct errors, each counted once at its root cause. */
  errors: number;
  /** Spans that never ended. */
  openSpans: number;
}

/** One stretch of the critical path: time during which `spanId` itself was what the trace waited on. */
export interface CriticalPathSegment {
  /** The span. */
  spanId: string;
  /** Its name. */
  name: string;
  /** Its kind. */
  kind: SpanKind;
  /** Milliseconds of the path spent in this span's own work (not in its children). */
  ms: number;
}

/** The chain of work that determined how long the trace took. */
export interface CriticalPath {
  /** Sum of the segments: at most `wallMs`, never a double count. */
  ms: number;
  /** Segments in time order; one span can appear more than once (before and after a child). */
  segments: CriticalPathSegment[];
}

/** An `llm` span ranked by tokens. */
export interface TokenHeavySpan {
  /** The span. */
  spanId: string;
  /** Its name. */
  name: string;
  /** `gen_ai.request.model`, or `"unknown"`. */
  model: string;
  /** Input tokens. */
  inputTokens: number;
  /** Output tokens. */
  outputTokens: number;
  /** Input + output. */
  totalTokens: number;
  /** Cost in USD, or `null` when the model has no known price. */
  costUsd: number | null;
}

/** Usage of one model across the trace. */
export interface ModelUsage {
  /** `gen_ai.request.model`, or `"unknown"`. */
  model: string;
  /** `gen_ai.provider.name` (or `gen_ai.system`) of its first call, or `null`. */
  provider: string | null;
  /** Number of calls. */
  calls: number;
  /** Input tokens. */
  inputTokens: number;
  /** Output tokens. */
  outputTokens: number;
  /** Cost in USD of the priced calls, or `null` when no call of this model was priced. */
  costUsd: number | null;
  /** Calls without a cost. */
  unpricedCalls: number;
}

/** The same call made more than once: same tool and arguments, or same model and messages. */
export interface RepeatedCall {
  /** `tool` or `llm`. */
  kind: "tool" | "llm";
  /** Tool name or model. */
  name: string;
  /** How many times. */
  count: number;
  /** The spans, in trace order. */
  spanIds: string[];
  /** How many of them were replayed from the store (tool calls only). */
  replayed: number;
}

/** Calls of one tool (or one model) made more than once, whatever their inputs. */
export interface RepeatedName {
  /** `tool` or `llm`. */
  kind: "tool" | "llm";
  /** Tool name or model. */
  name: string;
  /** How many calls. */
  count: number;
  /** Different inputs among the calls that recorded one (equal ones are `repeatedCalls`). */
  distinctInputs: number;
  /** How many were replayed from the store (tool calls only). */
  replayed: number;
  /** The first call, in trace order. */
  firstSpanId: string;
}

/** Profiler-style figures of a group of spans: same name, kind, model or tool. */
export interface SpanAggregate {
  /**
   * What the spans have in common: `name` (kind and name, a trailing counter read as `#`, so
   * `step 1`, `step 2`… are `step #`), `kind`, `model` (`llm` spans) or `tool` (`tool` spans).
   */
  by: "name" | "kind" | "model" | "tool";
  /** The spans' kind (of the first span, for a `name` group every span has it). */
  kind: SpanKind;
  /** The group: the name with `#`, the kind, the model or the tool name. */
  name: string;
  /** Number of spans. */
  count: number;
  /**
   * Wall time inside the group's spans; a span inside another span of the same group is not
   * counted again, so this is at most the trace's wall time for a group of sequential spans.
   */
  totalMs: number;
  /** Sum of the spans' self times. */
  selfMs: number;
  /** Median duration of one span. */
  p50Ms: number;
  /** 95th percentile duration (nearest rank). */
  p95Ms: number;
  /** Longest duration. */
  maxMs: number;
  /** Root-cause errors raised in these spans (propagations are not counted again). */
  errors: number;
  /** Input tokens of the group's `llm` spans. */
  inputTokens: number;
  /** Output tokens of the group's `llm` spans. */
  outputTokens: number;
  /** Known cost of the group's `llm` spans, USD. */
  costUsd: number;
  /** The first span of the group, in trace order. */
  firstSpanId: string;
}

/** The spans grouped four ways, each list most self time first. */
export interface Aggregates {
  /** By kind and name (`llm chat`, `step step #`). */
  byName: SpanAggregate[];
  /** By kind. */
  byKind: SpanAggregate[];
  /** `llm` spans by model. */
  byModel: SpanAggregate[];
  /** `tool` spans by tool name. */
  byTool: SpanAggregate[];
}

/** One frame of the call tree: the spans with the same call path (kinds and grouped names). */
export interface CallTreeNode {
  /** Index of the parent node in `callTree`, `-1` for a top-level node. */
  parent: number;
  /** The spans' kind. */
  kind: SpanKind;
  /** Their grouped name (`step #`); `…` for spans merged past the node limit. */
  name: string;
  /** 0 for a top-level node. */
  depth: number;
  /** Number of spans merged. */
  count: number;
  /** Sum of their self times. */
  selfMs: number;
  /** Sum of their total times (nested frames are inside it; for a tooltip, not for widths). */
  totalMs: number;
  /** `selfMs` plus the children's `inclusiveMs`: the frame's width in a flame graph. */
  inclusiveMs: number;
  /** Spans that failed (status or kind error), propagations included. */
  errorSpans: number;
  /** The first span merged into it. */
  firstSpanId: string;
  /** Loop exits its spans took, as `recur file:line:col` / `return file:line:col`. */
  exits: string[];
}

/** How a process stopped advancing a run. */
export type ProcessEnd =
  | "completed"
  | "failed"
  | "waiting"
  | "paused"
  | "cancelled"
  | "crashed"
  | "stopped"
  | "running";

/** A process that advanced a run: from its start or resume to the last thing it did. */
export interface ProcessBand {
  /** The run. */
  runId: string;
  /** The run's span (for a trace recorded live, the one this process recorded). */
  runSpanId: string;
  /** 1 for the process that started the run (or the first one seen), then one more per resume. */
  index: number;
  /**
   * The lease owner (`host:pid:token`) when the trace names it (`loom.lease.owner` on the event
   * that started the process, or the takeover that ended it), else `null`.
   */
  owner: string | null;
  /** Start, monotonic ms like `Span.startOffset`. */
  startMs: number;
  /** Its last work (steps, calls) before the next process took over; the run's end for the last. */
  endMs: number;
  /** Steps it ran. */
  steps: number;
  /** Lowest step index it ran, or `null`. */
  firstStep: number | null;
  /** Highest step index it ran, or `null`. */
  lastStep: number | null;
  /**
   * How it stopped: `crashed` when the next process resumed a run still marked running (the
   * process died or lost its lease), `waiting`/`paused`/`failed` from what was resumed, or the
   * run's status for the last process (`running`: it had not stopped when the trace was made).
   */
  ended: ProcessEnd;
}

/** A moment in a run's life: start, crash, resume, lease takeover, wait, wake-up, pause, failure. */
export interface ProcessMarker {
  /** What happened. */
  kind: "start" | "crash" | "resume" | "lease-takeover" | "wait" | "wake" | "pause" | "fail";
  /** The run. */
  runId: string;
  /** When, monotonic ms. */
  atMs: number;
  /** Index in `ProcessTimeline.bands` of the process it belongs to. */
  process: number;
  /** The last step committed before it, or `null`. */
  afterStep: number | null;
  /** What the trace says about it, e.g. `took over the lease from host:41:abc …`. */
  message: string;
  /** The span that records it, when there is one (a crash has none: it is inferred). */
  spanId: string | null;
}

/** The processes that advanced the trace's runs, and the markers between them. */
export interface ProcessTimeline {
  /** One band per process per top-level run, in run and time order. */
  bands: ProcessBand[];
  /** In time order. */
  markers: ProcessMarker[];
}

/** One distinct error, found at its root cause. */
export interface RootCauseError {
  /** The deepest span that failed with this error. */
  spanId: string;
  /** Error class name. */
  type: string;
  /** Error message. */
  message: string;
  /** Names of the spans from the root down to `spanId`. */
  path: string[];
  /** Ancestors that ended with the same error, innermost first: they only propagated it. */
  propagatedThrough: string[];
  /** `true` when some ancestor caught it (the trace root did not fail with it). */
  handled: boolean;
}

/** Errors of a trace. */
export interface ErrorAnalysis {
  /** Distinct errors (= `rootCauses.length`). */
  count: number;
  /** Spans with status `error` or kind `error`, propagations included. */
  errorSpans: number;
  /** The root causes, in trace order. */
  rootCauses: RootCauseError[];
}

/** A loop exit: how often it was taken, and whether the source has it. */
export interface ExitUsage {
  /** `recur` (the loop went on) or `return` (the loop ended). */
  kind: ExitKind;
  /** `file:line:col`. */
  location: string;
  /** The loop it belongs to, when known. */
  loop?: string;
  /** Times taken. */
  count: number;
  /** `count > 0`. An exit with `possible && !taken` is a branch that never fired. */
  taken: boolean;
  /** `true` when the exit was found in the source (`trace.meta.exits`). */
  possible: boolean;
}

/** A tag and the spans carrying it. */
export interface TagUsage {
  /** The label. */
  tag: string;
  /** Number of spans with it. */
  count: number;
  /** Those spans. */
  spanIds: string[];
}

/** Everything `summarize` computes. */
export interface TraceSummary {
  /** Whole-trace totals. */
  totals: TraceTotals;
  /** Per-span figures, by span id. */
  spans: Record<string, SpanSummary>;
  /** Ids of the root spans, in start order. */
  roots: string[];
  /** The critical path. */
  criticalPath: CriticalPath;
  /** The `llm` spans with the most tokens, most first (at most 10). */
  tokenHeavy: TokenHeavySpan[];
  /** Per-model usage, most tokens first. */
  models: ModelUsage[];
  /** Calls made more than once with the same input, most repeated first. */
  repeatedCalls: RepeatedCall[];
  /** Tools and models called more than once, whatever the inputs, most calls first. */
  repeatedNames: RepeatedName[];
  /** Profiler-style figures by name, kind, model and tool. */
  aggregates: Aggregates;
  /** The spans merged by call path, parents first: the flame graph and the call graph. */
  callTree: CallTreeNode[];
  /** The processes that advanced each run, with crashes, resumes, takeovers, waits and wake-ups. */
  processes: ProcessTimeline;
  /** Errors, each at its root cause. */
  errors: ErrorAnalysis;
  /** Tags, most used first. */
  tags: TagUsage[];
  /** Loop exits taken and possible, by location. */
  exits: ExitUsage[];
}

/**
 * Computes totals, per-span self and total times, the critical path, token-heavy spans, models,
 * repeated calls, root-cause errors, tags, loop exits, aggregates by name/kind/model/tool, the
 * call tree and the processes that advanced each run.
 *
 * @param trace A trace as recorded or loaded from `trace.json`.
 * @returns The summary; every figure counts each span, token and error once.
 *
 * @example
 * ```ts
 * import { Recorder, summarize } from "@loom/xray";
 * const rec = new Recorder({ name: "demo" });
 * rec.recordLlm({ model: "gpt-4o-mini", inputTokens: 10, outputTokens: 5 });
 * const s = summarize(rec.toJSON());
 * console.log(s.totals.totalTokens); // 15
 * ```
 */
export function summarize(trace: TraceData): TraceSummary {
  const tree = spanTree(trace.spans);
  const time = timeline(trace.spans);
  const errors = findErrors(tree);
  const spans = spanFigures(tree, time.interval, errors.rootCauseIds);
  const totals = emptyTotals(
    trace.spans.length,
    Math.max(0, time.end - time.start),
    errors.analysis.count,
  );
  const usage = countUsage(tree.order, totals);
  const calls = callTree(tree, spans, isErrorSpan);
  return {
    totals,
    spans,
    roots: tree.roots.map((r) => r.id),
    criticalPath: criticalPath(tree, time.interval),
    tokenHeavy: usage.tokenHeavy,
    models: usage.models,
    repeatedCalls: usage.repeatedCalls,
    repeatedNames: usage.repeatedNames,
    aggregates: aggregates(tree, spans, errors.rootCauseIds),
    callTree: calls.nodes,
    processes: processTimeline(tree, spans),
    errors: errors.analysis,
    tags: usage.tags,
    exits: exitUsage(tree.order, trace.meta.exits),
  };
}

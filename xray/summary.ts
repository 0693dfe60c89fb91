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
 * and loop exits.
 *
 * @module
 */

import { criticalPath } from "./_summary_critical_path.ts";
import { findErrors } from "./_summary_errors.ts";
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
  /** Calls made more than once, most repeated first. */
  repeatedCalls: RepeatedCall[];
  /** Errors, each at its root cause. */
  errors: ErrorAnalysis;
  /** Tags, most used first. */
  tags: TagUsage[];
  /** Loop exits taken and possible, by location. */
  exits: ExitUsage[];
}

/**
 * Computes totals, per-span self and total times, the critical path, token-heavy spans, models,
 * repeated calls, root-cause errors, tags and loop exits of a trace.
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
  return {
    totals,
    spans,
    roots: tree.roots.map((r) => r.id),
    criticalPath: criticalPath(tree, time.interval),
    tokenHeavy: usage.tokenHeavy,
    models: usage.models,
    repeatedCalls: usage.repeatedCalls,
    errors: errors.analysis,
    tags: usage.tags,
    exits: exitUsage(tree.order, trace.meta.exits),
  };
}

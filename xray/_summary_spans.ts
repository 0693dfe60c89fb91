/**
 * The per-span phase of `summarize`: each span's interval, its total time, its self time (its
 * interval minus the union of its children's, so concurrent children are not subtracted twice)
 * and the token, cost, call and error totals of its subtree.
 *
 * @module
 */

import { GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_OUTPUT_TOKENS } from "./attributes.ts";
import { costOfSpan, numberAttr } from "./_summary_attrs.ts";
import type { Span } from "./model.ts";
import type { SpanSummary, SubtreeTotals } from "./summary.ts";
import type { SpanTree } from "./tree.ts";

/** A span's `[start, end]` in monotonic milliseconds. */
export type Interval = [number, number];

/** When the trace ran and when each span did. */
export interface Timeline {
  /** First span start (0 for an empty trace). */
  start: number;
  /** Last span end (0 for an empty trace). */
  end: number;
  /** Each span's interval by id; an open span lasts until `end`. */
  interval: Map<string, Interval>;
}

/**
 * Places every span in time. An open span is taken to last until the last time seen anywhere in
 * the trace.
 *
 * @param spans The spans of the trace.
 * @returns The trace's start and end and each span's interval.
 */
export function timeline(spans: Span[]): Timeline {
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    start = Math.min(start, s.startOffset);
    end = Math.max(end, s.startOffset + (s.duration ?? 0));
  }
  if (spans.length === 0) start = end = 0;
  const interval = new Map<string, Interval>();
  for (const s of spans) {
    const spanEnd = s.duration === null ? Math.max(end, s.startOffset) : s.startOffset + s.duration;
    interval.set(s.id, [s.startOffset, spanEnd]);
  }
  return { start, end, interval };
}

const NO_KIDS: Span[] = [];

/** Total length of the union of intervals. */
function unionLength(intervals: Interval[]): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [a, b] of sorted) {
    if (a > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = a;
      curEnd = b;
    } else if (b > curEnd) {
      curEnd = b;
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

/** The span's own figures plus its children's subtree totals (already computed). */
function subtreeTotals(
  s: Span,
  kids: Span[],
  perSpan: Record<string, SpanSummary>,
  rootCauseIds: Set<string>,
): SubtreeTotals {
  const subtree: SubtreeTotals = {
    inputTokens: s.kind === "llm" ? numberAttr(s, GEN_AI_USAGE_INPUT_TOKENS) : 0,
    outputTokens: s.kind === "llm" ? numberAttr(s, GEN_AI_USAGE_OUTPUT_TOKENS) : 0,
    costUsd: costOfSpan(s) ?? 0,
    llmCalls: s.kind === "llm" ? 1 : 0,
    toolCalls: s.kind === "tool" ? 1 : 0,
    errors: rootCauseIds.has(s.id) ? 1 : 0,
  };
  for (const c of kids) {
    const cs = perSpan[c.id].subtree;
    subtree.inputTokens += cs.inputTokens;
    subtree.outputTokens += cs.outputTokens;
    subtree.costUsd += cs.costUsd;
    subtree.llmCalls += cs.llmCalls;
    subtree.toolCalls += cs.toolCalls;
    subtree.errors += cs.errors;
  }
  return subtree;
}

/**
 * Computes every reachable span's total and self time and its subtree totals, children before
 * parents (so the record lists them in that order).
 *
 * @param tree The trace's span tree.
 * @param interval Each span's interval, from `timeline`.
 * @param rootCauseIds The root-cause error spans, from `findErrors`.
 * @returns The per-span figures by span id.
 */
export function spanFigures(
  tree: SpanTree,
  interval: Map<string, Interval>,
  rootCauseIds: Set<string>,
): Record<string, SpanSummary> {
  const perSpan: Record<string, SpanSummary> = {};
  for (let i = tree.order.length - 1; i >= 0; i--) {
    const s = tree.order[i];
    const [start, end] = interval.get(s.id)!;
    const kids = tree.childrenOf.get(s.id) ?? NO_KIDS;
    const covered = kids.length === 0 ? 0 : unionLength(kids.map((c) => {
      const [a, b] = interval.get(c.id)!;
      return [Math.max(a, start), Math.min(b, end)] as Interval;
    }));
    const totalMs = Math.max(0, end - start);
    perSpan[s.id] = {
      totalMs,
      selfMs: Math.max(0, totalMs - covered),
      open: s.duration === null,
      depth: tree.depthOf.get(s.id) ?? 0,
      children: kids.length === 0 ? [] : kids.map((c) => c.id),
      subtree: subtreeTotals(s, kids, perSpan, rootCauseIds),
      callNode: -1, // set by the call-tree phase
    };
  }
  return perSpan;
}

/**
 * The aggregates phase of `summarize`: profiler-style figures per span name, kind, model and
 * tool (count, total and self time, p50/p95/max, errors, tokens, cost).
 *
 * Total time of a group counts a span only when no ancestor belongs to the same group, so a
 * `step` inside a `step` (or a recursive tool) is not counted twice; self times never overlap
 * within one span tree, so they simply add up.
 *
 * @module
 */

import {
  GEN_AI_REQUEST_MODEL,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
} from "./attributes.ts";
import { costOfSpan, numberAttr, stringAttr } from "./_summary_attrs.ts";
import type { Span } from "./model.ts";
import type { Aggregates, SpanAggregate, SpanSummary } from "./summary.ts";
import type { SpanTree } from "./tree.ts";

/**
 * The name spans are grouped under: a trailing counter (`step 12`, `tool_3`, `call#7`) becomes
 * `#`, so the steps of a loop are one group. The viewer's `groupName` is the same expression.
 *
 * @param name A span name.
 * @returns The group name.
 */
export function groupName(name: string): string {
  return name.replace(/([\s_#-])\d+$/, "$1#");
}

type By = SpanAggregate["by"];
const GROUPINGS: By[] = ["name", "kind", "model", "tool"];

/** The group key of a span in one grouping, or `null` when the span is not in that grouping. */
function keyOf(by: By, s: Span, groups: Map<string, string>): [key: string, label: string] | null {
  switch (by) {
    case "name": {
      let label = groups.get(s.name);
      if (label === undefined) groups.set(s.name, label = groupName(s.name));
      return [`${s.kind}\u0000${label}`, label];
    }
    case "kind":
      return [s.kind, s.kind];
    case "model": {
      if (s.kind !== "llm") return null;
      const model = stringAttr(s, GEN_AI_REQUEST_MODEL) ?? "unknown";
      return [model, model];
    }
    case "tool": {
      if (s.kind !== "tool") return null;
      const tool = stringAttr(s, GEN_AI_TOOL_NAME) ?? s.name;
      return [tool, tool];
    }
  }
}

/** A group being filled: the row, and its spans' durations for the percentiles. */
interface Acc {
  row: SpanAggregate;
  durations: number[];
}

/** The `q`-quantile (nearest rank) of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function newRow(by: By, s: Span, label: string): SpanAggregate {
  return {
    by,
    kind: s.kind,
    name: label,
    count: 0,
    totalMs: 0,
    selfMs: 0,
    p50Ms: 0,
    p95Ms: 0,
    maxMs: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    firstSpanId: s.id,
  };
}

/** Adds one span to its group; `outermost` is false when an ancestor is in the same group. */
function addSpan(
  acc: Acc,
  s: Span,
  fig: SpanSummary,
  outermost: boolean,
  rootCause: boolean,
): void {
  const r = acc.row;
  r.count++;
  if (outermost) r.totalMs += fig.totalMs;
  r.selfMs += fig.selfMs;
  acc.durations.push(fig.totalMs);
  if (rootCause) r.errors++;
  if (s.kind === "llm") {
    r.inputTokens += numberAttr(s, GEN_AI_USAGE_INPUT_TOKENS);
    r.outputTokens += numberAttr(s, GEN_AI_USAGE_OUTPUT_TOKENS);
    r.costUsd += costOfSpan(s) ?? 0;
  }
}

/** Sorts each group's durations into its percentiles and ranks the rows by self time. */
function finish(groups: Map<string, Acc>): SpanAggregate[] {
  const rows: SpanAggregate[] = [];
  for (const { row, durations } of groups.values()) {
    const sorted = Float64Array.from(durations).sort();
    row.p50Ms = quantile(sorted, 0.5);
    row.p95Ms = quantile(sorted, 0.95);
    row.maxMs = sorted.length ? sorted[sorted.length - 1] : 0;
    rows.push(row);
  }
  return rows.sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs || b.count - a.count);
}

/**
 * Groups the reachable spans by name, kind, model and tool.
 *
 * @param tree The trace's span tree.
 * @param perSpan Per-span times, from `spanFigures`.
 * @param rootCauseIds The root-cause error spans, from `findErrors`.
 * @returns One row per group in each grouping, most self time first.
 */
export function aggregates(
  tree: SpanTree,
  perSpan: Record<string, SpanSummary>,
  rootCauseIds: Set<string>,
): Aggregates {
  const groups = GROUPINGS.map(() => new Map<string, Acc>());
  // Groups open on the path from the root to the current span, per grouping: key -> depth count.
  const open = GROUPINGS.map(() => new Map<string, number>());
  const path: Array<{ depth: number; keys: Array<string | null> }> = [];
  const names = new Map<string, string>(); // name -> group name, computed once per name
  for (const s of tree.order) {
    const depth = tree.depthOf.get(s.id) ?? 0;
    while (path.length > 0 && path[path.length - 1].depth >= depth) {
      const left = path.pop()!;
      left.keys.forEach((k, g) => {
        if (k !== null) open[g].set(k, open[g].get(k)! - 1);
      });
    }
    const fig = perSpan[s.id];
    const keys = GROUPINGS.map((by, g) => {
      const kl = keyOf(by, s, names);
      if (kl === null) return null;
      const [key, label] = kl;
      let acc = groups[g].get(key);
      if (!acc) groups[g].set(key, acc = { row: newRow(by, s, label), durations: [] });
      addSpan(acc, s, fig, !open[g].get(key), rootCauseIds.has(s.id));
      open[g].set(key, (open[g].get(key) ?? 0) + 1);
      return key;
    });
    path.push({ depth, keys });
  }
  const [byName, byKind, byModel, byTool] = groups.map(finish);
  return { byName, byKind, byModel, byTool };
}

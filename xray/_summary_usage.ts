/**
 * The counting phase of `summarize`: one pass over the spans for the trace totals, tokens and
 * cost (read from `llm` spans only, whatever attributes other spans carry), per-model usage,
 * repeated calls and tags.
 *
 * @module
 */

import {
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_SYSTEM,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  LOOM_TOOL_REPLAYED,
} from "./attributes.ts";
import { costOfSpan, numberAttr, stringAttr } from "./_summary_attrs.ts";
import type { Span, SpanKind } from "./model.ts";
import type {
  ModelUsage,
  RepeatedCall,
  RepeatedName,
  TagUsage,
  TokenHeavySpan,
  TraceSummary,
  TraceTotals,
} from "./summary.ts";

const KINDS: SpanKind[] = ["run", "step", "llm", "tool", "branch", "error", "event"];

/** What the pass accumulates: the totals and what is ranked at the end. */
interface Tally {
  totals: TraceTotals;
  models: Map<string, ModelUsage>;
  llmSpans: TokenHeavySpan[];
  repeats: Map<string, RepeatedCall>;
  names: Map<string, RepeatedName & { inputs: Set<string> }>;
  tags: Map<string, TagUsage>;
}

/**
 * Totals with nothing counted yet.
 *
 * @param spans Number of spans in the trace.
 * @param wallMs Wall time of the trace.
 * @param errors Number of distinct errors.
 * @returns Totals to fill with `countUsage`.
 */
export function emptyTotals(spans: number, wallMs: number, errors: number): TraceTotals {
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<SpanKind, number>;
  return {
    spans,
    byKind,
    wallMs,
    llmCalls: 0,
    toolCalls: 0,
    replayedToolCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    cachedInputTokens: 0,
    costUsd: 0,
    unpricedLlmCalls: 0,
    errors,
    openSpans: 0,
  };
}

/** Groups identical calls (same kind, name and captured input) and calls of the same name. */
function addRepeat(
  t: Tally,
  kind: "tool" | "llm",
  name: string,
  input: unknown,
  spanId: string,
  replayed: boolean,
): void {
  const inputKey = input === undefined ? null : JSON.stringify(input) ?? "";
  const nameKey = `${kind}\u0000${name}`;
  const n = t.names.get(nameKey) ??
    {
      kind,
      name,
      count: 0,
      distinctInputs: 0,
      replayed: 0,
      firstSpanId: spanId,
      inputs: new Set(),
    };
  n.count++;
  if (replayed) n.replayed++;
  t.names.set(nameKey, n);
  // Without a recorded input two calls cannot be told apart, so they are not "the same".
  if (inputKey === null && kind === "llm") return;
  n.inputs.add(inputKey ?? "");
  const key = `${nameKey}\u0000${inputKey ?? ""}`;
  const r = t.repeats.get(key) ?? { kind, name, count: 0, spanIds: [], replayed: 0 };
  r.count++;
  r.spanIds.push(spanId);
  if (replayed) r.replayed++;
  t.repeats.set(key, r);
}

/** Adds one call to its model's usage. */
function addModelCall(
  t: Tally,
  s: Span,
  model: string,
  input: number,
  output: number,
  cost: number | null,
): void {
  const m = t.models.get(model) ?? {
    model,
    provider: stringAttr(s, GEN_AI_PROVIDER_NAME) ?? stringAttr(s, GEN_AI_SYSTEM) ?? null,
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: null,
    unpricedCalls: 0,
  };
  m.calls++;
  m.inputTokens += input;
  m.outputTokens += output;
  if (cost === null) m.unpricedCalls++;
  else m.costUsd = (m.costUsd ?? 0) + cost;
  t.models.set(model, m);
}

/** Counts an `llm` span: totals, its model, its tokens, and its messages for repeats. */
function countLlm(t: Tally, s: Span): void {
  const input = numberAttr(s, GEN_AI_USAGE_INPUT_TOKENS);
  const output = numberAttr(s, GEN_AI_USAGE_OUTPUT_TOKENS);
  const cost = costOfSpan(s);
  const model = stringAttr(s, GEN_AI_REQUEST_MODEL) ?? "unknown";
  t.totals.llmCalls++;
  t.totals.inputTokens += input;
  t.totals.outputTokens += output;
  t.totals.cachedInputTokens += numberAttr(s, GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS);
  if (cost === null) t.totals.unpricedLlmCalls++;
  else t.totals.costUsd += cost;
  addModelCall(t, s, model, input, output, cost);
  t.llmSpans.push({
    spanId: s.id,
    name: s.name,
    model,
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
    costUsd: cost,
  });
  addRepeat(t, "llm", model, s.input, s.id, false);
}

/** Counts a `tool` span: totals and its arguments for repeats. */
function countTool(t: Tally, s: Span): void {
  t.totals.toolCalls++;
  const replayed = s.attributes[LOOM_TOOL_REPLAYED] === true;
  if (replayed) t.totals.replayedToolCalls++;
  const name = stringAttr(s, GEN_AI_TOOL_NAME) ?? s.name;
  addRepeat(t, "tool", name, s.input, s.id, replayed);
}

/** Counts any span: its kind, whether it is open, its tags. */
function countSpan(t: Tally, s: Span): void {
  const byKind = t.totals.byKind;
  byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
  if (s.duration === null) t.totals.openSpans++;
  for (const tag of s.tags) {
    const u = t.tags.get(tag) ?? { tag, count: 0, spanIds: [] };
    u.count++;
    u.spanIds.push(s.id);
    t.tags.set(tag, u);
  }
}

/**
 * Counts spans into `totals` and ranks what the summary lists.
 *
 * @param order The spans to count, in trace order.
 * @param totals Totals from `emptyTotals`, filled in place.
 * @returns The token-heavy `llm` spans (at most 10), models, repeated calls (same input, and
 *   same name) and tags, ranked.
 */
export function countUsage(
  order: Span[],
  totals: TraceTotals,
): Pick<TraceSummary, "tokenHeavy" | "models" | "repeatedCalls" | "repeatedNames" | "tags"> {
  const t: Tally = {
    totals,
    models: new Map(),
    llmSpans: [],
    repeats: new Map(),
    names: new Map(),
    tags: new Map(),
  };
  for (const s of order) {
    countSpan(t, s);
    if (s.kind === "llm") countLlm(t, s);
    else if (s.kind === "tool") countTool(t, s);
  }
  totals.totalTokens = totals.inputTokens + totals.outputTokens;
  return {
    tokenHeavy: t.llmSpans
      .filter((s) => s.totalTokens > 0)
      .sort((a, b) => b.totalTokens - a.totalTokens)
      .slice(0, 10),
    models: [...t.models.values()].sort((a, b) =>
      b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens)
    ),
    repeatedCalls: [...t.repeats.values()].filter((r) => r.count > 1).sort((a, b) =>
      b.count - a.count
    ),
    repeatedNames: [...t.names.values()].filter((n) => n.count > 1).map(({ inputs, ...n }) => ({
      ...n,
      distinctInputs: inputs.size,
    })).sort((a, b) => b.count - a.count),
    tags: [...t.tags.values()].sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag)),
  };
}

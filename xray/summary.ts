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
  LOOM_COST_USD,
  LOOM_ERROR_PROPAGATED_FROM,
  LOOM_EXIT_KIND,
  LOOM_EXIT_LOCATION,
  LOOM_TOOL_REPLAYED,
} from "./attributes.ts";
import type { ExitKind, ExitSite } from "./exits.ts";
import type { Span, SpanKind, TraceData } from "./model.ts";

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

const KINDS: SpanKind[] = ["run", "step", "llm", "tool", "branch", "error", "event"];

/** Reads a numeric attribute, `0` when absent or not a finite number. */
function numberAttr(span: Span, key: string): number {
  const v = span.attributes[key];
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** Reads a string attribute, or `undefined`. */
function stringAttr(span: Span, key: string): string | undefined {
  const v = span.attributes[key];
  return typeof v === "string" ? v : undefined;
}

/** The cost of an `llm` span, or `null` when it carries none. */
function costOfSpan(span: Span): number | null {
  const v = span.attributes[LOOM_COST_USD];
  return span.kind === "llm" && typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** `true` for a span that records a failure. */
function isErrorSpan(span: Span): boolean {
  return span.status === "error" || span.kind === "error";
}

/** The identity used to recognise the same error on a parent: class name and message. */
function errorKey(span: Span): string {
  return `${span.error?.type ?? "Error"}\u0000${span.error?.message ?? ""}`;
}

/** Total length of the union of intervals. */
function unionLength(intervals: Array<[number, number]>): number {
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

/** Splits a `file:line:col` location into its file and line (the column is not compared). */
function fileAndLine(location: string): string {
  const m = /^(.*):(\d+):(\d+)$/.exec(location);
  return m ? `${m[1]}:${m[2]}` : location;
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
  const spans = trace.spans;
  const byId = new Map<string, Span>();
  for (const s of spans) byId.set(s.id, s);

  // Tree: a span whose parent is missing from the trace is treated as a root.
  const childrenOf = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const s of spans) {
    if (s.parentId !== null && byId.has(s.parentId) && s.parentId !== s.id) {
      const list = childrenOf.get(s.parentId) ?? [];
      list.push(s);
      childrenOf.set(s.parentId, list);
    } else {
      roots.push(s);
    }
  }
  const byStart = (a: Span, b: Span) => a.startOffset - b.startOffset;
  roots.sort(byStart);
  for (const list of childrenOf.values()) list.sort(byStart);

  // Intervals. An open span is taken to last until the last time seen anywhere in the trace.
  let traceStart = Infinity;
  let traceEnd = -Infinity;
  for (const s of spans) {
    traceStart = Math.min(traceStart, s.startOffset);
    traceEnd = Math.max(traceEnd, s.startOffset + (s.duration ?? 0));
  }
  if (spans.length === 0) traceStart = traceEnd = 0;
  const interval = new Map<string, [number, number]>();
  for (const s of spans) {
    const end = s.duration === null
      ? Math.max(traceEnd, s.startOffset)
      : s.startOffset + s.duration;
    interval.set(s.id, [s.startOffset, end]);
  }

  const perSpan: Record<string, SpanSummary> = {};
  const depthOf = new Map<string, number>();
  const order: Span[] = []; // pre-order, parents before children
  const stack: Array<[Span, number]> = roots.slice().reverse().map((r) => [r, 0]);
  while (stack.length > 0) {
    const [s, d] = stack.pop()!;
    depthOf.set(s.id, d);
    order.push(s);
    const kids = childrenOf.get(s.id) ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], d + 1]);
  }

  // Errors: a failing span propagates when it says so or a descendant failed with the same error.
  const failedBelow = new Map<string, Set<string>>(); // span id -> error keys failed in subtree
  const propagates = new Set<string>();
  for (let i = order.length - 1; i >= 0; i--) {
    const s = order[i];
    const keys = new Set<string>();
    for (const c of childrenOf.get(s.id) ?? []) {
      for (const k of failedBelow.get(c.id) ?? []) keys.add(k);
    }
    if (isErrorSpan(s)) {
      const marked = typeof s.attributes[LOOM_ERROR_PROPAGATED_FROM] === "string";
      if (marked || keys.has(errorKey(s))) propagates.add(s.id);
      keys.add(errorKey(s));
    }
    failedBelow.set(s.id, keys);
  }
  const rootCauses: RootCauseError[] = [];
  const isRootCause = new Set<string>();
  let errorSpans = 0;
  for (const s of order) {
    if (!isErrorSpan(s)) continue;
    errorSpans++;
    if (propagates.has(s.id)) continue;
    isRootCause.add(s.id);
    const path: string[] = [];
    const through: string[] = [];
    let chainOpen = true;
    let handled = false;
    let cur: Span | undefined = s;
    let top: Span = s;
    while (cur) {
      path.unshift(cur.name);
      top = cur;
      const parent: Span | undefined = cur.parentId !== null ? byId.get(cur.parentId) : undefined;
      if (parent && chainOpen) {
        const same = errorKey(parent) === errorKey(s) ||
          parent.attributes[LOOM_ERROR_PROPAGATED_FROM] === s.id;
        if (isErrorSpan(parent) && same) through.push(parent.id);
        else chainOpen = false;
      }
      cur = parent;
    }
    handled = !(top.id === s.id || through.includes(top.id));
    rootCauses.push({
      spanId: s.id,
      type: s.error?.type ?? "Error",
      message: s.error?.message ?? "",
      path,
      propagatedThrough: through,
      handled,
    });
  }

  // Per-span times and subtree totals, children before parents.
  for (let i = order.length - 1; i >= 0; i--) {
    const s = order[i];
    const [start, end] = interval.get(s.id)!;
    const kids = childrenOf.get(s.id) ?? [];
    const covered = unionLength(kids.map((c) => {
      const [a, b] = interval.get(c.id)!;
      return [Math.max(a, start), Math.min(b, end)] as [number, number];
    }));
    const subtree: SubtreeTotals = {
      inputTokens: s.kind === "llm" ? numberAttr(s, GEN_AI_USAGE_INPUT_TOKENS) : 0,
      outputTokens: s.kind === "llm" ? numberAttr(s, GEN_AI_USAGE_OUTPUT_TOKENS) : 0,
      costUsd: costOfSpan(s) ?? 0,
      llmCalls: s.kind === "llm" ? 1 : 0,
      toolCalls: s.kind === "tool" ? 1 : 0,
      errors: isRootCause.has(s.id) ? 1 : 0,
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
    const totalMs = Math.max(0, end - start);
    perSpan[s.id] = {
      totalMs,
      selfMs: Math.max(0, totalMs - covered),
      open: s.duration === null,
      depth: depthOf.get(s.id) ?? 0,
      children: kids.map((c) => c.id),
      subtree,
    };
  }

  // Totals.
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<SpanKind, number>;
  const totals: TraceTotals = {
    spans: spans.length,
    byKind,
    wallMs: Math.max(0, traceEnd - traceStart),
    llmCalls: 0,
    toolCalls: 0,
    replayedToolCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    cachedInputTokens: 0,
    costUsd: 0,
    unpricedLlmCalls: 0,
    errors: rootCauses.length,
    openSpans: 0,
  };
  const models = new Map<string, ModelUsage>();
  const llmSpans: TokenHeavySpan[] = [];
  const repeats = new Map<string, RepeatedCall>();
  const tags = new Map<string, TagUsage>();
  for (const s of order) {
    byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
    if (s.duration === null) totals.openSpans++;
    for (const t of s.tags) {
      const u = tags.get(t) ?? { tag: t, count: 0, spanIds: [] };
      u.count++;
      u.spanIds.push(s.id);
      tags.set(t, u);
    }
    if (s.kind === "llm") {
      const input = numberAttr(s, GEN_AI_USAGE_INPUT_TOKENS);
      const output = numberAttr(s, GEN_AI_USAGE_OUTPUT_TOKENS);
      const cost = costOfSpan(s);
      const model = stringAttr(s, GEN_AI_REQUEST_MODEL) ?? "unknown";
      totals.llmCalls++;
      totals.inputTokens += input;
      totals.outputTokens += output;
      totals.cachedInputTokens += numberAttr(s, GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS);
      if (cost === null) totals.unpricedLlmCalls++;
      else totals.costUsd += cost;
      const m = models.get(model) ?? {
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
      models.set(model, m);
      llmSpans.push({
        spanId: s.id,
        name: s.name,
        model,
        inputTokens: input,
        outputTokens: output,
        totalTokens: input + output,
        costUsd: cost,
      });
      // Without recorded messages two calls cannot be told apart, so they are not "the same".
      if (s.input !== undefined) addRepeat(repeats, "llm", model, s.input, s.id, false);
    } else if (s.kind === "tool") {
      totals.toolCalls++;
      const replayed = s.attributes[LOOM_TOOL_REPLAYED] === true;
      if (replayed) totals.replayedToolCalls++;
      addRepeat(
        repeats,
        "tool",
        stringAttr(s, GEN_AI_TOOL_NAME) ?? s.name,
        s.input,
        s.id,
        replayed,
      );
    }
  }
  totals.totalTokens = totals.inputTokens + totals.outputTokens;

  return {
    totals,
    spans: perSpan,
    roots: roots.map((r) => r.id),
    criticalPath: criticalPath(roots, childrenOf, interval),
    tokenHeavy: llmSpans
      .filter((s) => s.totalTokens > 0)
      .sort((a, b) => b.totalTokens - a.totalTokens)
      .slice(0, 10),
    models: [...models.values()].sort((a, b) =>
      b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens)
    ),
    repeatedCalls: [...repeats.values()].filter((r) => r.count > 1).sort((a, b) =>
      b.count - a.count
    ),
    errors: { count: rootCauses.length, errorSpans, rootCauses },
    tags: [...tags.values()].sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag)),
    exits: exitUsage(order, trace.meta.exits),
  };
}

/** Groups identical calls: same kind, name and captured input. */
function addRepeat(
  repeats: Map<string, RepeatedCall>,
  kind: "tool" | "llm",
  name: string,
  input: unknown,
  spanId: string,
  replayed: boolean,
): void {
  const key = `${kind}\u0000${name}\u0000${JSON.stringify(input) ?? ""}`;
  const r = repeats.get(key) ?? { kind, name, count: 0, spanIds: [], replayed: 0 };
  r.count++;
  r.spanIds.push(spanId);
  if (replayed) r.replayed++;
  repeats.set(key, r);
}

/**
 * Walks back from the end of the trace: at each moment the path is in the child that finished
 * last before the current cursor, else in the span itself. Each millisecond is attributed to
 * exactly one span, so the segments add up to at most the wall time.
 */
function criticalPath(
  roots: Span[],
  childrenOf: Map<string, Span[]>,
  interval: Map<string, [number, number]>,
): CriticalPath {
  const segments: CriticalPathSegment[] = []; // built backwards, reversed at the end
  const push = (s: Span | null, ms: number) => {
    if (s === null || ms <= 0) return;
    const last = segments[segments.length - 1];
    if (last && last.spanId === s.id) last.ms += ms;
    else segments.push({ spanId: s.id, name: s.name, kind: s.kind, ms });
  };
  // Children in order of decreasing end: the first one that starts before the cursor is the one
  // that finished last before it (later ones in this order end earlier), and one skipped because
  // it starts after the cursor stays skipped as the cursor only moves back. O(k log k) per span.
  const walk = (span: Span | null, kids: Span[], start: number, end: number) => {
    let cursor = end;
    const byEnd = kids.slice().sort((x, y) => interval.get(y.id)![1] - interval.get(x.id)![1]);
    for (const child of byEnd) {
      if (cursor <= start) break;
      const [a, b] = interval.get(child.id)!;
      if (b <= start) break; // this one and all after it ended before the window
      if (a >= cursor) continue;
      const childEnd = Math.min(b, cursor);
      push(span, cursor - childEnd);
      const childStart = Math.max(a, start);
      walk(child, childrenOf.get(child.id) ?? [], childStart, childEnd);
      cursor = childStart;
    }
    push(span, cursor - start);
  };
  if (roots.length > 0) {
    let start = Infinity;
    let end = -Infinity;
    for (const r of roots) {
      const [a, b] = interval.get(r.id)!;
      start = Math.min(start, a);
      end = Math.max(end, b);
    }
    walk(null, roots, start, end);
  }
  segments.reverse();
  return { ms: segments.reduce((n, s) => n + s.ms, 0), segments };
}

/** Merges the exits steps took (span attributes) with the exits the source has (`meta.exits`). */
function exitUsage(order: Span[], possibleMeta: unknown): ExitUsage[] {
  const usage = new Map<string, ExitUsage>(); // by kind + file:line
  if (Array.isArray(possibleMeta)) {
    for (const site of possibleMeta as ExitSite[]) {
      if (typeof site?.location !== "string" || (site.kind !== "recur" && site.kind !== "return")) {
        continue;
      }
      const key = `${site.kind} ${fileAndLine(site.location)}`;
      if (usage.has(key)) continue;
      usage.set(key, {
        kind: site.kind,
        location: site.location,
        ...(site.loop !== undefined ? { loop: site.loop } : {}),
        count: 0,
        taken: false,
        possible: true,
      });
    }
  }
  for (const s of order) {
    const kind = s.attributes[LOOM_EXIT_KIND];
    const location = s.attributes[LOOM_EXIT_LOCATION];
    if ((kind !== "recur" && kind !== "return") || typeof location !== "string") continue;
    const key = `${kind} ${fileAndLine(location)}`;
    const u = usage.get(key) ??
      { kind, location, count: 0, taken: false, possible: false };
    u.count++;
    u.taken = true;
    usage.set(key, u);
  }
  return [...usage.values()].sort((a, b) =>
    a.location.localeCompare(b.location, undefined, { numeric: true })
  );
}

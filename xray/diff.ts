/**
 * Step-by-step comparison of two traces: the regression gate for golden scenarios. Run a
 * scenario before and after a prompt or code change, diff the traces, and fail CI when tool
 * calls, their arguments, outputs or errors changed (minus the paths you `ignore`), or when
 * tokens or cost grew beyond a tolerance. Timing is never compared: it always differs.
 *
 * Spans are aligned by their locator: the chain of `kind:label` from the root, with `#n` for the
 * n-th sibling of the same kind and label (`run › step:plan › tool:read_file#2`). A tool's
 * label is its tool name, an LLM call's its model, other spans' their name; roots go by kind
 * alone, since a golden run and a new run usually have different names.
 *
 * @module
 */

import {
  GEN_AI_REQUEST_MODEL,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  LOOM_COST_USD,
} from "./attributes.ts";
import type { Span, SpanKind, TraceData } from "./model.ts";
import { summarize } from "./summary.ts";

/** An allowed increase: absolute (tokens or USD) or relative to the baseline (0.1 = 10%). */
export interface Tolerance {
  /** Allowed increase in the unit of the figure. */
  absolute?: number;
  /** Allowed increase as a fraction of the baseline. */
  relative?: number;
}

/** Options for `diffTraces`. */
export interface DiffOptions {
  /**
   * Field patterns to ignore. Dotted segments, `*` is one segment (or part of one), `**` any
   * number; a pattern matching the start of a path ignores everything under it. Matched
   * against `field`, `kind.field` and `kind:label.field`, e.g. `output.timestamp`,
   * `llm.output`, `tool:clock.**`, `event` (all event spans).
   */
  ignore?: string[];
  /** Allowed growth of total cost (USD). @default no increase */
  maxCostIncrease?: Tolerance;
  /** Allowed growth of total tokens (input + output). @default no increase */
  maxTokenIncrease?: Tolerance;
}

/** One difference between the traces. */
export interface Change {
  /** Where: the span's locator (`step:plan › tool:read_file`). */
  locator: string;
  /** Span kind. */
  kind: SpanKind;
  /** Span label (tool name, model, or name). */
  label: string;
  /** `added` (only in b), `removed` (only in a), `changed`. */
  change: "added" | "removed" | "changed";
  /** Dotted field path (`args.path`, `output`, `error.message`); `""` for a whole span. */
  field: string;
  /** Value in a. */
  a?: unknown;
  /** Value in b. */
  b?: unknown;
  /** `fail`: counts against the gate; `info`: shown only (per-span tokens and cost). */
  severity: "fail" | "info";
  /** Matched an ignore pattern. */
  ignored: boolean;
}

/** A budget check on a total. */
export interface BudgetCheck {
  /** Baseline total. */
  a: number;
  /** New total. */
  b: number;
  /** `b - a`. */
  increase: number;
  /** The largest increase allowed. */
  allowed: number;
  /** `increase <= allowed`. */
  ok: boolean;
}

/** The result of `diffTraces`. */
export interface DiffResult {
  /** All differences in step order, ignored ones included (flagged). */
  changes: Change[];
  /** Changes that fail the gate: severity `fail` and not ignored. */
  failing: Change[];
  /** Total tokens, a vs b. */
  tokens: BudgetCheck;
  /**
   * Total known cost in USD, a vs b. When b has LLM calls without a price, the check passes
   * only if a had the same number (cost cannot be compared honestly otherwise).
   */
  cost: BudgetCheck & { unpricedA: number; unpricedB: number };
  /** `true` when nothing fails: no failing change and both budgets hold. */
  ok: boolean;
}

/**
 * Parses a tolerance written on the command line: `10%` is relative, `0.05` absolute.
 *
 * @param text The flag value.
 * @returns The tolerance.
 * @throws {RangeError} When it is not a non-negative number or percentage.
 */
export function parseTolerance(text: string): Tolerance {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (pct) return { relative: Number(pct[1]) / 100 };
  if (/^\d+(?:\.\d+)?$/.test(t)) return { absolute: Number(t) };
  throw new RangeError(
    `"${text}" is not a tolerance: give a number (e.g. 0.05) or a percentage (e.g. 10%)`,
  );
}

/** The largest allowed increase for a baseline value. */
function allowedIncrease(base: number, tol: Tolerance | undefined): number {
  if (!tol) return 0;
  return Math.max(tol.absolute ?? 0, (tol.relative ?? 0) * base);
}

// A float tolerance so 0.1 + 0.2 style sums do not fail a zero-increase budget.
const EPSILON = 1e-9;

/** One span with its locator. */
interface Located {
  span: Span;
  locator: string;
  label: string;
}

/** A span's label: tool name, model, or name. */
function labelOf(span: Span): string {
  const a = span.attributes;
  if (span.kind === "tool" && typeof a[GEN_AI_TOOL_NAME] === "string") {
    return a[GEN_AI_TOOL_NAME] as string;
  }
  if (span.kind === "llm" && typeof a[GEN_AI_REQUEST_MODEL] === "string") {
    return a[GEN_AI_REQUEST_MODEL] as string;
  }
  return span.name;
}

/** Pre-order list of spans with locators. */
function locate(trace: TraceData): Located[] {
  const kids = new Map<string | null, Span[]>();
  const ids = new Set(trace.spans.map((s) => s.id));
  for (const s of trace.spans) {
    const p = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    const list = kids.get(p) ?? [];
    list.push(s);
    kids.set(p, list);
  }
  for (const list of kids.values()) list.sort((x, y) => x.startOffset - y.startOffset);
  const out: Located[] = [];
  const visit = (parentId: string | null, prefix: string) => {
    const seen = new Map<string, number>();
    for (const s of kids.get(parentId) ?? []) {
      const label = labelOf(s);
      // Roots align by kind alone: a golden run and a new run usually differ in name (run id).
      const key = parentId === null ? s.kind : `${s.kind}:${label}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      const locator = `${prefix}${prefix ? " › " : ""}${key}${n > 1 ? `#${n}` : ""}`;
      out.push({ span: s, locator, label });
      visit(s.id, locator);
    }
  };
  visit(null, "");
  return out;
}

/** Compiles one ignore pattern into a matcher of dotted paths (prefix match). */
function compilePattern(pattern: string): (segments: string[]) => boolean {
  const parts = pattern.split(".").filter((p) => p !== "");
  const res = parts.map((p) =>
    p === "**"
      ? null
      : new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`)
  );
  const match = (i: number, segs: string[], j: number): boolean => {
    if (i === res.length) return true; // pattern used up: prefix match
    const re = res[i];
    if (re === null) {
      for (let k = j; k <= segs.length; k++) if (match(i + 1, segs, k)) return true;
      return false;
    }
    return j < segs.length && re.test(segs[j]) && match(i + 1, segs, j + 1);
  };
  return (segs) => match(0, segs, 0);
}

/** Compares JSON data, pushing one change per differing leaf (at most `limit`). */
function compareValues(
  a: unknown,
  b: unknown,
  path: string[],
  push: (path: string[], a: unknown, b: unknown) => void,
): void {
  if (Object.is(a, b)) return;
  const bothObjects = typeof a === "object" && a !== null && typeof b === "object" && b !== null &&
    Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) {
    push(path, a, b);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) compareValues(a[i], b[i], [...path, String(i)], push);
    return;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) compareValues(ao[k], bo[k], [...path, k], push);
}

/** What is compared per kind: field name → value. */
function fieldsOf(span: Span): Record<string, unknown> {
  const f: Record<string, unknown> = {
    status: span.status,
    error: span.error ? { type: span.error.type, message: span.error.message } : undefined,
  };
  if (span.kind === "tool") {
    f.args = span.input;
    f.result = span.output;
  } else if (span.kind === "llm") {
    f.model = span.attributes[GEN_AI_REQUEST_MODEL];
    f.messages = span.input;
    f.response = span.output;
  } else {
    f.input = span.input;
    f.output = span.output;
  }
  return f;
}

/** Per-span token and cost figures (informational). */
function usageOf(span: Span): Record<string, unknown> {
  if (span.kind !== "llm") return {};
  return {
    "tokens.input": span.attributes[GEN_AI_USAGE_INPUT_TOKENS],
    "tokens.output": span.attributes[GEN_AI_USAGE_OUTPUT_TOKENS],
    cost: span.attributes[LOOM_COST_USD],
  };
}

/** Tells whether a change is ignored: a span's kind and label, and the changed field. */
type IgnoreCheck = (kind: SpanKind, label: string, field: string) => boolean;

/** Compiles the ignore patterns, matched against `field`, `kind.field` and `kind:label.field`. */
function ignoreCheck(patterns: string[]): IgnoreCheck {
  const matchers = patterns.map(compilePattern);
  return (kind, label, field) => {
    const fieldSegs = field === "" ? [] : field.split(".");
    const candidates = [
      ...(fieldSegs.length > 0 ? [fieldSegs] : []),
      [kind, ...fieldSegs],
      [`${kind}:${label}`, ...fieldSegs],
    ];
    return matchers.some((m) => candidates.some((c) => m(c)));
  };
}

/** Records one change of span `x`, sorted by `order` (a step's position). */
type AddChange = (
  order: number,
  x: Located,
  change: Change["change"],
  field: string,
  va: unknown,
  vb: unknown,
  severity: Change["severity"],
) => void;

/** Adds the changes between span `x` of a and span `y` of b, found at position `j` of b. */
function pairChanges(x: Located, y: Located, j: number, add: AddChange): void {
  const fa = fieldsOf(x.span);
  const fb = fieldsOf(y.span);
  for (const k of new Set([...Object.keys(fa), ...Object.keys(fb)])) {
    compareValues(
      fa[k],
      fb[k],
      [k],
      (path, va, vb) => add(j, x, "changed", path.join("."), va, vb, "fail"),
    );
  }
  const ua = usageOf(x.span);
  const ub = usageOf(y.span);
  for (const k of new Set([...Object.keys(ua), ...Object.keys(ub)])) {
    if (!Object.is(ua[k], ub[k])) add(j, x, "changed", k, ua[k], ub[k], "info");
  }
}

/** All changes between the located spans of a and b, in step order (b's). */
function spanChanges(la: Located[], lb: Located[], isIgnored: IgnoreCheck): Change[] {
  const inA = new Map(la.map((x, i) => [x.locator, i]));
  const inB = new Map(lb.map((x, i) => [x.locator, i]));
  const keyed: Array<{ order: number; change: Change }> = [];
  const add: AddChange = (order, x, change, field, va, vb, severity) => {
    keyed.push({
      order,
      change: {
        locator: x.locator,
        kind: x.span.kind,
        label: x.label,
        change,
        field,
        ...(va !== undefined ? { a: va } : {}),
        ...(vb !== undefined ? { b: vb } : {}),
        severity,
        ignored: isIgnored(x.span.kind, x.label, field),
      },
    });
  };

  // Spans only in a sort just after the last span before them that b also has.
  let lastMatched = -1;
  la.forEach((x, i) => {
    const j = inB.get(x.locator);
    if (j === undefined) {
      add(lastMatched + 0.5 + i * 1e-6, x, "removed", "", undefined, undefined, "fail");
      return;
    }
    lastMatched = j;
    pairChanges(x, lb[j], j, add);
  });
  lb.forEach((y, j) => {
    if (!inA.has(y.locator)) add(j, y, "added", "", undefined, undefined, "fail");
  });
  keyed.sort((p, q) => p.order - q.order);
  return keyed.map((k) => k.change);
}

/** The token and cost budget checks of b against a. */
function budgets(
  a: TraceData,
  b: TraceData,
  options: DiffOptions,
): Pick<DiffResult, "tokens" | "cost"> {
  const ta = summarize(a).totals;
  const tb = summarize(b).totals;
  const budget = (x: number, y: number, tol: Tolerance | undefined): BudgetCheck => {
    const allowed = allowedIncrease(x, tol);
    return { a: x, b: y, increase: y - x, allowed, ok: y - x <= allowed + EPSILON };
  };
  const tokens = budget(ta.totalTokens, tb.totalTokens, options.maxTokenIncrease);
  const costCheck = budget(ta.costUsd, tb.costUsd, options.maxCostIncrease);
  const cost = {
    ...costCheck,
    ok: costCheck.ok && tb.unpricedLlmCalls <= ta.unpricedLlmCalls,
    unpricedA: ta.unpricedLlmCalls,
    unpricedB: tb.unpricedLlmCalls,
  };
  return { tokens, cost };
}

/**
 * Compares two traces step by step.
 *
 * @param a The baseline (golden) trace.
 * @param b The new trace.
 * @param options Ignore patterns and budgets.
 * @returns Changes, budget checks and the verdict (`ok`).
 *
 * @example
 * ```ts
 * import { diffTraces, Recorder } from "@loom/xray";
 * const run = (path: string) => {
 *   const rec = new Recorder({ name: "golden" });
 *   rec.recordTool({ parent: null, name: "read_file", args: { path }, result: "x" });
 *   return rec.toJSON();
 * };
 * const d = diffTraces(run("a.txt"), run("b.txt"));
 * d.ok; // false
 * d.failing[0].field; // "args.path"
 * ```
 */
export function diffTraces(a: TraceData, b: TraceData, options: DiffOptions = {}): DiffResult {
  const isIgnored = ignoreCheck(options.ignore ?? []);
  const changes = spanChanges(locate(a), locate(b), isIgnored);
  const failing = changes.filter((c) => c.severity === "fail" && !c.ignored);
  const { tokens, cost } = budgets(a, b, options);
  return { changes, failing, tokens, cost, ok: failing.length === 0 && tokens.ok && cost.ok };
}

/** Short JSON of a value for one line of output. */
function short(v: unknown, max = 80): string {
  if (v === undefined) return "(none)";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** `+12.5%` or `+150`. */
function signed(n: number, digits = 0): string {
  return `${n >= 0 ? "+" : ""}${n.toFixed(digits)}`;
}

/**
 * Formats a diff for the terminal: one block per step with its changes, then the budgets and
 * the verdict.
 *
 * @param result From `diffTraces`.
 * @param names How to call the two traces. @default ["a", "b"]
 * @returns Text ending in a newline.
 */
export function formatDiff(result: DiffResult, names: [string, string] = ["a", "b"]): string {
  const lines: string[] = [];
  const shown = result.changes.filter((c) => !c.ignored);
  const ignored = result.changes.length - shown.length;
  lines.push(
    `${names[0]} → ${names[1]}: ${result.failing.length} failing change(s)` +
      (ignored > 0 ? `, ${ignored} ignored` : "") +
      (shown.length > result.failing.length
        ? `, ${shown.length - result.failing.length} informational`
        : ""),
  );
  let current = "";
  for (const c of shown) {
    if (c.change !== "changed") {
      lines.push(`${c.change === "added" ? "+" : "-"} ${c.locator} (${c.change})`);
      current = "";
      continue;
    }
    if (c.locator !== current) {
      lines.push(`~ ${c.locator}`);
      current = c.locator;
    }
    lines.push(
      `    ${c.severity === "info" ? "·" : "!"} ${c.field}: ${short(c.a)} → ${short(c.b)}`,
    );
  }
  const pct = (x: BudgetCheck) => x.a > 0 ? ` (${signed((x.increase / x.a) * 100, 1)}%)` : "";
  const t = result.tokens;
  lines.push(
    `tokens: ${t.a} → ${t.b}, ${signed(t.increase)}${pct(t)}, allowed +${Math.round(t.allowed)} ${
      t.ok ? "ok" : "EXCEEDED"
    }`,
  );
  const c = result.cost;
  const unpriced = c.unpricedB > 0 || c.unpricedA > 0
    ? `, unpriced calls ${c.unpricedA} → ${c.unpricedB}`
    : "";
  lines.push(
    `cost: $${c.a.toFixed(6)} → $${c.b.toFixed(6)}, ${c.increase >= 0 ? "+" : "-"}$${
      Math.abs(c.increase).toFixed(6)
    }${pct(c)}, allowed +$${c.allowed.toFixed(6)}${unpriced} ${c.ok ? "ok" : "EXCEEDED"}`,
  );
  lines.push(result.ok ? "result: same within tolerances" : "result: DIFFERENT beyond tolerances");
  return lines.join("\n") + "\n";
}

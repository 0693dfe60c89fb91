/**
 * Golden traces: a scenario's trace, normalised so that it is the same on every run (times
 * become the order of events, ids are renumbered, temp paths, ports and lease owners become
 * placeholders), stored as JSON next to the scenario and compared through the xray diff.
 *
 * @module
 */
import { hostname } from "node:os";
import { dirname } from "node:path";
import {
  type Change,
  type DiffOptions,
  diffTraces,
  formatDiff,
  LOOM_TOOL_IDEMPOTENCY_KEY,
  type Span,
  type TraceData,
} from "@loom/xray";
import { shortJson } from "./json_diff.ts";
import { callerOrigin, resolveNear } from "./origin.ts";

/** What a golden comparison needs from a scenario run. */
export interface GoldenSubject {
  /** Scenario name (used in messages). */
  name: string;
  /** The normalised trace. */
  trace: TraceData;
  /** File URL of the module that declared the scenario (fallback for relative golden paths). */
  origin?: string;
}

/** Options of `assertMatchesGolden`. */
export interface GoldenOptions extends DiffOptions {
  /**
   * Write the current trace as the new golden instead of comparing.
   * @default true when `LOOM_UPDATE_GOLDEN=1` is set or `--update` follows `--` on the
   * `deno test` command line
   */
  update?: boolean;
}

/** Thrown when a trace differs from its golden file; `message` says where, in words. */
export class GoldenMismatchError extends Error {
  /** The failing changes. */
  readonly changes: Change[];
  /** Creates the error. */
  constructor(message: string, changes: Change[]) {
    super(message);
    this.name = "GoldenMismatchError";
    this.changes = changes;
  }
}

/** Attributes whose values depend on timing (backoff jitter), dropped when normalising. */
const VOLATILE_ATTRIBUTES = new Set(["loom.retry_in_ms"]);

/**
 * Replaces the run-to-run and machine-to-machine noise in strings with placeholders: `dirs`
 * (the scenario's temp dir) by `<dir>`, each of `paths` by its placeholder, the working
 * directory by `<cwd>`, lease owners, local ports and ISO timestamps.
 */
export function stringNormalizer(
  dirs: string[],
  paths: Record<string, string> = {},
): (s: string) => string {
  const host = hostname().replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const owner = new RegExp(`${host}:\\d+:[a-z0-9_]+`, "g");
  const known: [string, string][] = [
    ...dirs.map((d): [string, string] => [d, "<dir>"]),
    ...Object.entries(paths),
    [Deno.cwd(), "<cwd>"],
  ];
  // Longest first, so a path inside another is replaced as a whole.
  known.sort((a, b) => b[0].length - a[0].length);
  return (s) => {
    let out = s;
    for (const [path, placeholder] of known) {
      if (path.length > 1) out = out.split(path).join(placeholder);
    }
    return out.replace(owner, "<owner>")
      .replace(/\b(127\.0\.0\.1|localhost):\d+/g, "$1:<port>")
      .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, "<time>");
  };
}

function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === "string") return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, mapStrings(v, fn)]),
    );
  }
  return value;
}

/** Sibling groups in a stable order: steps, then calls (LLM, tools, child runs), errors, events. */
const KIND_ORDER: Record<string, number> = { step: 0, error: 2, event: 3 };

/**
 * Spans in pre-order. Siblings go by kind group, then start time, then recorded order: events
 * and steps that start in the same millisecond would otherwise swap places from run to run.
 */
function preorder(spans: Span[], callOrder?: Map<string, number>): { s: Span; i: number }[] {
  // Calls are stored with millisecond start times; within one millisecond the store's write
  // order (when known) is the order the step made them.
  const seq = (s: Span) => {
    const key = s.attributes[LOOM_TOOL_IDEMPOTENCY_KEY];
    return typeof key === "string" ? callOrder?.get(key) : undefined;
  };
  const byTime = (x: Span, y: Span) => {
    const a = seq(x);
    const b = seq(y);
    return a !== undefined && b !== undefined ? a - b : x.startOffset - y.startOffset;
  };
  const ids = new Set(spans.map((s) => s.id));
  const kids = new Map<string | null, { s: Span; i: number }[]>();
  spans.forEach((s, i) => {
    const p = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    kids.set(p, [...(kids.get(p) ?? []), { s, i }]);
  });
  const out: { s: Span; i: number }[] = [];
  const visit = (parent: string | null) => {
    const list = (kids.get(parent) ?? []).sort((x, y) =>
      (KIND_ORDER[x.s.kind] ?? 1) - (KIND_ORDER[y.s.kind] ?? 1) ||
      byTime(x.s, y.s) || x.i - y.i
    );
    for (const k of list) {
      out.push(k);
      visit(k.s.id);
    }
  };
  visit(null);
  return out;
}

/**
 * Normalises a trace for storage and comparison: spans in a stable pre-order (see `preorder`), ids `s1`, `s2`, …, every time replaced by that order, durations zero,
 * stack traces and timing-dependent attributes dropped, and paths, ports, lease owners and ISO
 * timestamps in strings replaced by placeholders (see `stringNormalizer`).
 *
 * @param trace The trace.
 * @param options `name` for the trace; `dirs` to replace by `<dir>`; `paths`, more absolute
 *   paths and their placeholders (see `stringNormalizer`); `callOrder`, idempotency
 *   key → position, orders calls that started in the same millisecond.
 * @returns A new trace; the input is not changed.
 */
export function normalizeTrace(
  trace: TraceData,
  options: {
    name?: string;
    dirs?: string[];
    paths?: Record<string, string>;
    callOrder?: Map<string, number>;
  } = {},
): TraceData {
  const norm = stringNormalizer(options.dirs ?? [], options.paths);
  const order = preorder(trace.spans, options.callOrder);
  const ids = new Map(order.map(({ s }, n) => [s.id, `s${n + 1}`]));
  const spans: Span[] = order.map(({ s }, n) => {
    const attributes: Span["attributes"] = {};
    for (const [k, v] of Object.entries(s.attributes)) {
      if (!VOLATILE_ATTRIBUTES.has(k)) attributes[k] = mapStrings(v, norm) as typeof v;
    }
    const span: Span = {
      id: ids.get(s.id)!,
      parentId: s.parentId === null ? null : ids.get(s.parentId) ?? null,
      kind: s.kind,
      name: norm(s.name),
      startTime: n,
      endTime: s.endTime === null ? null : n,
      startOffset: n,
      duration: s.duration === null ? null : 0,
      status: s.status,
      attributes,
      tags: [...s.tags],
      meta: {},
    };
    if (s.input !== undefined) span.input = mapStrings(s.input, norm);
    if (s.output !== undefined) span.output = mapStrings(s.output, norm);
    if (s.error) span.error = { type: s.error.type, message: norm(s.error.message) };
    return span;
  });
  return {
    format: trace.format,
    traceId: "00000000000000000000000000000000",
    name: options.name ?? norm(trace.name),
    startTime: 0,
    spans,
    redactions: trace.redactions,
    meta: {},
  };
}

/** True when golden files should be rewritten rather than compared. */
export function updateRequested(): boolean {
  return Deno.env.get("LOOM_UPDATE_GOLDEN") === "1" || Deno.args.includes("--update");
}

/** "tool call `fetch`", "step 3", "LLM call (gpt-4o-mini)", … */
function spanInWords(c: Change): string {
  switch (c.kind) {
    case "tool":
      return `tool call "${c.label}"`;
    case "llm":
      return `LLM call (${c.label})`;
    case "step":
      return c.label;
    case "run":
      return "the run";
    case "error":
      return `error "${c.label}"`;
    case "event":
      return `event "${c.label}"`;
    default:
      return `${c.kind} "${c.label}"`;
  }
}

/** "a tool call", "an event", "the run". */
function article(words: string): string {
  if (words.startsWith("the ")) return words;
  return `${/^[aeiouAEIOU]/.test(words) || words.startsWith("LLM") ? "an" : "a"} ${words}`;
}

/** The enclosing step of a locator, e.g. `step 2`, or `""`. */
function stepOf(locator: string): string {
  const m = /step:(step \d+)/.exec(locator);
  return m ? m[1] : "";
}

/**
 * The first divergence of a diff in one sentence.
 *
 * @param c The first failing change.
 * @returns E.g. `in step 2 the new run makes an extra tool call "fetch" (#2) that the golden run does not make`.
 */
export function divergenceInWords(c: Change): string {
  const step = stepOf(c.locator);
  const where = step && c.kind !== "step" ? `in ${step} ` : "";
  const nth = /#(\d+)$/.exec(c.locator);
  const which = nth ? ` (#${nth[1]} of its kind there)` : "";
  if (c.change === "added") {
    return `${where}the new run has an extra ${
      spanInWords(c)
    }${which} that the golden run does not have`;
  }
  if (c.change === "removed") {
    return `${where}the golden run has ${
      article(spanInWords(c))
    }${which} that the new run no longer has`;
  }
  const field = c.field === "" ? "" : ` ${c.field}`;
  return `${where}the${field} of ${spanInWords(c)}${which} changed: golden ${shortJson(c.a)}, now ${
    shortJson(c.b)
  }`;
}

/**
 * The change that explains the others: the earliest step, and within it the deepest span (a
 * tool's arguments explain the step's output, which explains the run's result).
 *
 * @param failing Failing changes in diff order.
 * @returns The change to name first, or `undefined` when there is none.
 */
export function firstDivergence(failing: Change[]): Change | undefined {
  const stepNo = (c: Change) => {
    const m = /step:step (\d+)/.exec(c.locator);
    return m ? Number(m[1]) : Infinity;
  };
  const depth = (c: Change) => c.locator.split(" › ").length;
  return failing
    .map((c, i) => ({ c, i }))
    .sort((x, y) => stepNo(x.c) - stepNo(y.c) || depth(y.c) - depth(x.c) || x.i - y.i)[0]?.c;
}

/**
 * Asserts that a scenario's trace matches a golden file, or (in update mode) writes it.
 * Compares steps, tool calls with their arguments and results, outputs, errors, LLM messages,
 * and the token and cost totals, through `diffTraces`. The failure message starts with the
 * first divergence in words, followed by the full diff.
 *
 * @param run The scenario run (or anything with `name`, `trace`, `origin`).
 * @param path Golden file; relative paths resolve against the file that calls this.
 * @param options Ignore patterns, token/cost tolerances, update mode.
 * @throws {GoldenMismatchError} When the traces differ.
 */
export async function assertMatchesGolden(
  run: GoldenSubject,
  path: string | URL,
  options: GoldenOptions = {},
): Promise<void> {
  const file = resolveNear(path, callerOrigin() ?? run.origin);
  const current = normalizeTrace(run.trace, { name: run.name });
  if (options.update ?? updateRequested()) {
    await Deno.mkdir(dirname(file), { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(current, null, 2) + "\n");
    return;
  }
  let golden: TraceData;
  try {
    golden = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new GoldenMismatchError(
        `scenario "${run.name}": golden file ${file} does not exist; create it with LOOM_UPDATE_GOLDEN=1`,
        [],
      );
    }
    throw e;
  }
  const result = diffTraces(golden, current, options);
  if (result.ok) return;
  const first = firstDivergence(result.failing);
  const headline = first
    ? divergenceInWords(first)
    : !result.tokens.ok
    ? `total tokens grew from ${result.tokens.a} to ${result.tokens.b}`
    : `total cost grew from $${result.cost.a.toFixed(6)} to $${result.cost.b.toFixed(6)}`;
  throw new GoldenMismatchError(
    `scenario "${run.name}" diverged from golden ${file}: ${headline}.\n` +
      formatDiff(result, ["golden", "now"]) +
      "If the change is intended, accept it with LOOM_UPDATE_GOLDEN=1 (or `deno test -A FILE -- --update`).",
    result.failing,
  );
}

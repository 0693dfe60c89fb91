/**
 * The offline HTML viewer: one self-contained file (CSS, script and data inline, no URL of any
 * kind), readable at 10,000+ spans.
 *
 * Safety: the trace is embedded as JSON in a `<script type="application/json">` element with
 * `<`, `>`, `&`, U+2028 and U+2029 written as `\u` escapes (see `escape.ts`), and the viewer
 * puts data on the page only as text. On top of that the page carries a Content-Security-Policy
 * that allows only its own script and stylesheet (by hash) and no network access at all.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { embedJson, escapeHtml } from "./escape.ts";
import type { TraceData } from "./model.ts";
import { type Change, diffTraces } from "./diff.ts";
import { summarize, type TraceSummary } from "./summary.ts";
import { VIEWER_JS } from "./viewer/app.ts";
import { VIEWER_CSS } from "./viewer/style.ts";

/** Options for {@linkcode toHtml}. */
export interface HtmlOptions {
  /** Page title. @default the trace's name */
  title?: string;
  /** A second trace to compare with: adds a Diff tab showing both side by side. */
  compare?: TraceData;
}

/** Per-span figures the viewer needs, as arrays parallel to `trace.spans` (compact to embed). */
interface PerSpanColumns {
  selfMs: number[];
  totalMs: number[];
  tokens: number[];
  costUsd: number[];
}

/** One trace as the viewer receives it. */
interface ViewerTrace {
  trace: TraceData;
  summary: Omit<TraceSummary, "spans" | "criticalPath"> & { criticalPath: CompactPath };
  perSpan: PerSpanColumns;
}

/**
 * The critical path with adjacent segments of one span merged and spans given by their index in
 * `trace.spans` (names and kinds are there already); at 10,000 spans the verbose form is
 * over a megabyte.
 */
interface CompactPath {
  ms: number;
  spans: number[];
  segMs: number[];
}

/** Rounds to microseconds: the viewer never shows more, and it keeps the file small. */
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Summarises a trace and reshapes the per-span part into columns. */
function viewerTrace(trace: TraceData): ViewerTrace {
  const { spans: perSpan, criticalPath, ...summary } = summarize(trace);
  const index = new Map(trace.spans.map((s, i) => [s.id, i]));
  const path: CompactPath = { ms: round3(criticalPath.ms), spans: [], segMs: [] };
  for (const seg of criticalPath.segments) {
    const i = index.get(seg.spanId);
    if (i === undefined) continue;
    const last = path.spans.length - 1;
    if (last >= 0 && path.spans[last] === i) path.segMs[last] = round3(path.segMs[last] + seg.ms);
    else {
      path.spans.push(i);
      path.segMs.push(round3(seg.ms));
    }
  }
  const cols: PerSpanColumns = { selfMs: [], totalMs: [], tokens: [], costUsd: [] };
  for (const s of trace.spans) {
    const p = perSpan[s.id];
    cols.selfMs.push(p ? round3(p.selfMs) : 0);
    cols.totalMs.push(p ? round3(p.totalMs) : 0);
    cols.tokens.push(p ? p.subtree.inputTokens + p.subtree.outputTokens : 0);
    cols.costUsd.push(p ? p.subtree.costUsd : 0);
  }
  return { trace, summary: { ...summary, criticalPath: path }, perSpan: cols };
}

/** Most changes the Diff tab lists; the rest are counted, not embedded. */
const MAX_CHANGES = 1000;

/** The second trace plus `diffTraces`' verdict on the pair (timing is never compared there). */
function viewerCompare(a: TraceData, b: TraceData): ViewerTrace & {
  diff: { ok: boolean; failing: number; total: number; changes: Change[] };
} {
  const d = diffTraces(a, b);
  return {
    ...viewerTrace(b),
    diff: {
      ok: d.ok,
      failing: d.failing.length,
      total: d.changes.length,
      changes: d.changes.slice(0, MAX_CHANGES),
    },
  };
}

/** `sha256-...` source expression for a Content-Security-Policy. */
function cspHash(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

// The script and stylesheet never change at run time, so their hashes are computed once.
let policy: string | undefined;
function contentSecurityPolicy(): string {
  policy ??= [
    "default-src 'none'",
    `script-src ${cspHash(VIEWER_JS)}`,
    `style-src ${cspHash(VIEWER_CSS)}`,
    "img-src 'none'",
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join("; ");
  return policy;
}

/**
 * Renders a trace as one self-contained HTML page: totals, overview (critical path, self vs total
 * time, token-heavy calls, models, repeated calls, loop exits), span tree with detail panel,
 * waterfall timeline, Gantt, call graph, errors at their root cause, step state diffs and raw JSON.
 *
 * @param trace The trace to show.
 * @param options A title, and optionally a second trace to compare side by side.
 * @returns The HTML text. It references no URL: it works offline and from `file://`.
 *
 * @example
 * ```ts
 * import { toHtml } from "@loom/xray";
 * const html = toHtml({
 *   format: "loom-trace/1", traceId: "0".repeat(32), name: "empty", startTime: Date.now(),
 *   spans: [], redactions: 0, meta: {},
 * });
 * console.log(html.startsWith("<!doctype html>")); // true
 * ```
 */
export function toHtml(trace: TraceData, options: HtmlOptions = {}): string {
  const title = options.title ?? (trace.name || "trace");
  const data = {
    main: viewerTrace(trace),
    ...(options.compare ? { compare: viewerCompare(trace, options.compare) } : {}),
  };
  const heading = options.compare ? `${title} vs ${options.compare.name || "trace"}` : title;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy())}">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="@loom/xray">
<title>${escapeHtml(heading)} · xray</title>
<style>${VIEWER_CSS}</style>
</head>
<body>
<header class="top">
<h1 id="title" title="${escapeHtml(heading)}">${escapeHtml(heading)}</h1>
<span class="sub" id="subtitle"></span>
<span class="grow"></span>
<span class="searchbox"><input id="search" type="search" autocomplete="off" spellcheck="false" placeholder="Search spans  ( / )   e.g. tag:retry kind:llm" title="Words match names, tags, metadata, attributes, errors, inputs and outputs; field:value narrows to kind, status, tag, model, name, id or meta. Press / to focus."><span class="count" id="search-count"></span></span>
</header>
<div class="cards" id="cards"></div>
<nav class="tabs" id="tabs"></nav>
<div class="body"><main id="main"></main><aside class="detail" id="detail"></aside></div>
<svg id="graph-svg" class="hidden"></svg>
<noscript><p class="empty">This trace viewer needs JavaScript. The raw trace is in the page source as JSON.</p></noscript>
<script type="application/json" id="loom-data">${embedJson(data)}</script>
<script>${VIEWER_JS}</script>
</body>
</html>
`;
}

/**
 * Writes {@linkcode toHtml}'s page to a file, creating or replacing it.
 *
 * @param trace The trace to show.
 * @param path Where to write, e.g. `trace.html`.
 * @param options Same as for {@linkcode toHtml}.
 */
export async function writeHtml(
  trace: TraceData,
  path: string,
  options: HtmlOptions = {},
): Promise<void> {
  await Deno.writeTextFile(path, toHtml(trace, options));
}

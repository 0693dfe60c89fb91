/**
 * The offline HTML viewer: one self-contained file (CSS, script and data inline, no URL of any
 * kind), usable at 1,000,000 spans.
 *
 * The data sits in one `<script type="application/x-loom-trace">` element that the browser never
 * runs: one line per segment (`_page_data.ts`), each gzip-compressed and base64-encoded. Base64
 * holds no `<`, `>` or `&`, so no captured value — `</script>` included — can end the element or
 * change how the page parses. The page decodes the segments with the browser's own
 * `DecompressionStream` (no `fetch`, no URL): the summary and span columns at load, the detail
 * chunks (inputs, outputs, attributes) when it shows or searches them. The viewer puts data on
 * the page only as text. On top of that the page carries a Content-Security-Policy that allows
 * only its own script and stylesheet (by hash) and no network access at all.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { gzipSync } from "node:zlib";
import { escapeHtml } from "./escape.ts";
import type { TraceData } from "./model.ts";
import { diffTraces } from "./diff.ts";
import { type PageDiff, type Segment, traceSegments } from "./_page_data.ts";
import { summarize } from "./summary.ts";
import { VIEWER_JS } from "./viewer/app.ts";
import { VIEWER_CSS } from "./viewer/style.ts";

/** Options for {@linkcode toHtml}. */
export interface HtmlOptions {
  /** Page title. @default the trace's name */
  title?: string;
  /** A second trace to compare with: adds a Diff tab showing both side by side. */
  compare?: TraceData;
}

/** Most changes the Diff tab lists; the rest are counted, not embedded. */
const MAX_CHANGES = 1000;

/** The segments of one trace: its summary, call tree and columns, then its detail chunks. */
function segmentsOf(prefix: string, trace: TraceData, diff?: PageDiff): Iterable<Segment> {
  return traceSegments(prefix, trace, summarize(trace), diff);
}

/** Every segment of the page: the trace, then the one compared with and the verdict on the pair. */
function* pageSegments(trace: TraceData, compare?: TraceData): Iterable<Segment> {
  yield* segmentsOf("m", trace);
  if (!compare) return;
  const d = diffTraces(trace, compare);
  yield* segmentsOf("c", compare, {
    ok: d.ok,
    failing: d.failing.length,
    total: d.changes.length,
    changes: d.changes.slice(0, MAX_CHANGES),
  });
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

/** The page up to the data element's content, and from its end. */
function pageShell(trace: TraceData, options: HtmlOptions): [head: string, tail: string] {
  const title = options.title ?? (trace.name || "trace");
  const heading = options.compare ? `${title} vs ${options.compare.name || "trace"}` : title;
  const head = `<!doctype html>
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
<span class="searchbox"><input id="search" type="search" autocomplete="off" spellcheck="false" placeholder="Search spans  ( / )   e.g. tag:retry kind:llm" title="Words match names, tags, metadata, attributes, errors, inputs and outputs; field:value narrows to kind, status, tag, model, tool, group, name, id or meta (a quoted value must match exactly). Press / to focus."><span class="count" id="search-count"></span></span>
</header>
<div class="cards" id="cards"></div>
<nav class="tabs" id="tabs"></nav>
<div class="body"><main id="main"><div class="loading" id="loading">Loading the trace…</div></main><aside class="detail" id="detail"></aside></div>
<svg id="graph-svg" class="hidden"></svg>
<noscript><p class="empty">This trace viewer needs JavaScript.</p></noscript>
<script type="${DATA_TYPE}" id="loom-data">
`;
  const tail = `</script>
<script>${VIEWER_JS}</script>
</body>
</html>
`;
  return [head, tail];
}

/**
 * The type of the data element: not a script type, so the browser never runs it. Its text is
 * one line per segment, `name:base64`, each segment gzip-compressed; base64 has no `<`, `>` or
 * `&`, so no captured value can end the element or change how the page parses.
 */
const DATA_TYPE = "application/x-loom-trace";

const encoder = new TextEncoder();

/** One segment as its line of the data element, compressed at once (for small pages). */
function segmentLine(seg: Segment): string {
  const parts = [...seg.pieces()];
  const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  return `${seg.name}:${Buffer.from(gzipSync(all)).toString("base64")}\n`;
}

/**
 * Renders a trace as one self-contained HTML page: totals, overview (critical path, where the
 * time went, token-heavy calls, models, repeated calls, loop exits), aggregates like a profiler,
 * a flame graph, steps over time with the processes that ran them, span tree with detail panel,
 * waterfall timeline, Gantt, call graph, errors at their root cause, step state diffs and raw
 * JSON. The data is compressed inside the page and decoded by the browser as it is needed.
 *
 * For a large trace prefer {@linkcode writeHtml}, which streams the page to a file.
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
  const [head, tail] = pageShell(trace, options);
  const lines: string[] = [];
  for (const seg of pageSegments(trace, options.compare)) lines.push(segmentLine(seg));
  return head + lines.join("") + tail;
}

/** Base64 of a gzip stream, written as it is produced (3-byte groups, the rest carried over). */
async function writeSegment(
  out: WritableStreamDefaultWriter<Uint8Array>,
  seg: Segment,
): Promise<void> {
  await out.write(encoder.encode(`${seg.name}:`));
  const gzip = new CompressionStream("gzip");
  const input = gzip.writable.getWriter();
  const feeding = (async () => {
    for (const piece of seg.pieces()) await input.write(piece);
    await input.close();
  })();
  let carry = new Uint8Array(0);
  for await (const chunk of gzip.readable) {
    const all = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const cut = all.length - all.length % 3;
    await out.write(
      encoder.encode(Buffer.from(all.buffer, all.byteOffset, cut).toString("base64")),
    );
    carry = all.slice(cut);
  }
  await feeding;
  await out.write(encoder.encode(Buffer.from(carry).toString("base64") + "\n"));
}

/**
 * Writes the page of {@linkcode toHtml} to a file, creating or replacing it. The page is written
 * segment by segment through a gzip `CompressionStream`, so memory stays bounded by one segment,
 * not by the page; it goes to a temporary file renamed into place at the end, so a reader never
 * sees half a page.
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
  const [head, tail] = pageShell(trace, options);
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const out = file.writable.getWriter();
  try {
    await out.write(encoder.encode(head));
    for (const seg of pageSegments(trace, options.compare)) await writeSegment(out, seg);
    await out.write(encoder.encode(tail));
    await out.close();
    await Deno.rename(tmp, path);
  } catch (e) {
    await out.abort().catch(() => {});
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

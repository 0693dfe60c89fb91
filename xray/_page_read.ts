/**
 * Reading a trace back out of an xray HTML page (the inverse of `_page_data.ts` + `html.ts`), so
 * the page one sends around is also a trace file: `loadTrace("trace.html")` works. Times come
 * back to the microsecond.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import type { Span, SpanKind, SpanStatus, TraceData } from "./model.ts";

const KINDS: SpanKind[] = ["run", "step", "llm", "tool", "branch", "error", "event"];
const STATUSES: SpanStatus[] = ["ok", "error", "unset"];
const OPEN = /<script type="application\/x-loom-trace" id="loom-data">\n?/;

/** `true` when `text` looks like a page written by `toHtml`/`writeHtml`. */
export function isXrayPage(text: string): boolean {
  return /^\s*<!doctype html>/i.test(text) && OPEN.test(text.slice(0, 1_000_000));
}

/** The segments of a page by name, still compressed. */
export function pageSegments(html: string): Map<string, string> {
  const open = OPEN.exec(html);
  if (!open) throw new Error("no xray data element in the page");
  const from = open.index + open[0].length;
  const to = html.indexOf("</script>", from);
  const out = new Map<string, string>();
  for (const line of html.slice(from, to < 0 ? undefined : to).split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return out;
}

/** A segment's bytes. */
export function segmentBytes(segs: Map<string, string>, name: string): Uint8Array {
  const b64 = segs.get(name);
  if (b64 === undefined) throw new Error(`the page has no segment ${name}`);
  return new Uint8Array(gunzipSync(Buffer.from(b64, "base64")));
}

/** Decodes a varint column into numbers (`signed`: zigzag). */
export function readColumn(bytes: Uint8Array, n: number, signed: boolean): number[] {
  const out = new Array<number>(n);
  let p = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[p++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
    }
    out[i] = signed ? (v % 2 === 0 ? v / 2 : -(v + 1) / 2) : v;
  }
  return out;
}

/** The decoded page data of one trace: its core document and its spans. */
export interface PageTrace {
  /** The `P.core` document. */
  core: Record<string, unknown> & { n: number; chunks: number; names: string[] };
  /** The trace, rebuilt from the columns and the detail chunks. */
  trace: TraceData;
}

/**
 * Decodes one trace of a page.
 *
 * @param segs The page's segments.
 * @param prefix `m` for the trace, `c` for the compared one.
 * @returns The core document and the rebuilt trace.
 */
export function readPageTrace(segs: Map<string, string>, prefix: string): PageTrace {
  const text = (name: string) => new TextDecoder().decode(segmentBytes(segs, name));
  const core = JSON.parse(text(`${prefix}.core`)) as PageTrace["core"];
  const n = core.n;
  const ids = n ? text(`${prefix}.ids`).split("\n").slice(0, n) : [];
  const col = (k: string, signed = false) =>
    readColumn(segmentBytes(segs, `${prefix}.col.${k}`), n, signed);
  const kst = segmentBytes(segs, `${prefix}.col.kst`);
  const [par, nm, st, du] = [col("par", true), col("nm"), col("st", true), col("du")];
  const spans: Span[] = [];
  let start = 0;
  for (let c = 0; c < core.chunks; c++) {
    for (const line of text(`${prefix}.d.${c}`).split("\n")) {
      if (line === "") continue;
      const i = spans.length;
      const rec = JSON.parse(line);
      start += st[i];
      const parent = par[i] === 0 ? -1 : i - par[i];
      spans.push({
        id: ids[i],
        parentId: "parentId" in rec ? rec.parentId : parent >= 0 ? ids[parent] : null,
        kind: KINDS[kst[i] & 7],
        name: core.names[nm[i]],
        startTime: rec.startTime,
        endTime: rec.endTime,
        startOffset: start / 1000,
        duration: du[i] === 0 ? null : (du[i] - 1) / 1000,
        status: STATUSES[(kst[i] >> 3) & 3],
        ...rec,
      });
    }
  }
  return {
    core,
    trace: {
      format: "loom-trace/1",
      traceId: core.traceId as string,
      name: core.name as string,
      startTime: core.startTime as number,
      spans,
      redactions: core.redactions as number,
      meta: core.meta as Record<string, unknown>,
    },
  };
}

/**
 * The trace a page shows (not the one it is compared with).
 *
 * @param html The page.
 * @returns The trace, times to the microsecond.
 */
export function traceFromPage(html: string): TraceData {
  return readPageTrace(pageSegments(html), "m").trace;
}

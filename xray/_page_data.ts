/**
 * The data of the HTML viewer, as the segments the page embeds: a compact summary, the span
 * columns the page needs at once (parents, kinds, names, times, per-span figures) and, in
 * chunks, the rest of each span (inputs, outputs, attributes…) that the page decodes only
 * when it shows or searches them. Each segment is gzip-compressed and base64-encoded by
 * `html.ts`; this module produces the uncompressed bytes, piece by piece, so writing a
 * 1,000,000-span page never holds the whole page (or the whole trace as text) at once.
 *
 * Segment `P.core` (P = `m` for the trace, `c` for the one compared with) is JSON: the trace's
 * name, ids, meta, the summary (spans referred to by index), and the tables the columns index
 * into (names, models, tag sets). The columns: `kst` kind, status and "has an error" in one
 * byte; `par` distance back to the parent (0: none); `nm` name; `st` start (µs, delta from the
 * previous span); `du` duration (µs + 1, 0: open); `tt` total minus duration and `sf` total
 * minus self (µs, zigzag); `tk` subtree tokens; `co` subtree cost (nano-USD); `md` model + 1;
 * `tl` tool name + 1 (in the name table); `tg` tag set + 1; `si` step index (zigzag + 1);
 * `cn` call-tree node + 1. `P.ids` is the span ids, one per line. `P.col.X` is a
 * column: one unsigned LEB128 varint per span (`kst` is one byte per span). `P.d.K` is the
 * K-th chunk of `CHUNK` spans, one JSON object per line: each span without the fields the
 * columns hold. Times are kept to the microsecond.
 *
 * @module
 */

import type { Span, SpanKind, TraceData } from "./model.ts";
import type { Change } from "./diff.ts";
import type { TraceSummary } from "./summary.ts";
import { groupName } from "./_summary_aggregates.ts";
import { GEN_AI_REQUEST_MODEL, GEN_AI_TOOL_NAME } from "./attributes.ts";

/** Spans per detail chunk: big enough to compress well, small enough to decode in a blink. */
export const CHUNK = 2000;

/** Most rows of each list the page gets (the rest are counted). */
const MAX_ROWS = 2000;

const KIND_CODE: Record<SpanKind, number> = {
  run: 0,
  step: 1,
  llm: 2,
  tool: 3,
  branch: 4,
  error: 5,
  event: 6,
};
const STATUS_CODE: Record<string, number> = { ok: 0, error: 1, unset: 2 };

/** A growable byte buffer of varints. */
class Varints {
  #buf: Uint8Array<ArrayBuffer>;
  #n = 0;
  constructor(capacity: number) {
    this.#buf = new Uint8Array(Math.max(16, capacity));
  }
  #room(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#n + k));
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next;
  }
  /** Appends a byte. */
  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#n++] = b;
  }
  /** Appends a non-negative integer (up to 2^53) as unsigned LEB128. */
  uint(v: number): void {
    this.#room(8);
    let x = Number.isFinite(v) && v > 0 ? Math.min(Math.round(v), Number.MAX_SAFE_INTEGER) : 0;
    while (x >= 0x80) {
      this.#buf[this.#n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.#buf[this.#n++] = x;
  }
  /** Appends a signed integer, zigzag-encoded. */
  int(v: number): void {
    const x = Number.isFinite(v) ? Math.round(v) : 0;
    this.uint(x >= 0 ? x * 2 : -x * 2 - 1);
  }
  /** The bytes written so far. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#buf.subarray(0, this.#n);
  }
}

/** `JSON.stringify` that never throws: bigints become strings, a cycle becomes `"[Circular]"`. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    const ancestors: unknown[] = [];
    return JSON.stringify(value, function (this: unknown, _k: string, v: unknown) {
      if (typeof v === "bigint") return v.toString();
      if (typeof v !== "object" || v === null) return v;
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(v)) return "[Circular]";
      ancestors.push(v);
      return v;
    }) ?? "null";
  }
}

/** Interns strings: each distinct value gets the next index. */
class Table {
  readonly list: string[] = [];
  #index = new Map<string, number>();
  of(s: string): number {
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
}

/** One embedded segment: its name and its uncompressed bytes, produced piece by piece. */
export interface Segment {
  /** `P.core`, `P.ids`, `P.col.X` or `P.d.K`. */
  name: string;
  /** The bytes, in pieces. */
  pieces: () => Iterable<Uint8Array<ArrayBuffer>>;
}

const us = (ms: number | null | undefined) =>
  typeof ms === "number" && Number.isFinite(ms) ? Math.round(ms * 1000) : 0;

/** The index each span's parent has in `spans` (the last span with an id), or -1. */
function parentIndexes(spans: Span[]): { parent: Int32Array; index: Map<string, number> } {
  const index = new Map<string, number>();
  spans.forEach((s, i) => index.set(s.id, i));
  const parent = new Int32Array(spans.length).fill(-1);
  spans.forEach((s, i) => {
    const p = s.parentId === null ? undefined : index.get(s.parentId);
    if (p !== undefined && p !== i) parent[i] = p;
  });
  return { parent, index };
}

/** Builds the columns of one trace (see the module doc for their encoding). */
function columns(
  trace: TraceData,
  summary: TraceSummary,
  parent: Int32Array,
  tables: { names: Table; models: Table; tagsets: Table },
): Record<string, Uint8Array<ArrayBuffer>> {
  const n = trace.spans.length;
  const col = Object.fromEntries(
    ["par", "nm", "st", "du", "tt", "sf", "tk", "co", "md", "tl", "tg", "si", "cn"].map((k) => [
      k,
      new Varints(n * 2),
    ]),
  );
  const kst = new Uint8Array(n);
  let prevStart = 0;
  trace.spans.forEach((s, i) => {
    const fig = summary.spans[s.id];
    kst[i] = (KIND_CODE[s.kind] ?? 6) | (STATUS_CODE[s.status] ?? 2) << 3 | (s.error ? 1 << 5 : 0);
    col.par.int(parent[i] < 0 ? 0 : i - parent[i]);
    col.nm.uint(tables.names.of(s.name));
    const start = us(s.startOffset);
    col.st.int(start - prevStart);
    prevStart = start;
    const dur = s.duration === null ? null : us(s.duration);
    col.du.uint(dur === null ? 0 : dur + 1);
    const total = fig ? us(fig.totalMs) : 0;
    col.tt.int(total - (dur ?? 0));
    col.sf.int(fig ? total - us(fig.selfMs) : 0);
    col.tk.uint(fig ? fig.subtree.inputTokens + fig.subtree.outputTokens : 0);
    col.co.uint(fig ? Math.round(fig.subtree.costUsd * 1e9) : 0);
    const model = s.attributes[GEN_AI_REQUEST_MODEL];
    col.md.uint(typeof model === "string" ? tables.models.of(model) + 1 : 0);
    const tool = s.kind === "tool" ? s.attributes[GEN_AI_TOOL_NAME] ?? s.name : undefined;
    col.tl.uint(typeof tool === "string" ? tables.names.of(tool) + 1 : 0);
    col.tg.uint(s.tags.length ? tables.tagsets.of(safeJson(s.tags)) + 1 : 0);
    const step = s.attributes["loom.step.index"];
    col.si.uint(typeof step === "number" && Number.isInteger(step) ? zigzag(step) + 1 : 0);
    col.cn.uint(fig ? fig.callNode + 1 : 0);
  });
  const out: Record<string, Uint8Array<ArrayBuffer>> = { kst };
  for (const [k, v] of Object.entries(col)) out[k] = v.bytes();
  return out;
}

const zigzag = (x: number) => x >= 0 ? x * 2 : -x * 2 - 1;

/** The fields the columns hold; the detail record of a span is everything else. */
const IN_COLUMNS = new Set(["id", "parentId", "kind", "name", "startOffset", "duration", "status"]);

/**
 * A span's detail record as JSON: every field but those the columns hold, written field by field
 * (no copy of the span). The parent is implied by the parent column unless it names a span that
 * is not there.
 */
function detailRecord(s: Span, parentId: string | null): string {
  try {
    let out = s.parentId === parentId ? "{" : `{"parentId":${JSON.stringify(s.parentId)}`;
    for (const key in s) {
      if (IN_COLUMNS.has(key)) continue;
      const text = JSON.stringify((s as unknown as Record<string, unknown>)[key]);
      if (text === undefined) continue; // undefined, a function: JSON leaves the field out
      out += `${out.length > 1 ? "," : ""}${JSON.stringify(key)}:${text}`;
    }
    return out + "}";
  } catch {
    const { id: _i, kind: _k, name: _n, startOffset: _o, duration: _d, status: _s, ...more } = s;
    const { parentId: p, ...rest } = more;
    return safeJson(p === parentId ? rest : more);
  }
}

/** Replaces span ids in the summary by span indexes, and keeps lists to what the page shows. */
function pageSummary(summary: TraceSummary, index: Map<string, number>) {
  const at = (id: string) => index.get(id) ?? -1;
  const cap = <T>(list: T[]) => list.slice(0, MAX_ROWS);
  const { spans: _spans, roots: _roots, criticalPath, ...rest } = summary;
  const agg = (rows: TraceSummary["aggregates"]["byName"]) => ({
    rows: cap(rows).map(({ firstSpanId, ...r }) => ({ ...r, i: at(firstSpanId) })),
    more: Math.max(0, rows.length - MAX_ROWS),
  });
  return {
    ...rest,
    criticalPath: pagePath(criticalPath, at),
    tokenHeavy: rest.tokenHeavy.map(({ spanId, ...t }) => ({ ...t, i: at(spanId) })),
    repeatedCalls: cap(rest.repeatedCalls).map(({ spanIds, ...r }) => ({
      ...r,
      i: at(spanIds[0]),
    })),
    repeatedNames: cap(rest.repeatedNames).map(({ firstSpanId, ...r }) => ({
      ...r,
      i: at(firstSpanId),
    })),
    errors: {
      count: rest.errors.count,
      errorSpans: rest.errors.errorSpans,
      rootCauses: cap(rest.errors.rootCauses).map(({ spanId, propagatedThrough, ...e }) => ({
        ...e,
        i: at(spanId),
        via: propagatedThrough.map(at),
      })),
    },
    tags: cap(rest.tags).map(({ tag, count }) => ({ tag, count })),
    aggregates: {
      byName: agg(rest.aggregates.byName),
      byKind: agg(rest.aggregates.byKind),
      byModel: agg(rest.aggregates.byModel),
      byTool: agg(rest.aggregates.byTool),
    },
    callTree: rest.callTree.map(({ firstSpanId, ...n }) => ({ ...n, i: at(firstSpanId) })),
    processes: {
      bands: rest.processes.bands.map(({ runSpanId, ...b }) => ({ ...b, run: at(runSpanId) })),
      markers: rest.processes.markers.slice(0, 10 * MAX_ROWS).map(({ spanId, ...m }) => ({
        ...m,
        i: spanId === null ? -1 : at(spanId),
      })),
    },
  };
}

/** Buckets the critical-path strip is drawn with, whatever the number of segments. */
const PATH_BUCKETS = 400;

/** One stretch of the drawn critical path: the kind with most time in it, and its biggest span. */
interface PathStretch {
  kind: SpanKind;
  ms: number;
  i: number;
}

/**
 * The critical path as the page draws it: a strip of at most `PATH_BUCKETS` stretches (each
 * the kind with most of its time, and the span with most of it), the spans and the groups
 * (kind and grouped name) with most time on the path.
 */
function pagePath(cp: TraceSummary["criticalPath"], at: (id: string) => number) {
  const width = cp.ms / PATH_BUCKETS;
  const buckets = Array.from({ length: PATH_BUCKETS }, () => ({
    kinds: new Map<SpanKind, number>(),
    best: -1,
    bestMs: 0,
  }));
  // Per span on the path (by its index in the trace): its time on the path, first appearance.
  const slot = new Map<number, number>(); // span index -> slot
  const spanOf: number[] = [];
  const kindOf: SpanKind[] = [];
  const nameOf: string[] = [];
  const msOf: number[] = [];
  let t = 0;
  for (const seg of cp.segments) {
    const i = at(seg.spanId);
    let k = slot.get(i);
    if (k === undefined) {
      slot.set(i, k = spanOf.length);
      spanOf.push(i);
      kindOf.push(seg.kind);
      nameOf.push(seg.name);
      msOf.push(0);
    }
    msOf[k] += seg.ms;
    // the segment covers [t, t + ms) of the path: add its overlap with each bucket it touches
    const from = t;
    const to = t + seg.ms;
    t = to;
    if (!(width > 0) || !(seg.ms > 0)) continue;
    const last = Math.min(PATH_BUCKETS - 1, Math.floor(to / width));
    for (let b = Math.min(PATH_BUCKETS - 1, Math.floor(from / width)); b <= last; b++) {
      const take = Math.min(to, b === PATH_BUCKETS - 1 ? Infinity : (b + 1) * width) -
        Math.max(from, b * width);
      if (!(take > 0)) continue;
      const bk = buckets[b];
      bk.kinds.set(seg.kind, (bk.kinds.get(seg.kind) ?? 0) + take);
      if (take > bk.bestMs) {
        bk.bestMs = take;
        bk.best = i;
      }
    }
  }
  const strip: PathStretch[] = [];
  for (const bk of buckets) {
    if (bk.kinds.size === 0) continue;
    const [kind] = [...bk.kinds].sort((x, y) => y[1] - x[1])[0];
    const ms = [...bk.kinds.values()].reduce((a, b) => a + b, 0);
    const last = strip[strip.length - 1];
    if (last && last.kind === kind && last.i === bk.best) last.ms = round3(last.ms + ms);
    else strip.push({ kind, ms: round3(ms), i: bk.best });
  }
  const groups = new Map<
    string,
    { kind: SpanKind; name: string; count: number; ms: number; i: number; first: number }
  >();
  const named = new Map<string, string>(); // name -> group name, computed once per name
  for (let k = 0; k < spanOf.length; k++) {
    let name = named.get(nameOf[k]);
    if (name === undefined) named.set(nameOf[k], name = groupName(nameOf[k]));
    const key = `${kindOf[k]}\u0000${name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { kind: kindOf[k], name, count: 0, ms: 0, i: spanOf[k], first: k });
    g.count++;
    g.ms += msOf[k];
  }
  const spans = topSlots(msOf, 8).map((k) => ({
    kind: kindOf[k],
    name: nameOf[k],
    ms: round3(msOf[k]),
    first: k,
    i: spanOf[k],
  }));
  const groupList = [...groups.values()];
  const topGroups = topSlots(groupList.map((g) => g.ms), 8).map((k) => ({
    ...groupList[k],
    ms: round3(groupList[k].ms),
  }));
  return { ms: round3(cp.ms), spans: spanOf.length, strip, top: spans, groups: topGroups };
}

/** The positions of the `n` largest values (ties: the earlier first), in position order. */
function topSlots(values: number[], n: number): number[] {
  const best: number[] = [];
  values.forEach((v, k) => {
    if (best.length === n && v <= values[best[n - 1]]) return;
    let at = best.length;
    while (at > 0 && values[best[at - 1]] < v) at--;
    best.splice(at, 0, k);
    if (best.length > n) best.pop();
  });
  return best.sort((a, b) => a - b);
}

/** Rounds to microseconds: the viewer never shows more, and it keeps the page small. */
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const encoder = new TextEncoder();

/** Text pieces of up to ~1 MB each, encoded as UTF-8. */
function* textPieces(lines: Iterable<string>): Iterable<Uint8Array<ArrayBuffer>> {
  let batch: string[] = [];
  let size = 0;
  for (const line of lines) {
    batch.push(line);
    size += line.length + 1;
    if (size >= 1 << 20) {
      yield encoder.encode(batch.join("\n") + "\n");
      batch = [];
      size = 0;
    }
  }
  if (batch.length) yield encoder.encode(batch.join("\n") + "\n");
}

/** What the Diff tab needs beside the second trace: `diffTraces`' verdict on the pair. */
export interface PageDiff {
  /** No failing change. */
  ok: boolean;
  /** Number of failing changes. */
  failing: number;
  /** Number of changes. */
  total: number;
  /** The first changes. */
  changes: Change[];
}

/**
 * The segments of one trace.
 *
 * @param prefix `m` for the trace, `c` for the one it is compared with.
 * @param trace The trace.
 * @param summary Its summary.
 * @param diff For the compared trace, the verdict of the comparison.
 * @returns The segments, core first.
 */
export function* traceSegments(
  prefix: string,
  trace: TraceData,
  summary: TraceSummary,
  diff?: PageDiff,
): Iterable<Segment> {
  const spans = trace.spans;
  const { parent, index } = parentIndexes(spans);
  const tables = { names: new Table(), models: new Table(), tagsets: new Table() };
  const cols = columns(trace, summary, parent, tables);
  const core = {
    v: 2,
    name: trace.name,
    traceId: trace.traceId,
    startTime: trace.startTime,
    redactions: trace.redactions,
    meta: trace.meta,
    n: spans.length,
    chunk: CHUNK,
    chunks: Math.ceil(spans.length / CHUNK),
    names: tables.names.list,
    models: tables.models.list,
    tagsets: tables.tagsets.list.map((t) => JSON.parse(t)),
    columns: Object.keys(cols),
    summary: pageSummary(summary, index),
    ...(diff ? { diff } : {}),
  };
  yield { name: `${prefix}.core`, pieces: () => [encoder.encode(safeJson(core))] };
  yield {
    name: `${prefix}.ids`,
    pieces: () => textPieces(spans.map((s) => s.id.replace(/[\n\r]/g, " "))),
  };
  for (const [k, bytes] of Object.entries(cols)) {
    yield { name: `${prefix}.col.${k}`, pieces: () => [bytes] };
  }
  for (let c = 0; c * CHUNK < spans.length; c++) {
    const from = c * CHUNK;
    yield {
      name: `${prefix}.d.${c}`,
      pieces: () =>
        textPieces(
          spans.slice(from, from + CHUNK).map((s, k) => {
            const p = parent[from + k];
            return detailRecord(s, p >= 0 ? spans[p].id : null);
          }),
        ),
    };
  }
}

/**
 * Reading traces back: a `trace.json` document, the JSONL stream a recorder with `stream`
 * writes as it goes (which survives the process being killed), an xray HTML page (the page
 * carries its trace, times to the microsecond), or an OTLP/JSON document (`toOtlpJson`'s, or a
 * collector's file export). Bad input fails with one
 * `TraceFormatError` sentence saying what is wrong, never a crash deep inside a consumer.
 *
 * @module
 */

import type { Span, TraceData } from "./model.ts";
import { parentsFirst } from "./tree.ts";
import { isXrayPage, traceFromPage } from "./_page_read.ts";
import { isOtlpDocument, traceFromOtlp } from "./_otlp_read.ts";

/** The input is not a Loom trace (wrong format, missing fields, not JSON). */
export class TraceFormatError extends Error {
  /**
   * Makes the error.
   *
   * @param message What is wrong, as one sentence.
   * @param options The underlying error, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TraceFormatError";
  }
}

const KINDS = new Set(["run", "step", "llm", "tool", "branch", "error", "event"]);
const STATUSES = new Set(["ok", "error", "unset"]);

/** Checks one span's shape, naming the first problem. */
function checkSpan(s: unknown, i: number, source: string): Span {
  const where = `span ${i} of ${source}`;
  if (typeof s !== "object" || s === null) throw new TraceFormatError(`${where} is not an object`);
  const span = s as Record<string, unknown>;
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new TraceFormatError(`${where} has no valid ${what}`);
  };
  need(typeof span.id === "string" && span.id.length > 0, "id");
  need(span.parentId === null || typeof span.parentId === "string", "parentId");
  need(typeof span.kind === "string" && KINDS.has(span.kind), "kind");
  need(typeof span.name === "string", "name");
  need(typeof span.startTime === "number", "startTime");
  need(typeof span.startOffset === "number", "startOffset");
  need(span.duration === null || typeof span.duration === "number", "duration");
  need(span.endTime === null || typeof span.endTime === "number", "endTime");
  need(typeof span.status === "string" && STATUSES.has(span.status), "status");
  // Optional-looking collections are normalised rather than rejected.
  if (typeof span.attributes !== "object" || span.attributes === null) span.attributes = {};
  if (!Array.isArray(span.tags)) span.tags = [];
  if (typeof span.meta !== "object" || span.meta === null) span.meta = {};
  return span as unknown as Span;
}

/**
 * Parses and validates a trace from text: a `loom-trace/1` JSON document, a
 * `loom-trace-stream/1` JSONL stream (a header line, then one line per span start and end — a
 * span's last line wins — and `{"traceMeta": {...}}` lines; a torn last line is ignored), a
 * page written by `toHtml`/`writeHtml` (its trace, times to the microsecond), or an OTLP/JSON
 * trace document (`resourceSpans`; Loom's own `loom.*` attributes become span fields again).
 *
 * @param text The file's content.
 * @param source How to name the input in error messages. @default "the input"
 * @returns The trace.
 * @throws {TraceFormatError} When the text is not a Loom trace.
 */
export function parseTrace(text: string, source = "the input"): TraceData {
  const trimmed = text.trimStart();
  const firstLine = trimmed.slice(0, trimmed.indexOf("\n") >>> 0);
  if (firstLine.includes('"loom-trace-stream/1"')) return parseStream(trimmed, source);
  if (isXrayPage(trimmed)) {
    try {
      return checkTrace(traceFromPage(trimmed), source);
    } catch (e) {
      if (e instanceof TraceFormatError) throw e;
      throw new TraceFormatError(`${source} is an xray page whose data cannot be read`, {
        cause: e,
      });
    }
  }
  if (text.startsWith("SQLite format 3")) {
    throw new TraceFormatError(
      `${source} is a SQLite database, not a trace; rebuild a run's trace from it with ` +
        "`loom-runner trace --run-id ID --db FILE -o trace.json`",
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TraceFormatError(`${source} is not valid JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (isOtlpDocument(doc)) return fromOtlp(doc, source);
  return checkTrace(doc, source);
}

/** An OTLP/JSON document as a checked Loom trace, parents before children. */
function fromOtlp(doc: unknown, source: string): TraceData {
  let trace: TraceData;
  try {
    trace = traceFromOtlp(doc) as TraceData;
  } catch (e) {
    throw new TraceFormatError(`${source} is an OTLP JSON document whose spans cannot be read`, {
      cause: e,
    });
  }
  checkTrace(trace, `${source} (OTLP JSON)`);
  trace.spans = parentsFirst(trace.spans);
  return trace;
}

/**
 * Validates already-parsed data as a trace.
 *
 * @param doc Parsed JSON.
 * @param source How to name the input in error messages.
 * @returns The same object, typed.
 * @throws {TraceFormatError} When it is not a Loom trace.
 */
export function checkTrace(doc: unknown, source = "the input"): TraceData {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new TraceFormatError(`${source} is not a Loom trace (expected a JSON object)`);
  }
  const t = doc as Record<string, unknown>;
  if (t.format !== "loom-trace/1") {
    throw new TraceFormatError(
      `${source} is not a Loom trace (format is ${
        JSON.stringify(t.format) ?? "missing"
      }, expected "loom-trace/1")`,
    );
  }
  if (typeof t.traceId !== "string") throw new TraceFormatError(`${source} has no traceId`);
  if (!Array.isArray(t.spans)) throw new TraceFormatError(`${source} has no spans array`);
  t.spans.forEach((s, i) => checkSpan(s, i, source));
  checkUniqueIds(t.spans as Span[], source);
  if (typeof t.name !== "string") t.name = "trace";
  if (typeof t.startTime !== "number") {
    t.startTime = (t.spans[0] as Span | undefined)?.startTime ?? 0;
  }
  if (typeof t.redactions !== "number") t.redactions = 0;
  if (typeof t.meta !== "object" || t.meta === null) t.meta = {};
  return t as unknown as TraceData;
}

/** Fails on the first span id used twice: every consumer finds a span (and its parent) by id. */
function checkUniqueIds(spans: Span[], source: string): void {
  const first = new Map<string, number>();
  spans.forEach((s, i) => {
    const j = first.get(s.id);
    if (j !== undefined) {
      throw new TraceFormatError(
        `span ${i} of ${source} has the same id as span ${j} (${
          JSON.stringify(s.id)
        }); span ids must be unique within a trace`,
      );
    }
    first.set(s.id, i);
  });
}

/** Rebuilds a trace from a JSONL stream: a header line, then span lines. */
function parseStream(text: string, source: string): TraceData {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = JSON.parse(lines[0]);
  const spans = new Map<string, Span>();
  const meta: Record<string, unknown> = { ...header.meta };
  lines.slice(1).forEach((line, i) => {
    let s: unknown;
    try {
      s = JSON.parse(line);
    } catch (e) {
      if (i === lines.length - 2) return; // the process died mid-write: drop the torn line
      throw new TraceFormatError(`line ${i + 2} of ${source} is not valid JSON`, { cause: e });
    }
    // Trace metadata added after the start (e.g. possible loop exits) comes as its own line.
    const traceMeta = (s as { traceMeta?: unknown }).traceMeta;
    if (typeof traceMeta === "object" && traceMeta !== null) {
      Object.assign(meta, traceMeta);
      return;
    }
    const span = checkSpan(s, i, source);
    spans.set(span.id, span);
  });
  return checkTrace({
    format: "loom-trace/1",
    traceId: header.traceId,
    name: header.name,
    startTime: header.startTime,
    spans: parentsFirst([...spans.values()].sort((a, b) => a.startOffset - b.startOffset)),
    redactions: 0,
    meta: { ...meta, stream: true },
  }, source);
}

/**
 * Reads a trace file (`trace.json`, a JSONL stream or an xray `.html` page).
 *
 * @param path The file.
 * @returns The trace.
 * @throws {TraceFormatError} When the file cannot be read or is not a Loom trace.
 */
export async function loadTrace(path: string): Promise<TraceData> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${(e as Error).message})`;
    throw new TraceFormatError(`${path} ${why}`, { cause: e });
  }
  return parseTrace(text, path);
}

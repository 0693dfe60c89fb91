/**
 * The trace data model: what is recorded, written to JSON, rendered to HTML and exported to OTLP.
 * A trace is a flat list of spans that form a tree through `parentId`.
 *
 * @module
 */

/** What a span stands for. */
export type SpanKind = "run" | "step" | "llm" | "tool" | "branch" | "error" | "event";

/** How a span ended; `unset` while it is still open. */
export type SpanStatus = "ok" | "error" | "unset";

/** Attribute values, as OpenTelemetry allows them. */
export type AttributeValue = string | number | boolean | string[] | number[];

/** An error as recorded: plain data, never a live `Error`. */
export interface SpanError {
  /** The error's class name, e.g. `TypeError`. */
  type: string;
  /** Its message. */
  message: string;
  /** Its stack, when there was one. */
  stack?: string;
}

/** One span of a trace. Times are milliseconds. */
export interface Span {
  /** Unique within the trace (16 hex chars, OTLP span id shape). */
  id: string;
  /** The parent span's id, or `null` for a root. */
  parentId: string | null;
  /** What the span stands for. */
  kind: SpanKind;
  /** Human-readable name, e.g. `step 3` or `read_file`. */
  name: string;
  /** Wall-clock start, ms since the Unix epoch. */
  startTime: number;
  /** Wall-clock end, or `null` while open. */
  endTime: number | null;
  /** Monotonic start, ms since the trace's own start (`performance.now()` based). */
  startOffset: number;
  /** Monotonic duration in ms, or `null` while open. */
  duration: number | null;
  /** How it ended. */
  status: SpanStatus;
  /** Captured input (already made safe: capped, redacted, JSON-only). */
  input?: unknown;
  /** Captured output (same treatment as `input`). */
  output?: unknown;
  /** The error that ended it, if any. */
  error?: SpanError;
  /** Attributes; OpenTelemetry GenAI names where one exists (`gen_ai.request.model`, ...). */
  attributes: Record<string, AttributeValue>;
  /** Free labels added with `tag()`. */
  tags: string[];
  /** Free metadata added with `meta()`. */
  meta: Record<string, unknown>;
}

/** A whole trace as written to `trace.json` and embedded in the HTML page. */
export interface TraceData {
  /** Format version of this document. */
  format: "loom-trace/1";
  /** 32 hex chars, OTLP trace id shape. */
  traceId: string;
  /** Name of the traced program or run. */
  name: string;
  /** Wall-clock start of the trace, ms since the Unix epoch. */
  startTime: number;
  /** All spans, parents before children. */
  spans: Span[];
  /** How many values were redacted while capturing. */
  redactions: number;
  /** Free metadata about the trace (run id, agent, database, ...). */
  meta: Record<string, unknown>;
}

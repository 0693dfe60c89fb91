/**
 * Export to the OTLP/JSON trace format (the JSON encoding of `ExportTraceServiceRequest`), so a
 * trace can be posted to any OpenTelemetry collector or backend (`POST /v1/traces` with
 * `Content-Type: application/json`).
 *
 * Encoding rules of OTLP/JSON followed here: field names in lowerCamelCase; trace and span ids
 * as hex strings (not base64); 64-bit integers (`startTimeUnixNano`, `intValue`) as decimal
 * strings; enums (`kind`, `status.code`) as integers.
 *
 * @module
 */

import { GEN_AI_OPERATION_NAME } from "./attributes.ts";
import type { AttributeValue, Span, TraceData } from "./model.ts";

/** An OTLP `AnyValue`. */
export type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: OtlpAnyValue[] } };

/** An OTLP `KeyValue`. */
export interface OtlpKeyValue {
  /** Attribute name. */
  key: string;
  /** Attribute value. */
  value: OtlpAnyValue;
}

/** An OTLP span event. */
export interface OtlpEvent {
  /** Event time, nanoseconds since the epoch, decimal string. */
  timeUnixNano: string;
  /** Event name, e.g. `exception`. */
  name: string;
  /** Event attributes. */
  attributes: OtlpKeyValue[];
}

/** An OTLP span. */
export interface OtlpSpan {
  /** 32 hex chars. */
  traceId: string;
  /** 16 hex chars. */
  spanId: string;
  /** 16 hex chars; absent for a root. */
  parentSpanId?: string;
  /** Span name. */
  name: string;
  /** `SpanKind` enum: 1 internal, 3 client. */
  kind: number;
  /** Nanoseconds since the epoch, decimal string. */
  startTimeUnixNano: string;
  /** Nanoseconds since the epoch, decimal string. */
  endTimeUnixNano: string;
  /** Attributes. */
  attributes: OtlpKeyValue[];
  /** Events (an `exception` event for a failed span). */
  events: OtlpEvent[];
  /** `code`: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
}

/** The OTLP/JSON document (`ExportTraceServiceRequest`). */
export interface OtlpTraceDocument {
  /** One resource with one scope holding all spans. */
  resourceSpans: Array<{
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: Array<{ scope: { name: string; version: string }; spans: OtlpSpan[] }>;
  }>;
}

/** Options for `toOtlpJson`. */
export interface OtlpOptions {
  /** `service.name` of the resource. @default the trace name */
  serviceName?: string;
}

/** OTLP `SpanKind` values. */
export const OTLP_SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
/** OTLP `Status.code` values. */
export const OTLP_STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

const SCOPE = { name: "@loom/xray", version: "0.1.0" };

/** Milliseconds (possibly fractional) since the epoch to a nanosecond decimal string. */
function nanos(ms: number): string {
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(frac)).toString();
}

/** One attribute value in OTLP form. */
function anyValue(v: AttributeValue | unknown): OtlpAnyValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return { stringValue: String(v) }; // JSON has no NaN or Infinity
    return Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  }
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return { stringValue: JSON.stringify(v) ?? String(v) };
}

/** `{key, value}` pair. */
function kv(key: string, value: AttributeValue | unknown): OtlpKeyValue {
  return { key, value: anyValue(value) };
}

/** LLM calls are requests to a remote model (CLIENT, as GenAI conventions say); the rest is INTERNAL. */
function kindOf(span: Span): number {
  return span.kind === "llm" ? OTLP_SPAN_KIND.CLIENT : OTLP_SPAN_KIND.INTERNAL;
}

/** Converts one span. Its wall times come from the trace start plus monotonic offsets. */
function convertSpan(trace: TraceData, span: Span): OtlpSpan {
  const start = trace.startTime + span.startOffset;
  const end = start + (span.duration ?? 0);
  const attributes: OtlpKeyValue[] = Object.entries(span.attributes).map(([k, v]) => kv(k, v));
  attributes.push(kv("loom.span.kind", span.kind));
  if (span.kind === "tool" && span.attributes[GEN_AI_OPERATION_NAME] === undefined) {
    attributes.push(kv(GEN_AI_OPERATION_NAME, "execute_tool"));
  }
  if (span.input !== undefined) attributes.push(kv("loom.input", JSON.stringify(span.input)));
  if (span.output !== undefined) attributes.push(kv("loom.output", JSON.stringify(span.output)));
  if (span.tags.length > 0) attributes.push(kv("loom.tags", span.tags));
  for (const [k, v] of Object.entries(span.meta)) {
    attributes.push(kv(`loom.meta.${k}`, typeof v === "string" ? v : JSON.stringify(v)));
  }
  if (span.duration === null) attributes.push(kv("loom.span.open", true));
  const events: OtlpEvent[] = [];
  if (span.error) {
    const ea = [kv("exception.type", span.error.type), kv("exception.message", span.error.message)];
    if (span.error.stack) ea.push(kv("exception.stacktrace", span.error.stack));
    events.push({ timeUnixNano: nanos(end), name: "exception", attributes: ea });
  }
  const out: OtlpSpan = {
    traceId: trace.traceId,
    spanId: span.id,
    name: span.name,
    kind: kindOf(span),
    startTimeUnixNano: nanos(start),
    endTimeUnixNano: nanos(end),
    attributes,
    events,
    status: span.status === "error"
      ? { code: OTLP_STATUS_CODE.ERROR, message: span.error?.message ?? "" }
      : { code: span.status === "ok" ? OTLP_STATUS_CODE.OK : OTLP_STATUS_CODE.UNSET },
  };
  if (span.parentId !== null) out.parentSpanId = span.parentId;
  return out;
}

/**
 * Converts a trace to an OTLP/JSON `ExportTraceServiceRequest`. Inputs and outputs become
 * `loom.input`/`loom.output` string attributes (JSON text), tags `loom.tags`, metadata
 * `loom.meta.*`, an error an `exception` event plus status code 2.
 *
 * @param trace The trace.
 * @param options `service.name`.
 * @returns The document; `JSON.stringify` it to post or save.
 *
 * @example
 * ```ts
 * import { Recorder, toOtlpJson } from "@loom/xray";
 * const rec = new Recorder({ name: "demo" });
 * rec.startSpan("run", "demo").end();
 * const doc = toOtlpJson(rec.toJSON());
 * doc.resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano; // e.g. "1732536000000000000"
 * ```
 */
export function toOtlpJson(trace: TraceData, options: OtlpOptions = {}): OtlpTraceDocument {
  const resource = [
    kv("service.name", options.serviceName ?? trace.name),
    kv("telemetry.sdk.name", "@loom/xray"),
    // `telemetry.sdk.language` must be one of the values the semantic conventions define (cpp,
    // dotnet, erlang, go, java, nodejs, php, python, ruby, rust, swift, webjs); "js" is not one.
    // xray is server-side JavaScript (Deno, or Node with the npm build), which is what "nodejs"
    // denotes ("webjs" is the browser); OpenTelemetry's own JS SDK reports "nodejs" under Deno
    // too. The runtime really exporting is named apart, in `process.runtime.*`.
    kv("telemetry.sdk.language", "nodejs"),
    ...runtimeAttributes(),
  ];
  for (const [k, v] of Object.entries(trace.meta)) {
    if (k === "exits") continue; // source locations are for the viewer, not the backend
    resource.push(kv(`loom.trace.${k}`, typeof v === "string" ? v : JSON.stringify(v)));
  }
  return {
    resourceSpans: [{
      resource: { attributes: resource },
      scopeSpans: [{ scope: SCOPE, spans: trace.spans.map((s) => convertSpan(trace, s)) }],
    }],
  };
}

/** `process.runtime.name`/`.version` of the runtime doing the export (Deno, Node, Bun). */
function runtimeAttributes(): OtlpKeyValue[] {
  const g = globalThis as {
    Deno?: { version?: { deno?: string } };
    process?: { versions?: { node?: string; bun?: string } };
  };
  if (g.Deno?.version?.deno) {
    return [kv("process.runtime.name", "deno"), kv("process.runtime.version", g.Deno.version.deno)];
  }
  if (g.process?.versions?.bun) {
    return [
      kv("process.runtime.name", "bun"),
      kv("process.runtime.version", g.process.versions.bun),
    ];
  }
  if (g.process?.versions?.node) {
    return [
      kv("process.runtime.name", "nodejs"),
      kv("process.runtime.version", g.process.versions.node),
    ];
  }
  return [];
}

/** Options for `postOtlp`. */
export interface PostOtlpOptions extends OtlpOptions {
  /** Extra HTTP headers (e.g. an authorization header for a hosted backend). */
  headers?: Record<string, string>;
  /** Give up after this many milliseconds. @default 10000 */
  timeoutMs?: number;
}

/**
 * Sends a trace to an OpenTelemetry collector or backend over OTLP/HTTP with the JSON encoding
 * (`POST {endpoint}` with `Content-Type: application/json`; a collector listens on
 * `http://127.0.0.1:4318/v1/traces` by default).
 *
 * @param trace The trace.
 * @param endpoint The full traces URL.
 * @param options Service name, headers, timeout.
 * @throws {Error} With one sentence when the backend cannot be reached or answers with an error.
 */
export async function postOtlp(
  trace: TraceData,
  endpoint: string,
  options: PostOtlpOptions = {},
): Promise<void> {
  const { headers = {}, timeoutMs = 10_000, ...otlpOptions } = options;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(toOtlpJson(trace, otlpOptions)),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(`could not send the trace to ${endpoint}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    throw new Error(
      `${endpoint} refused the trace: HTTP ${response.status} ${text.slice(0, 200)}`.trim(),
    );
  }
}

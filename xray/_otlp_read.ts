/**
 * Reading an OTLP/JSON trace document (`ExportTraceServiceRequest`, what `toOtlpJson` writes and
 * what collectors' file exporters save) back as a Loom trace, so `loadTrace` and `loom-xray
 * serve DIR` show it. Loom's own attributes (`loom.span.kind`, `loom.input`, `loom.output`,
 * `loom.tags`, `loom.meta.*`, an `exception` event) come back as they were; a span from another
 * tool gets its kind from GenAI attributes (`llm`, `tool`), else `run` for a root and `step`.
 *
 * @module
 */
import type { AttributeValue, Span, SpanKind, TraceData } from "./model.ts";

type AnyValue = Record<string, unknown>;
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface OtlpSpanIn {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  events?: { name?: string; attributes?: KeyValue[] }[];
  status?: { code?: number | string; message?: string };
}

const KINDS = new Set(["run", "step", "llm", "tool", "branch", "error", "event"]);

/** True for a parsed document shaped like OTLP/JSON (`resourceSpans` at the top). */
export function isOtlpDocument(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null &&
    Array.isArray((doc as { resourceSpans?: unknown }).resourceSpans);
}

function value(v: AnyValue | undefined): AttributeValue | undefined {
  if (!v) return undefined;
  if ("stringValue" in v) return String(v.stringValue);
  if ("boolValue" in v) return Boolean(v.boolValue);
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("arrayValue" in v) {
    const values = ((v.arrayValue as { values?: AnyValue[] })?.values ?? []).map(value);
    return values.filter((x) => x !== undefined) as AttributeValue;
  }
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value: v } of list ?? []) {
    const x = value(v);
    if (typeof key === "string" && x !== undefined) out[key] = x;
  }
  return out;
}

/** Milliseconds since the epoch from OTLP's nanoseconds (a decimal string). */
function ms(nanos: string | number | undefined): number {
  if (nanos === undefined) return 0;
  try {
    return Number(BigInt(String(nanos)) / 1000n) / 1000;
  } catch {
    return Number(nanos) / 1e6;
  }
}

function parseJson(text: unknown): unknown {
  if (typeof text !== "string") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function kindOf(attrs: Record<string, AttributeValue>, isRoot: boolean): SpanKind {
  const own = attrs["loom.span.kind"];
  if (typeof own === "string" && KINDS.has(own)) return own as SpanKind;
  const op = attrs["gen_ai.operation.name"];
  if (op === "execute_tool") return "tool";
  if (typeof op === "string") return "llm";
  return isRoot ? "run" : "step";
}

/** Moves Loom's own attributes back to the span's fields. */
function restoreLoomFields(span: Span): void {
  const a = span.attributes;
  if ("loom.input" in a) span.input = parseJson(a["loom.input"]);
  if ("loom.output" in a) span.output = parseJson(a["loom.output"]);
  if (Array.isArray(a["loom.tags"])) span.tags = (a["loom.tags"] as unknown[]).map(String);
  for (const key of Object.keys(a)) {
    if (key.startsWith("loom.meta.")) span.meta[key.slice(10)] = parseJson(a[key]);
  }
  const open = a["loom.span.open"] === true;
  for (const key of Object.keys(a)) {
    if (
      key.startsWith("loom.meta.") || /^loom\.(span\.kind|span\.open|input|output|tags)$/.test(key)
    ) {
      delete a[key];
    }
  }
  if (open) {
    span.duration = null;
    span.endTime = null;
  }
}

function convertSpan(s: OtlpSpanIn, traceStart: number): Span {
  const startTime = ms(s.startTimeUnixNano);
  const endTime = ms(s.endTimeUnixNano ?? s.startTimeUnixNano);
  const attributes = attributesOf(s.attributes);
  const parentId = s.parentSpanId ? String(s.parentSpanId) : null;
  const code = s.status?.code;
  const status = code === 2 || code === "STATUS_CODE_ERROR"
    ? "error"
    : code === 1 || code === "STATUS_CODE_OK"
    ? "ok"
    : "unset";
  const span: Span = {
    id: String(s.spanId ?? ""),
    parentId,
    kind: kindOf(attributes, parentId === null),
    name: String(s.name ?? ""),
    startTime,
    endTime,
    startOffset: startTime - traceStart,
    duration: Math.max(0, endTime - startTime),
    status,
    attributes,
    tags: [],
    meta: {},
  };
  const exception = (s.events ?? []).find((e) => e.name === "exception");
  if (exception || status === "error") {
    const ea = attributesOf(exception?.attributes);
    span.error = {
      type: String(ea["exception.type"] ?? "Error"),
      message: String(ea["exception.message"] ?? s.status?.message ?? ""),
      ...(ea["exception.stacktrace"] ? { stack: String(ea["exception.stacktrace"]) } : {}),
    };
  }
  restoreLoomFields(span);
  return span;
}

/**
 * A Loom trace (not yet checked) from an OTLP/JSON document: every span of every resource and
 * scope, times from the nanosecond stamps, the first trace id and `service.name` as the name.
 */
export function traceFromOtlp(doc: unknown): unknown {
  const resourceSpans = (doc as { resourceSpans: unknown[] }).resourceSpans;
  const raw: OtlpSpanIn[] = [];
  let name: string | undefined;
  for (const rs of resourceSpans as Record<string, unknown>[]) {
    const resource = attributesOf((rs?.resource as { attributes?: KeyValue[] })?.attributes);
    name ??= typeof resource["service.name"] === "string" ? resource["service.name"] : undefined;
    for (const ss of (rs?.scopeSpans ?? []) as { spans?: OtlpSpanIn[] }[]) {
      raw.push(...(ss?.spans ?? []));
    }
  }
  const start = Math.min(...raw.map((s) => ms(s.startTimeUnixNano)));
  const traceStart = Number.isFinite(start) ? start : 0;
  const spans = raw.map((s) => convertSpan(s, traceStart)).sort((a, b) =>
    a.startOffset - b.startOffset
  );
  const trace: Partial<TraceData> & { format: string } = {
    format: "loom-trace/1",
    traceId: String(raw[0]?.traceId ?? "0".repeat(32)),
    name: name ?? "otlp trace",
    startTime: traceStart,
    spans,
    redactions: 0,
    meta: { source: "otlp" },
  };
  return trace;
}

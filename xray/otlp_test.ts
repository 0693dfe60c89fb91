import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { type OtlpAnyValue, type OtlpSpan, postOtlp, toOtlpJson } from "./otlp.ts";
import { Recorder } from "./recorder.ts";

/** A trace with every kind of value the exporter has to encode. */
function sample() {
  const rec = new Recorder({
    name: "agent",
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    startTime: 1_700_000_000_000,
  });
  const run = rec.startSpan("run", "agent", {
    parent: null,
    startTime: 1_700_000_000_000,
    input: { goal: "x" },
  });
  run.tag("golden").meta({ agent: "coder" });
  rec.recordLlm({
    parent: run,
    model: "gpt-4o-mini",
    provider: "openai",
    inputTokens: 12,
    outputTokens: 3,
    temperature: 0.2,
    finishReasons: ["stop"],
    startTime: 1_700_000_000_010.5,
    endTime: 1_700_000_000_020,
  });
  rec.recordTool({
    parent: run,
    name: "read_file",
    args: { path: "a" },
    error: new Error("ENOENT"),
    startTime: 1_700_000_000_030,
    endTime: 1_700_000_000_031,
  });
  rec.startSpan("step", "never ended", { parent: run, startTime: 1_700_000_000_040 });
  run.end({ output: "done", endTime: 1_700_000_001_000 });
  return rec.toJSON();
}

/** Checks an AnyValue has exactly one of the OTLP value fields, correctly typed. */
function checkAnyValue(v: OtlpAnyValue): void {
  const keys = Object.keys(v);
  equal(keys.length, 1, JSON.stringify(v));
  const [k] = keys;
  const x = (v as Record<string, unknown>)[k];
  if (k === "stringValue") equal(typeof x, "string");
  else if (k === "boolValue") equal(typeof x, "boolean");
  else if (k === "intValue") match(x as string, /^-?\d+$/); // int64 as a decimal string
  else if (k === "doubleValue") ok(Number.isFinite(x));
  else if (k === "arrayValue") (x as { values: OtlpAnyValue[] }).values.forEach(checkAnyValue);
  else throw new Error(`unexpected AnyValue field ${k}`);
}

Deno.test("OTLP/JSON shape: resourceSpans → scopeSpans → spans with hex ids and string nanos", () => {
  const trace = sample();
  const doc = JSON.parse(JSON.stringify(toOtlpJson(trace)));
  equal(doc.resourceSpans.length, 1);
  const rs = doc.resourceSpans[0];
  deepEqual(rs.resource.attributes.find((a: { key: string }) => a.key === "service.name"), {
    key: "service.name",
    value: { stringValue: "agent" },
  });
  equal(rs.scopeSpans.length, 1);
  equal(rs.scopeSpans[0].scope.name, "@loom/xray");
  const spans: OtlpSpan[] = rs.scopeSpans[0].spans;
  equal(spans.length, trace.spans.length);
  for (const s of spans) {
    match(s.traceId, /^[0-9a-f]{32}$/);
    equal(s.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    match(s.spanId, /^[0-9a-f]{16}$/);
    if (s.parentSpanId !== undefined) match(s.parentSpanId, /^[0-9a-f]{16}$/);
    equal(typeof s.startTimeUnixNano, "string");
    equal(typeof s.endTimeUnixNano, "string");
    ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
    ok([1, 3].includes(s.kind));
    ok([0, 1, 2].includes(s.status.code));
    for (const a of s.attributes) {
      equal(typeof a.key, "string");
      checkAnyValue(a.value);
    }
  }
  const [root, llm, tool, open] = spans;
  equal(root.parentSpanId, undefined);
  equal(llm.parentSpanId, root.spanId);
  equal(root.startTimeUnixNano, "1700000000000000000");
  equal(root.endTimeUnixNano, "1700000001000000000");
  equal(llm.startTimeUnixNano, "1700000000010500000"); // sub-millisecond precision kept
  equal(llm.kind, 3); // CLIENT
  equal(tool.kind, 1); // INTERNAL
  deepEqual(root.status, { code: 1 });
  deepEqual(tool.status, { code: 2, message: "ENOENT" });
  deepEqual(open.status, { code: 0 });
  ok(open.attributes.some((a) => a.key === "loom.span.open"));
});

Deno.test("OTLP attributes use GenAI names and the right value types", () => {
  const doc = toOtlpJson(sample());
  const [root, llm, tool] = doc.resourceSpans[0].scopeSpans[0].spans;
  const attr = (s: OtlpSpan, key: string) => s.attributes.find((a) => a.key === key)?.value;
  deepEqual(attr(llm, "gen_ai.request.model"), { stringValue: "gpt-4o-mini" });
  deepEqual(attr(llm, "gen_ai.usage.input_tokens"), { intValue: "12" });
  deepEqual(attr(llm, "gen_ai.usage.output_tokens"), { intValue: "3" });
  deepEqual(attr(llm, "gen_ai.request.temperature"), { doubleValue: 0.2 });
  deepEqual(attr(llm, "gen_ai.response.finish_reasons"), {
    arrayValue: { values: [{ stringValue: "stop" }] },
  });
  deepEqual(attr(llm, "gen_ai.operation.name"), { stringValue: "chat" });
  ok(attr(llm, "loom.cost.usd") && "doubleValue" in attr(llm, "loom.cost.usd")!);
  deepEqual(attr(tool, "gen_ai.tool.name"), { stringValue: "read_file" });
  deepEqual(attr(tool, "loom.tool.replayed"), { boolValue: false });
  deepEqual(attr(tool, "loom.input"), { stringValue: '{"path":"a"}' });
  deepEqual(attr(root, "loom.tags"), { arrayValue: { values: [{ stringValue: "golden" }] } });
  deepEqual(attr(root, "loom.meta.agent"), { stringValue: "coder" });
  const ex = tool.events.find((e) => e.name === "exception")!;
  deepEqual(ex.attributes.find((a) => a.key === "exception.type")?.value, { stringValue: "Error" });
  deepEqual(ex.attributes.find((a) => a.key === "exception.message")?.value, {
    stringValue: "ENOENT",
  });
});

Deno.test("postOtlp sends the document to a collector endpoint over real HTTP", async () => {
  const received: Array<{ type: string | null; auth: string | null; body: unknown }> = [];
  let status = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push({
      type: req.headers.get("content-type"),
      auth: req.headers.get("authorization"),
      body: await req.json(),
    });
    return new Response(status === 200 ? "{}" : "bad payload", { status });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/v1/traces`;
    const trace = sample();
    await postOtlp(trace, url, { headers: { authorization: "Bearer t" } });
    equal(received.length, 1);
    equal(received[0].type, "application/json");
    equal(received[0].auth, "Bearer t");
    deepEqual(received[0].body, JSON.parse(JSON.stringify(toOtlpJson(trace))));
    status = 400;
    await rejects(postOtlp(trace, url), /refused the trace: HTTP 400 bad payload/);
  } finally {
    await server.shutdown();
  }
  await rejects(
    postOtlp(sample(), `http://127.0.0.1:${server.addr.port}/v1/traces`, { timeoutMs: 2000 }),
    /could not send the trace/,
  );
});

Deno.test("OTLP resource: telemetry.sdk.language is a semantic-conventions value, the runtime named apart", () => {
  const attrs = toOtlpJson(sample()).resourceSpans[0].resource.attributes;
  const value = (key: string) => attrs.find((a) => a.key === key)?.value;
  // The values the semantic conventions define for telemetry.sdk.language.
  const defined = [
    "cpp",
    "dotnet",
    "erlang",
    "go",
    "java",
    "nodejs",
    "php",
    "python",
    "ruby",
    "rust",
    "swift",
    "webjs",
  ];
  const language = value("telemetry.sdk.language") as { stringValue: string };
  ok(defined.includes(language.stringValue), language.stringValue);
  equal(language.stringValue, "nodejs");
  deepEqual(value("process.runtime.name"), { stringValue: "deno" });
  deepEqual(value("process.runtime.version"), { stringValue: Deno.version.deno });
});

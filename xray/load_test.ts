import { equal, rejects, throws } from "node:assert/strict";
import { loadTrace, parseTrace, TraceFormatError } from "./load.ts";
import { Recorder } from "./recorder.ts";
import { toHtml } from "./html.ts";

Deno.test("parseTrace round-trips a recorded trace", () => {
  const rec = new Recorder({ name: "rt" });
  rec.startSpan("run", "rt", { parent: null }).end({ output: 1 });
  const t = parseTrace(JSON.stringify(rec.toJSON()));
  equal(t.name, "rt");
  equal(t.spans[0].output, 1);
});

Deno.test("bad input fails with one sentence naming the problem", async () => {
  throws(
    () => parseTrace("{nope", "x.json"),
    (e: Error) => e instanceof TraceFormatError && /x.json is not valid JSON/.test(e.message),
  );
  throws(
    () => parseTrace('{"format":"other"}', "x.json"),
    /format is "other", expected "loom-trace\/1"/,
  );
  throws(
    () =>
      parseTrace(
        '{"format":"loom-trace/1","traceId":"a","spans":[{"id":"1","kind":"weird"}]}',
        "x.json",
      ),
    /span 0 of x.json has no valid parentId/,
  );
  await rejects(loadTrace("/nonexistent/trace.json"), /\/nonexistent\/trace.json does not exist/);
});

Deno.test("a trace that uses a span id twice is rejected with one sentence", () => {
  const span = (id: string, parentId: string | null) => ({
    id,
    parentId,
    kind: "step",
    name: id,
    startTime: 0,
    endTime: 1,
    startOffset: 0,
    duration: 1,
    status: "ok",
  });
  const doc = {
    format: "loom-trace/1",
    traceId: "t",
    spans: [span("a", null), span("b", "a"), span("a", "b")],
  };
  throws(
    () => parseTrace(JSON.stringify(doc), "dup.json"),
    (e: Error) =>
      e instanceof TraceFormatError &&
      e.message === 'span 2 of dup.json has the same id as span 0 ("a"); ' +
          "span ids must be unique within a trace",
  );
});

Deno.test("an xray page is a trace file too: parseTrace reads its trace back", () => {
  const rec = new Recorder({ name: "page" });
  const root = rec.startSpan("run", "page", { parent: null });
  rec.startSpan("tool", "t", { parent: root }).end({ output: "</script>" });
  root.end({ output: 1 });
  const trace = rec.toJSON();
  const back = parseTrace(toHtml(trace), "t.html");
  equal(back.spans.length, 2);
  equal(back.spans[1].output, "</script>");
  equal(back.traceId, trace.traceId);
  throws(
    () => parseTrace(toHtml(trace).replace(/m\.core:[A-Za-z0-9+/=]+/, "m.core:AAAA"), "bad.html"),
    /bad.html is an xray page whose data cannot be read/,
  );
});

Deno.test("an OTLP JSON document is a trace file too: toOtlpJson's output reads back as the same spans", async () => {
  const { toOtlpJson } = await import("./otlp.ts");
  const rec = new Recorder({ name: "otlp-rt" });
  const run = rec.startSpan("run", "otlp-rt", { parent: null, input: { goal: "x" } });
  const tool = rec.startSpan("tool", "execute_tool read", { parent: run, tags: ["io"] });
  tool.meta({ note: "kept" }).end({ output: { bytes: 3 } });
  rec.startSpan("step", "step 0", { parent: run }).end({ error: new Error("boom") });
  run.end({ output: "done" });
  const original = rec.toJSON();
  const t = parseTrace(JSON.stringify(toOtlpJson(original)), "otel.json");
  equal(t.traceId, original.traceId);
  equal(t.name, "otlp-rt");
  const shape = (s: (typeof original.spans)[number]) =>
    JSON.stringify([
      s.id,
      s.parentId,
      s.kind,
      s.name,
      s.status,
      s.input,
      s.output,
      s.tags,
      s.meta,
      s.error?.message,
    ]);
  equal(JSON.stringify(t.spans.map(shape)), JSON.stringify(original.spans.map(shape)));
  equal(Object.keys(t.spans[1].attributes).some((k) => k.startsWith("loom.")), false);
});

Deno.test("an OTLP JSON document from another tool gets kinds from GenAI attributes; xray serve lists and serves it", async () => {
  const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n);
  const span = (id: string, parent: string | undefined, name: string, op?: string) => ({
    traceId: "ab".repeat(16),
    spanId: id,
    ...(parent ? { parentSpanId: parent } : {}),
    name,
    kind: 1,
    startTimeUnixNano: nanos(1_700_000_000_000),
    endTimeUnixNano: nanos(1_700_000_000_250),
    attributes: op ? [{ key: "gen_ai.operation.name", value: { stringValue: op } }] : [],
    status: { code: 0 },
  });
  const doc = {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "other" } }] },
      scopeSpans: [{
        spans: [
          span("0000000000000003", "0000000000000001", "execute_tool ls", "execute_tool"),
          span("0000000000000002", "0000000000000001", "chat gpt", "chat"),
          span("0000000000000001", undefined, "agent"),
        ],
      }],
    }],
  };
  const t = parseTrace(JSON.stringify(doc), "other.json");
  equal(t.name, "other");
  equal(t.spans[0].kind, "run");
  equal(
    t.spans.map((s) => `${s.kind}:${s.name}:${s.duration}`).sort().join(" "),
    "llm:chat gpt:250 run:agent:250 tool:execute_tool ls:250",
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/other.json`, JSON.stringify(doc));
    const { createTraceHandler, dirSource } = await import("./serve.ts");
    const handler = createTraceHandler(dirSource(dir));
    for (const path of ["/", "/runs/other", "/runs/other/trace.json"]) {
      const response = await handler(new Request(`http://127.0.0.1${path}`));
      equal(response.status, 200, path);
      await response.body?.cancel();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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

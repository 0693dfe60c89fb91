// A failed MCP tool call is stored as a completed call whose outcome is `{ok: false}` (so resume
// replays it to the LLM); in every trace of the run (live `--trace`, rebuilt from the store,
// replayed) it is a failed tool span, which OTLP exports as status ERROR with an exception event.
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "@loom/runner";
import { loadTrace, type OtlpSpan, toOtlpJson, type TraceData } from "@loom/xray";
import { startFakeOpenAi } from "./llm/fake_openai_server.ts";
import { traceChatRun } from "./store_trace.ts";
import { Recorder } from "@loom/xray";
import { chatTracer } from "./trace.ts";
import { runCli, tempWorkspace, testdata } from "./testing.ts";

/** The OTLP span of the tool named `name`. */
function otlpTool(trace: TraceData, name: string): OtlpSpan {
  const spans = toOtlpJson(trace).resourceSpans[0].scopeSpans[0].spans;
  const span = spans.find((s) =>
    s.name.includes(name) &&
    s.attributes.some((a) =>
      a.key === "loom.span.kind" && "stringValue" in a.value &&
      a.value.stringValue === "tool"
    )
  );
  assert.ok(span, `a tool span for ${name} in ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

function assertFailed(span: OtlpSpan, message: RegExp): void {
  assert.equal(span.status.code, 2, JSON.stringify(span.status));
  assert.match(span.status.message ?? "", message);
  const exception = span.events.find((e) => e.name === "exception");
  assert.ok(exception, "an exception event");
  const attr = (key: string) =>
    (exception.attributes.find((a) => a.key === key)?.value as { stringValue?: string })
      ?.stringValue;
  assert.equal(attr("exception.type"), "ToolError");
  assert.match(attr("exception.message") ?? "", message);
}

Deno.test("trace: a failed MCP tool call exports as an ERROR span with an exception event", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const mcp = join(t.dir, "mcp.json");
  await Deno.writeTextFile(
    mcp,
    JSON.stringify({
      fx: {
        command: Deno.execPath(),
        args: ["run", "--quiet", "--allow-env", testdata("mcp", "fixture_server.ts")],
      },
    }),
  );
  const fake = await startFakeOpenAi({
    script: [
      { kind: "tools", calls: [{ id: "call_1", name: "fx__is_error", arguments: "{}" }] },
      { kind: "text", text: "The disk is full." },
    ],
  });
  const live = join(t.dir, "trace.json");
  try {
    const out = await runCli([
      "chat",
      "is the disk ok?",
      "--run-id",
      "disk",
      "--db",
      db,
      "--workspace",
      t.ws,
      "--mcp-config",
      mcp,
      "--base-url",
      fake.baseUrl,
      "--trace",
      live,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /✗ fx__is_error: error: fx__is_error reported an error: disk full/);
  } finally {
    await fake.close();
  }
  const failure = /^fx__is_error reported an error: disk full$/;
  // Live, as `--trace` recorded it.
  assertFailed(otlpTool(await loadTrace(live), "fx__is_error"), failure);
  // Rebuilt from the store, as `serve`'s GET /runs/:id/trace draws it.
  const store = openStore(db);
  try {
    const call = (await store.listCalls("disk")).find((c) => c.name === "fx__is_error")!;
    assert.equal(call.status, "completed", "stored as a result the LLM saw");
    assert.equal(JSON.parse(call.result!).ok, false);
    assertFailed(otlpTool((await traceChatRun(store, "disk"))!, "fx__is_error"), failure);
  } finally {
    store.close();
  }
});

Deno.test("trace: a replayed failed tool call is still a failed span", () => {
  const tracer = chatTracer(new Recorder({ name: "r" }));
  tracer.observer.onToolCall?.({
    runId: "r",
    step: 0,
    stepIndex: 0,
    name: "fx__is_error",
    args: {},
    key: "tool:1:call_1",
    replayed: true,
    result: { ok: false, output: "error: fx__is_error reported an error: disk full" },
    attempts: 0,
    durationMs: 0,
    startedAt: Date.now(),
  });
  tracer.observer.onToolCall?.({
    runId: "r",
    step: 0,
    stepIndex: 0,
    name: "read_file",
    args: {},
    key: "tool:1:call_2",
    replayed: true,
    result: { ok: true, output: "1  x" },
    attempts: 0,
    durationMs: 0,
    startedAt: Date.now(),
  });
  const trace = tracer.recorder.toJSON();
  assertFailed(otlpTool(trace, "fx__is_error"), /^fx__is_error reported an error: disk full$/);
  assert.equal(otlpTool(trace, "read_file").status.code, 1);
});

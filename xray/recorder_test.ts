import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import {
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  LOOM_COST_USD,
  LOOM_TOOL_IDEMPOTENCY_KEY,
  LOOM_TOOL_REPLAYED,
} from "./attributes.ts";
import { REDACTED } from "./capture.ts";
import { traceIdFor } from "./ids.ts";
import { loadTrace } from "./load.ts";
import type { Span, TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";
import { meta, recordLlm, recordTool, startSpan, tag, trace, traced } from "./trace.ts";

const byName = (spans: Span[], name: string): Span => {
  const s = spans.find((x) => x.name === name);
  ok(s, `no span named ${name}`);
  return s;
};

Deno.test("spans carry the model's fields with OTLP-shaped ids and both clocks", () => {
  const rec = new Recorder({ name: "m", traceId: "00000000000000000000000000c0ffee" });
  const run = rec.startSpan("run", "m", { input: { goal: "g" } });
  const step = rec.startSpan("step", "step 1", { parent: run, attributes: { "loom.step": 1 } });
  step.end({ output: { n: 1 } });
  run.end({ output: "done" });
  const t = rec.toJSON();
  equal(t.format, "loom-trace/1");
  equal(t.traceId, "00000000000000000000000000c0ffee");
  equal(t.spans.length, 2);
  const [r, s] = t.spans;
  match(r.id, /^[0-9a-f]{16}$/);
  equal(s.parentId, r.id);
  equal(r.parentId, null);
  equal(s.kind, "step");
  equal(s.status, "ok");
  deepEqual(s.output, { n: 1 });
  deepEqual(r.input, { goal: "g" });
  equal(s.attributes["loom.step"], 1);
  ok(r.endTime !== null && r.endTime >= r.startTime);
  ok(r.duration !== null && r.duration >= s.duration!);
  ok(s.startOffset >= r.startOffset);
  // Ids are reproducible for a given trace id.
  const again = new Recorder({ traceId: "00000000000000000000000000c0ffee" });
  equal(again.startSpan("run", "x").id, r.id);
});

Deno.test("recordLlm sets GenAI attributes, tokens and cost; unknown models get tokens but no cost", () => {
  const rec = new Recorder({ prices: { "house-model": { input: 1, output: 2 } } });
  const a = rec.recordLlm({
    parent: null,
    model: "gpt-4o-mini",
    provider: "openai",
    messages: [{ role: "user", content: "hi" }],
    response: { role: "assistant", content: "hello" },
    inputTokens: 1_000_000,
    outputTokens: 1_000_000,
    durationMs: 40,
  }).data;
  equal(a.kind, "llm");
  equal(a.name, "chat gpt-4o-mini");
  equal(a.attributes[GEN_AI_OPERATION_NAME], "chat");
  equal(a.attributes[GEN_AI_REQUEST_MODEL], "gpt-4o-mini");
  equal(a.attributes[GEN_AI_PROVIDER_NAME], "openai");
  equal(a.attributes[GEN_AI_USAGE_INPUT_TOKENS], 1_000_000);
  equal(a.attributes[GEN_AI_USAGE_OUTPUT_TOKENS], 1_000_000);
  equal(a.attributes[LOOM_COST_USD], 0.75);
  equal(a.duration, 40);
  deepEqual(a.input, [{ role: "user", content: "hi" }]);
  const b =
    rec.recordLlm({ parent: null, model: "mystery-7b", inputTokens: 5, outputTokens: 6 }).data;
  equal(b.attributes[GEN_AI_USAGE_INPUT_TOKENS], 5);
  equal(b.attributes[LOOM_COST_USD], undefined);
  const c =
    rec.recordLlm({ parent: null, model: "house-model", inputTokens: 500_000, outputTokens: 0 })
      .data;
  equal(c.attributes[LOOM_COST_USD], 0.5);
});

Deno.test("recordTool carries name, arguments, result, idempotency key and replay flag", () => {
  const rec = new Recorder();
  const t = rec.recordTool({
    parent: null,
    name: "read_file",
    args: { path: "a.txt" },
    result: "hello",
    key: "run1:3:read_file",
    replayed: true,
    startTime: 1000,
    endTime: 1025,
  }).data;
  equal(t.kind, "tool");
  equal(t.attributes[GEN_AI_TOOL_NAME], "read_file");
  equal(t.attributes[LOOM_TOOL_IDEMPOTENCY_KEY], "run1:3:read_file");
  equal(t.attributes[LOOM_TOOL_REPLAYED], true);
  deepEqual(t.input, { path: "a.txt" });
  equal(t.output, "hello");
  equal(t.startTime, 1000);
  equal(t.duration, 25);
  const failed = rec.recordTool({ parent: null, name: "rm", error: new Error("denied") }).data;
  equal(failed.status, "error");
  deepEqual({ type: failed.error?.type, message: failed.error?.message }, {
    type: "Error",
    message: "denied",
  });
});

Deno.test("spans rebuilt with explicit times keep those times on the trace's axis", () => {
  const rec = new Recorder({ name: "rebuilt", startTime: 1_700_000_000_000 });
  const run = rec.startSpan("run", "r", { parent: null, startTime: 1_700_000_000_000 });
  const step = rec.startSpan("step", "s", { parent: run, startTime: 1_700_000_000_100 });
  step.end({ endTime: 1_700_000_000_350 });
  run.end({ endTime: 1_700_000_001_000 });
  const [r, s] = rec.toJSON().spans;
  equal(r.startOffset, 0);
  equal(r.duration, 1000);
  equal(s.startOffset, 100);
  equal(s.duration, 250);
  equal(s.endTime, 1_700_000_000_350);
});

Deno.test("nested spans find their parent across await in concurrent branches", async () => {
  let data: TraceData | undefined;
  await trace(async (rec) => {
    const branch = traced("branch", async (label: string, delays: number[]) => {
      for (const d of delays) {
        await new Promise((r) => setTimeout(r, d));
        recordTool({ name: `tool-${label}`, args: { d } });
      }
      return label;
    }, { kind: "branch" });
    // Interleaved awaits: each tool call must land under its own branch.
    await Promise.all([branch("a", [5, 1, 5]), branch("b", [1, 5, 1]), branch("c", [3, 3, 3])]);
    data = rec.toJSON();
  }, { name: "concurrent" });
  const spans = data!.spans as Span[];
  const root = spans.find((s) => s.kind === "run")!;
  const branches = spans.filter((s) => s.kind === "branch");
  equal(branches.length, 3);
  for (const b of branches) {
    equal(b.parentId, root.id);
    const tools = spans.filter((s) => s.parentId === b.id);
    equal(tools.length, 3);
    ok(tools.every((t) => t.name === `execute_tool tool-${b.output}`), `tools under ${b.output}`);
  }
});

Deno.test("trace() writes the trace in finally, even when the program throws", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/trace.json`;
    await rejects(
      trace(() => {
        recordLlm({ model: "gpt-4o", inputTokens: 3, outputTokens: 4 });
        throw new TypeError("bad state");
      }, { name: "crashy", path }),
      TypeError,
    );
    const t = await loadTrace(path);
    equal(t.name, "crashy");
    const root = t.spans.find((s) => s.parentId === null)!;
    equal(root.status, "error");
    equal(root.error?.type, "TypeError");
    equal(root.error?.message, "bad state");
    equal(t.spans.filter((s) => s.kind === "llm").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace() can write the HTML page directly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await trace(() => "ok", { name: "page", path: `${dir}/t.html` });
    const html = await Deno.readTextFile(`${dir}/t.html`);
    match(html, /^<!DOCTYPE html>/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tag() and meta() land on the current span; non-JSON meta never breaks export", async () => {
  let data: TraceData | undefined;
  await trace(async (rec) => {
    await traced("plan", () => {
      tag("golden", "slow");
      tag("golden");
      meta({ attempt: 2, when: new Date(0), big: 10n, fn: () => 1, password: "hunter2" });
    })();
    data = rec.toJSON();
  });
  const plan = byName(data!.spans, "plan");
  deepEqual(plan.tags, ["golden", "slow"]);
  deepEqual(plan.meta, {
    attempt: 2,
    when: "1970-01-01T00:00:00.000Z",
    big: "10n",
    fn: "[Function fn]",
    password: REDACTED,
  });
  ok(JSON.stringify(data).length > 0);
});

Deno.test("outside a trace the ambient API records nothing and returns results unchanged", () => {
  const f = traced("f", (x: number) => x * 2);
  equal(f(21), 42);
  const s = startSpan("step", "nothing");
  equal(s.recorder, null);
  s.tag("x").end();
  equal(recordLlm({ model: "gpt-4o", inputTokens: 1 }).recorder, null);
  tag("ignored");
});

Deno.test("inputs, outputs and errors are captured safely and redaction is counted", () => {
  const rec = new Recorder({ maxValueBytes: 256 });
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const s = rec.startSpan("step", "s", {
    parent: null,
    input: { headers: { Authorization: "Bearer abcdefghijklmnop" }, api_key: "sk-live", cyclic },
  });
  s.end({
    output: "x".repeat(10_000),
    error: new Error("token=Bearer abcdefghijklmnopqrstuvwxyz failed"),
  });
  const t = rec.toJSON();
  const span = t.spans[0];
  deepEqual(span.input, {
    headers: { Authorization: REDACTED },
    api_key: REDACTED,
    cyclic: { name: "loop", self: "[Circular]" },
  });
  match(span.output as string, /\[truncated, 10000 bytes in total\]$/);
  ok(JSON.stringify(span.output).length <= 256);
  equal(span.error?.message, `token=Bearer ${REDACTED} failed`);
  equal(t.redactions, 2);
});

Deno.test("a stream file keeps the spans of a run that never finished", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/trace.jsonl`;
    const rec = new Recorder({ name: "killed", stream: path });
    const run = rec.startSpan("run", "killed", { parent: null });
    rec.startSpan("step", "step 1", { parent: run }).end({ output: 1 });
    rec.addPossibleExits([{ kind: "return", location: "file:///l.ts:3:5" }]);
    rec.startSpan("step", "step 2", { parent: run }); // the process dies here
    const t = await loadTrace(path);
    equal(t.name, "killed");
    deepEqual(t.meta.exits, [{ kind: "return", location: "file:///l.ts:3:5" }]);
    deepEqual(t.spans.map((s) => [s.name, s.status]), [["killed", "unset"], ["step 1", "ok"], [
      "step 2",
      "unset",
    ]]);
    // A torn last line (killed mid-write) is dropped, not an error.
    await Deno.writeTextFile(path, '{"id":"abc', { append: true });
    equal((await loadTrace(path)).spans.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("toJSON can be called repeatedly without recounting redactions", () => {
  const rec = new Recorder({ meta: { apiKey: "sk-abc" } });
  rec.startSpan("step", "s", { parent: null, input: { password: "p" } }).end();
  equal(rec.toJSON().redactions, 2);
  equal(rec.toJSON().redactions, 2);
  equal(rec.toJSON().meta.apiKey, REDACTED);
});

Deno.test("trace() still writes the trace when the program calls Deno.exit or throws uncaught", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("./mod.ts", import.meta.url).href;
    const script = (ending: string) => `
      import { recordTool, trace } from "${mod}";
      await trace(async () => {
        recordTool({ name: "read_file", args: { path: "x" } });
        await new Promise((r) => setTimeout(r, 5));
        ${ending}
      }, { name: "script", path: Deno.args[0] });`;
    const cases: Array<[string, string, number]> = [
      ["exit", "Deno.exit(3);", 3],
      ["throw", "throw new Error('crashed');", 1],
    ];
    for (const [name, ending, expectedCode] of cases) {
      await Deno.writeTextFile(`${dir}/${name}.ts`, script(ending));
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", `${dir}/${name}.ts`, `${dir}/${name}.json`],
        stdout: "null",
        stderr: "piped",
      }).output();
      equal(out.code, expectedCode, name);
      const t = await loadTrace(`${dir}/${name}.json`);
      const root = t.spans.find((s) => s.parentId === null)!;
      ok(root.endTime !== null, name);
      equal(t.spans.filter((s) => s.kind === "tool").length, 1, name);
      if (name === "throw") equal(root.error?.message, "crashed");
      else equal(root.attributes["loom.process.exited"], true);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("traceIdFor derives the same valid trace id from the same run id", () => {
  const a = traceIdFor("run-42");
  match(a, /^[0-9a-f]{32}$/);
  equal(traceIdFor("run-42"), a);
  ok(traceIdFor("run-43") !== a);
  equal(new Recorder({ traceId: a }).traceId, a);
});

Deno.test("generators are timed until they finish, and spans made while iterating nest under them", async () => {
  let data: TraceData | undefined;
  await trace(async (rec) => {
    const pages = traced("pages", async function* (n: number) {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setTimeout(r, 2));
        recordTool({ name: "fetch_page", args: { i } });
        yield i;
      }
      return "all";
    });
    const seen: number[] = [];
    for await (const p of pages(3)) seen.push(p);
    deepEqual(seen, [0, 1, 2]);
    const words = traced("words", function* () {
      yield "a";
      yield "b";
      yield "c";
    });
    for (const w of words()) if (w === "b") break; // stopped early
    data = rec.toJSON();
  });
  const pages = byName(data!.spans, "pages");
  deepEqual(pages.output, { yielded: 3, returned: "all" });
  const fetched = data!.spans.filter((s) => s.parentId === pages.id && s.kind === "tool");
  equal(fetched.length, 3);
  // Timed until it finished: the span closes after the last page it fetched, not when the
  // generator object was made (each fetch comes a timer later). Tool spans are recorded with
  // wall-clock times, so the comparison is on the wall clock (endTime), the same for both.
  const lastFetch = Math.max(...fetched.map((s) => s.endTime ?? Number.NaN));
  ok(
    pages.endTime !== null && pages.endTime >= lastFetch,
    `pages ends at ${pages.endTime}, its last fetch at ${lastFetch}`,
  );
  const words = byName(data!.spans, "words");
  equal(words.status, "ok");
  deepEqual(words.output, { yielded: 2, stopped: true });
});

import assert, { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseTrace, Recorder, summarize, toHtml, type TraceData } from "@loom/xray";
import {
  defineAgent,
  LoomError,
  openStore,
  recur,
  resumeRun,
  sendSignal,
  startRun,
} from "./mod.ts";
import { traceObserver, traceRun } from "./trace.ts";
import looper from "./testdata/looper_agent.ts";

const child = defineAgent({
  name: "child",
  initialState: (n: number) => ({ n }),
  step: (s: { n: number }) => ({ doubled: s.n * 2 }),
});

let flaky = 0;
const agent = defineAgent({
  name: "traced",
  retry: { maxAttempts: 3, initialDelayMs: 1, jitter: 0 },
  initialState: () => ({ i: 0, total: 0 }),
  async step(state: { i: number; total: number }, ctx) {
    if (state.i === 0) {
      const text = await ctx.callTool("read", { path: "a.txt" }, () => "hello");
      return recur({ ...state, i: 1, total: text.length });
    }
    if (state.i === 1) {
      if (flaky++ === 0) throw new LoomError("network blip", { category: "transient" });
      const r = await ctx.child(child, { runId: "traced/kid", input: state.total });
      return recur({ ...state, i: 2, total: r.doubled });
    }
    await ctx.callTool("notify", { to: "ops" }, () => "sent"); // replayed after the wait
    const ok = await ctx.waitForSignal<{ ok: boolean }>("approve");
    return { total: state.total, approved: (ok as { ok: boolean }).ok };
  },
});

function spansOf(trace: TraceData, kind: string) {
  return trace.spans.filter((s) => s.kind === kind);
}

Deno.test("traceObserver records runs, steps, tools, retries and child runs as they happen", async () => {
  flaky = 0;
  const store = openStore(":memory:");
  const recorder = new Recorder({ name: "live" });
  const observer = traceObserver(recorder);
  const first = await startRun(agent, { store, runId: "traced", observer });
  assertEquals(first.status, "waiting");
  await sendSignal(store, "traced", "approve", { ok: true });
  const done = await resumeRun(agent, { store, runId: "traced", observer });
  assertEquals(done.status, "completed");
  assertEquals(done.result, { total: 10, approved: true });

  const trace = recorder.toJSON();
  const runs = spansOf(trace, "run");
  assertEquals(runs.map((r) => r.attributes["loom.run.id"]).sort(), [
    "traced",
    "traced",
    "traced/kid",
  ]);
  const kid = runs.find((r) => r.attributes["loom.run.id"] === "traced/kid")!;
  const kidParent = trace.spans.find((s) => s.id === kid.parentId)!;
  assertEquals(kidParent.kind, "step", "a child run hangs under the parent's step");
  const tools = spansOf(trace, "tool");
  assertEquals(
    tools.map((t) => [t.attributes["gen_ai.tool.name"], t.attributes["loom.tool.replayed"]]),
    [["read", false], ["notify", false], ["notify", true]],
  );
  const failedStep = spansOf(trace, "step").find((s) => s.status === "error")!;
  assertEquals(failedStep.attributes["loom.error.category"], "transient");
  assert(failedStep.tags.includes("retry"));
  const totals = summarize(trace).totals;
  assertEquals(totals.toolCalls, 3);
  assert(trace.spans.every((s) => s.endTime !== null), "every span is closed");
  store.close();
});

Deno.test("traceRun rebuilds a whole run from the store, children nested, times recorded", async () => {
  flaky = 0;
  const store = openStore(":memory:");
  await startRun(agent, { store, runId: "traced" });
  await sendSignal(store, "traced", "approve", { ok: false });
  await resumeRun(agent, { store, runId: "traced" });

  const trace = await traceRun(store, "traced");
  assertEquals(trace.meta.runId, "traced");
  const steps = spansOf(trace, "step").filter((s) => s.attributes["loom.run.id"] === "traced");
  assertEquals(steps.map((s) => s.attributes["loom.step.index"]), [0, 1, 2]);
  assertEquals(steps[2].output, { total: 10, approved: false });
  assertEquals(steps[2].attributes["loom.exit.kind"], "return");
  assertEquals(steps[1].input, { i: 1, total: 5 }, "each step's input is the state before it");
  const kidRun = spansOf(trace, "run").find((s) => s.attributes["loom.run.id"] === "traced/kid")!;
  assertEquals(trace.spans.find((s) => s.id === kidRun.parentId)?.name, "step 1");
  const errors = spansOf(trace, "error");
  assertEquals(errors.length, 1);
  assertEquals(errors[0].attributes["loom.error.category"], "transient");
  for (const s of trace.spans) {
    assert(s.startTime >= trace.startTime - 1, `${s.name} starts within the run`);
  }
  // The page (its data compressed) holds the child run too.
  const page = parseTrace(toHtml(trace));
  assert(page.spans.some((s) => s.attributes["loom.run.id"] === "traced/kid"));
  store.close();
});

Deno.test("traceRun names an unknown run in one sentence", async () => {
  const store = openStore(":memory:");
  try {
    await traceRun(store, "nope");
    assert(false, "expected an error");
  } catch (e) {
    assertEquals((e as Error).message, `no run "nope" in :memory:`);
  }
  store.close();
});

Deno.test("with exits, a traced run records where each step left and the exits its source has", async () => {
  const file = new URL("./testdata/looper_agent.ts", import.meta.url).href;
  const source = await Deno.readTextFile(new URL(file));
  const lines = source.split("\n");
  const line = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
  const store = openStore(":memory:");
  const recorder = new Recorder();
  const exits = { step: looper.step as never, file, source };
  await startRun(looper, { store, runId: "l", observer: traceObserver(recorder, { exits }) });
  const trace = recorder.toJSON();
  const recurAt = `${file}:${line("return recur({ n: state.n + 1 })")}:12`;
  const returnAt = `${file}:${line("if (state.n >= 2) return")}:23`;
  assertEquals(
    (trace.meta.exits as { kind: string; location: string }[]).map((e) => [e.kind, e.location]),
    [["return", returnAt], ["recur", recurAt]],
  );
  const taken = spansOf(trace, "step").map((s) => [
    s.attributes["loom.exit.kind"],
    s.attributes["loom.exit.location"],
  ]);
  assertEquals(taken, [["recur", recurAt], ["recur", recurAt], ["return", returnAt]]);
  store.close();
});

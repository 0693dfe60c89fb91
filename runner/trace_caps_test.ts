import assert, { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseTrace, type Span, toHtml } from "@loom/xray";
import { defineAgent, openStore, recur, startRun } from "./mod.ts";
import { traceRun } from "./trace.ts";

// Every tenth state (steps 5, 15, ...) is big; the rest are small. 80 steps: several pages.
const padOf = (i: number) => "é".repeat(i % 10 === 5 ? 1500 : 20); // 2 UTF-8 bytes each
type S = { i: number; pad: string };
const agent = defineAgent({
  name: "caps",
  initialState: () => ({ i: 0, pad: padOf(0) }),
  step: (s: S) => s.i >= 79 ? { done: s.i } : recur({ i: s.i + 1, pad: padOf(s.i + 1) }),
});

const utf8 = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).length;
const stepSpans = (spans: Span[]) =>
  spans.filter((s) => s.kind === "step").sort((a, b) =>
    Number(a.attributes["loom.step.index"]) - Number(b.attributes["loom.step.index"])
  );

Deno.test("traceRun puts a marker in place of states over the per-state cap or the budget", async () => {
  const store = openStore(":memory:");
  await startRun(agent, { store, runId: "caps" });
  const full = stepSpans((await traceRun(store, "caps")).spans);
  const perState = 1024, total = 2000;
  const trace = await traceRun(store, "caps", {
    maxStateBytes: perState,
    maxStateBytesTotal: total,
  });
  const capped = stepSpans(trace.spans);
  assertEquals(capped.length, 80);

  // The expected omissions, from sizes and order alone: the initial state, then each step's.
  let left = total, omitted = 0;
  const expected = new Map<number, unknown>(); // step -> what the checkpoint after it holds
  for (let step = -1; step < 79; step++) {
    const state = { i: step + 1, pad: padOf(step + 1) };
    const bytes = utf8(state);
    if (bytes <= perState && bytes <= left) {
      left -= bytes;
      expected.set(step, state);
      continue;
    }
    omitted++;
    expected.set(step, {
      $loom: "state omitted",
      bytes,
      step,
      hint: step < 0
        ? "the state run caps started from (its input, or the checkpoint it was forked from)"
        : `loom-runner history --run-id caps --db :memory: --from-step ${step} --limit 1 --json`,
    });
  }
  // The budget ran out part-way, and big states were omitted before it did.
  const firstOverBudget = [...expected].find(([s, v]) => s % 10 !== 4 && "$loom" in (v as object));
  assert(firstOverBudget && firstOverBudget[0] > 20 && firstOverBudget[0] < 70);
  assert("$loom" in (expected.get(4) as object), "step 4's state (the big one of step 5) omitted");
  assertEquals(expected.get(3), { i: 4, pad: padOf(4) });

  for (const span of capped) {
    const step = Number(span.attributes["loom.step.index"]);
    assertEquals(span.input, expected.get(step - 1), `input of step ${step}`);
    if (step < 79) assertEquals(span.output, expected.get(step), `output of step ${step}`);
    else assertEquals(span.output, { done: 79 }, "the final step's output is the result");
    const kept = full[step];
    if (!("$loom" in (expected.get(step - 1) as object))) {
      assertEquals(span.input, kept.input, `step ${step}'s kept input is as without caps`);
    }
  }
  assertEquals(trace.meta.statesOmitted, omitted);
  const run = trace.spans.find((s) => s.kind === "run")!;
  assertEquals(run.attributes["loom.trace.states_omitted"], omitted);
  // Without caps nothing is omitted, and the page holds the markers.
  assertEquals((await traceRun(store, "caps")).meta.statesOmitted, undefined);
  const page = parseTrace(toHtml(trace));
  assertEquals(stepSpans(page.spans)[6].input, expected.get(5));
  store.close();
});

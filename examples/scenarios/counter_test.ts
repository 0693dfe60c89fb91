// Scenarios for the counter agent (examples/counter_agent.ts): a plain run, and a run whose
// process is SIGKILLed after step 2 and resumed. Both must leave the same trace behind.
import assert from "node:assert/strict";
import { assertMatchesGolden, scenario } from "@loom/runner/testing";
import counter from "../counter_agent.ts";

scenario("counter counts to 4", { agent: counter, input: { target: 4 } }, async (run) => {
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { current: 4, steps: 4 });
  assert.equal(run.history.steps.length, 5);
  await assertMatchesGolden(run, "golden/counter.json");
});

scenario("counter survives SIGKILL after step 2", {
  agent: counter,
  input: { target: 4 },
  faults: { crashAfterStep: 2 },
}, async (run) => {
  assert.equal(run.crashes, 1);
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { current: 4, steps: 4 });
  // The resume took over from the killed process: one start, one resume, no step twice.
  const kinds = run.history.events.map((e) => e.kind);
  assert.ok(kinds.includes("resumed"), kinds.join(","));
  assert.deepEqual(run.history.steps.map((s) => s.step), [0, 1, 2, 3, 4]);
  // Same steps, states and result as the uninterrupted run; only the history events differ.
  await assertMatchesGolden(run, "golden/counter.json", { ignore: ["event"], update: false });
});

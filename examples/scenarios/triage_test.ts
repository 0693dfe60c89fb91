// Scenarios for the triage agent (agents/triage_agent.ts): replayed LLM, then the same ticket
// with a flaky tool, a slow tool, and a SIGKILL between the two LLM turns. Each must end with
// the same answer and, apart from the failed attempts, the same trace as the golden run.
import assert from "node:assert/strict";
import { assertMatchesGolden, scenario } from "@loom/runner/testing";
import triage from "./agents/triage_agent.ts";
import { triageScenario } from "./triage_options.ts";

const ANSWER = "high: the api service is degraded with a 12% error rate.";

scenario("triage answers from the recorded LLM", triageScenario(triage), async (run) => {
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { answer: ANSWER, turns: 2 });
  assert.equal(run.llmRequests, 2);
  // The agent's `llm` tool calls become LLM spans with the recorded usage and its cost.
  const llm = run.trace.spans.filter((s) => s.kind === "llm");
  assert.deepEqual(
    llm.map((
      s,
    ) => [s.attributes["gen_ai.usage.input_tokens"], s.attributes["gen_ai.usage.output_tokens"]]),
    [[96, 14], [131, 17]],
  );
  assert.ok(llm.every((s) => typeof s.attributes["loom.cost.usd"] === "number"));
  await assertMatchesGolden(run, "golden/triage.json");
});

scenario(
  "triage survives a status tool that fails twice",
  triageScenario(triage, { faults: { tools: [{ name: "status", failTimes: 2 }] } }),
  async (run) => {
    assert.equal(run.status, "completed");
    assert.deepEqual(run.result, { answer: ANSWER, turns: 2 });
    const status = run.history.calls.find((c) => c.name === "status")!;
    assert.equal(status.attempts, 3);
    assert.equal(run.history.failedAttempts.filter((a) => a.scope !== "").length, 2);
    // Apart from the two failed attempts, the run is the golden one.
    await assertMatchesGolden(run, "golden/triage.json", { ignore: ["error"], update: false });
  },
);

scenario(
  "triage retries a status tool that is slower than its 200 ms timeout",
  triageScenario(triage, { faults: { tools: [{ name: "status", delayMs: 5_000 }] } }),
  async (run) => {
    assert.equal(run.status, "completed");
    assert.deepEqual(run.result, { answer: ANSWER, turns: 2 });
    const [timedOut] = run.history.failedAttempts;
    assert.match(timedOut.error, /timed out|timeout/i);
    assert.equal(timedOut.errorCategory, "transient");
    await assertMatchesGolden(run, "golden/triage.json", { ignore: ["error"], update: false });
  },
);

scenario(
  "triage: SIGKILL after the first LLM turn, resume does not ask the LLM again",
  triageScenario(new URL("./agents/triage_agent.ts", import.meta.url), {
    faults: { crashAfterStep: 0 },
  }),
  async (run) => {
    assert.equal(run.crashes, 1);
    assert.equal(run.status, "completed");
    assert.deepEqual(run.result, { answer: ANSWER, turns: 2 });
    // Two recorded exchanges, two requests: the killed turn's LLM call was not repeated.
    assert.equal(run.llmRequests, 2);
    await assertMatchesGolden(run, "golden/triage.json", { ignore: ["event"], update: false });
  },
);

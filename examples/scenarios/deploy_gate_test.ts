// Scenarios for the deploy gate (agents/deploy_gate.ts): an approval that arrives in time, and
// one that arrives after the gate's 300 ms timeout, which must escalate instead of deploying.
import assert from "node:assert/strict";
import { assertMatchesGolden, scenario } from "@loom/runner/testing";
import gate from "./agents/deploy_gate.ts";

scenario("deploy gate: approval in time deploys", {
  agent: gate,
  input: { version: "1.4.2", approvalMs: 5_000 },
  signals: [{ name: "approve", data: { by: "alice" }, delayMs: 20 }],
}, async (run) => {
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { deployed: true, by: "alice" });
  assert.deepEqual(run.history.calls.map((c) => `${c.kind} ${c.name}`), [
    "tool build",
    "signal approve",
    "tool deploy",
  ]);
  await assertMatchesGolden(run, "golden/deploy-approved.json");
});

scenario("deploy gate: a late approval escalates and deploys nothing", {
  agent: gate,
  input: { version: "1.4.2", approvalMs: 300 },
  signals: [{ name: "approve", data: { by: "alice" }, delayMs: 1_000 }],
}, async (run) => {
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { deployed: false, reason: "no approval within 300 ms; escalated" });
  assert.ok(!run.history.calls.some((c) => c.name === "deploy"), "nothing may be deployed");
  assert.deepEqual(run.undelivered, ["approve"]);
  await assertMatchesGolden(run, "golden/deploy-late.json");
});

import assert from "node:assert/strict";
import { loadPlaybooks } from "./agents.ts";
import { matchScore, MockPlanner } from "./planner.ts";

const books = loadPlaybooks(new URL(".", import.meta.url).pathname);
const hit = (runId: string, actions: string) => ({
  runId,
  created: "",
  incident: "",
  actions,
  outcome: "succeeded",
  score: -1,
});

Deno.test("the mock planner picks the playbook that matches the incident", async () => {
  assert.deepEqual(books.map((b) => b.title).sort(), ["API latency", "Disk full"]);
  const planner = new MockPlanner();
  const latency = await planner.plan({
    incident: "incident: API latency",
    playbooks: books,
    memory: [],
  });
  assert.equal(latency.name, "API latency");
  assert.match(latency.description!, /matched playbook "API latency"/);
  const disk = await planner.plan({
    incident: "ENOSPC: disk full on /var",
    playbooks: books,
    memory: [],
  });
  assert.equal(disk.name, "Disk full");
  await assert.rejects(
    planner.plan({ incident: "printer on fire", playbooks: books, memory: [] }),
    /no playbook matches the incident \(playbooks in the workspace: API latency, Disk full\)/,
  );
});

Deno.test("memory of similar incidents tips the choice and is cited", async () => {
  const planner = new MockPlanner();
  // "slow volume" matches both playbooks once each (slow: latency keyword, volume: disk keyword).
  const incident = "slow volume";
  assert.equal(matchScore(incident, books[0]), matchScore(incident, books[1]));
  const plan = await planner.plan({
    incident,
    playbooks: books,
    memory: [hit("inc-7", "playbook: Disk full; diskctl rotate-logs /var")],
  });
  assert.equal(plan.name, "Disk full");
  assert.match(plan.description!, /similar past incidents: inc-7 \(succeeded\)/);
});

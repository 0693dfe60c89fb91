import assert from "node:assert/strict";
import { parsePlaybook, playbookToPlan, splitArgv } from "./playbook.ts";

Deno.test("splitArgv honours quotes and never interprets shell syntax", () => {
  assert.deepEqual(splitArgv(`grep -r "two words" 'a;b' $(x) |`), [
    "grep",
    "-r",
    "two words",
    "a;b",
    "$(x)",
    "|",
  ]);
  assert.deepEqual(splitArgv(`echo ""`), ["echo", ""]);
});

Deno.test("the api-latency playbook becomes a plan with a parallel group and a gate", () => {
  const file = new URL("./runbooks/api-latency.md", import.meta.url);
  const book = parsePlaybook(Deno.readTextFileSync(file), "api-latency.md");
  assert.deepEqual(book.title, "API latency");
  assert.ok(book.keywords.includes("latency"));
  assert.deepEqual(book.steps.length, 7);
  const plan = playbookToPlan(book);
  assert.deepEqual(plan.steps.length, 6); // step 7 is prose only
  assert.ok(plan.description?.includes("Post a summary"));
  const [status, latency, logs, restart, warmup, confirm] = plan.steps;
  assert.deepEqual(status.needs, []);
  assert.deepEqual(latency.needs, []);
  assert.deepEqual(logs.needs, []);
  assert.deepEqual(restart.needs, [status.id, latency.id, logs.id]);
  assert.deepEqual(restart.approve?.by, ["alice", "bob"]);
  assert.deepEqual(restart.run, ["svcctl", "restart", "api"]);
  assert.deepEqual(warmup.needs, [restart.id]);
  assert.deepEqual(confirm.verify, { outputContains: "latency: 120ms" });
  assert.deepEqual(status.verify, { outputContains: "active" });
});

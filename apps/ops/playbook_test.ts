import assert from "node:assert/strict";
import { parsePlaybook, playbookToPlan, splitArgv, stepIdOf } from "./playbook.ts";

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

Deno.test("playbook step ids are the number and whole words of the step's prose", () => {
  const ids = (name: string) =>
    playbookToPlan(
      parsePlaybook(
        Deno.readTextFileSync(new URL(`./runbooks/${name}`, import.meta.url)),
        name,
      ),
    ).steps.map((s) => s.id);
  assert.deepEqual(ids("api-latency.md"), [
    "1-check-service",
    "2-record-latency",
    "3-collect-warnings",
    "4-restart-service",
    "5-warm-caches",
    "6-confirm-latency-normal",
  ]);
  assert.deepEqual(ids("disk-full.md"), [
    "1-measure-usage",
    "2-list-biggest-files",
    "3-rotate-compress-logs",
    "4-remove-stale-temporary-files",
    "5-check-usage-below-85",
  ]);
  // Only the prose before the command counts; markers and filler words are left out.
  assert.equal(
    stepIdOf({ number: 9, text: '[approve: a] Restart it now: `svcctl restart x` expect "ok"' }),
    "9-restart",
  );
  assert.equal(
    stepIdOf({ number: 2, text: "`svcctl logs api` to see the warnings" }),
    "2-see-warnings",
  );
});

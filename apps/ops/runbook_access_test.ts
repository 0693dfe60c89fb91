/** A runbook's sandbox access (`writes`, `network`), per runbook and per step, and its limits. */
import assert from "node:assert/strict";
import { bindInputs, confine } from "./plan.ts";
import { parseRunbookYaml, RunbookError } from "./runbook.ts";

const RUNBOOK = `
name: access
inputs: { app: { default: web } }
writes: ["/var/log/{{ app }}"]
network: true
steps:
  - id: fetch
    run: [deployctl, fetch]
  - id: local
    run: [deployctl, build]
    network: false
    writes: [build/out, "/var/log/{{ app }}"]
rollback:
  - id: undo
    run: [deployctl, rollback]
`;

Deno.test("writes and network: the runbook's apply to every step, a step's own add to them", () => {
  const plan = bindInputs(parseRunbookYaml(RUNBOOK, "access.yaml"), { app: "api" });
  const [fetch, local] = plan.steps;
  assert.deepEqual(fetch.writes, ["/var/log/api"]);
  assert.equal(fetch.network, true);
  assert.deepEqual(local.writes, ["/var/log/api", "build/out"], "merged, once each");
  assert.equal(local.network, undefined, "a step's network: false wins over the runbook's");
  assert.deepEqual(plan.rollback[0].writes, ["/var/log/api"]);
  // Without any declaration a step gets no extra access at all.
  const bare = parseRunbookYaml("name: b\nsteps:\n  - id: a\n    run: [x]\n", "b.yaml");
  assert.equal(bare.steps[0].writes, undefined);
  assert.equal(bare.steps[0].network, undefined);
});

Deno.test("writes and network are validated with their positions", () => {
  const text = [
    "name: bad",
    "writes: /var/log",
    "steps:",
    "  - id: a",
    "    run: [x]",
    "    network: yes please",
    "    writes: ['{{ nope }}']",
  ].join("\n");
  let message = "";
  try {
    parseRunbookYaml(text, "bad.yaml");
  } catch (e) {
    assert.ok(e instanceof RunbookError);
    message = e.message;
  }
  assert.match(message, /bad\.yaml:2:9: runbook: writes must be a list of paths/);
  assert.match(message, /bad\.yaml:6:14: step "a": network must be true or false/);
  assert.match(message, /bad\.yaml:7:13: step "a": \{\{ nope \}\} is not a declared input/);
});

Deno.test("a planner's plan gets the narrowest sandbox whatever it asked for", () => {
  const plan = parseRunbookYaml(RUNBOOK, "plan from llm:model");
  const confined = confine(plan);
  for (const s of [...confined.steps, ...confined.rollback]) {
    assert.equal(s.writes, undefined, s.id);
    assert.equal(s.network, undefined, s.id);
  }
  assert.deepEqual(confined.steps.map((s) => s.run), plan.steps.map((s) => s.run));
});

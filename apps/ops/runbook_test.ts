import assert from "node:assert/strict";
import { parseDuration, parseRunbookYaml, RunbookError } from "./runbook.ts";
import { bindInputs } from "./plan.ts";

const dir = new URL("./runbooks/", import.meta.url);

function issuesOf(text: string): string[] {
  try {
    parseRunbookYaml(text, "bad.yaml");
  } catch (e) {
    assert.ok(e instanceof RunbookError, `expected RunbookError, got ${e}`);
    return e.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
  }
  throw new Error("expected the runbook to be rejected");
}

Deno.test("the three example runbooks parse and bind their inputs", () => {
  for (const name of ["restart-service", "deploy-with-rollback", "disk-full-triage"]) {
    const plan = parseRunbookYaml(Deno.readTextFileSync(new URL(`${name}.yaml`, dir)), name);
    assert.deepEqual(plan.name, name);
    assert.ok(plan.steps.length >= 4);
    assert.ok(plan.steps.some((s) => s.approve), `${name} has an approval gate`);
    const bound = bindInputs(plan, name === "deploy-with-rollback" ? { version: "v2" } : {});
    for (const s of bound.steps) assert.ok(!s.run.join(" ").includes("{{"), s.run.join(" "));
  }
});

Deno.test("a runbook's fields are read into the plan model", () => {
  const plan = parseRunbookYaml(
    Deno.readTextFileSync(new URL("deploy-with-rollback.yaml", dir)),
    "deploy.yaml",
  );
  const health = plan.steps.find((s) => s.id === "health")!;
  assert.deepEqual(health.needs, ["deploy"]);
  assert.deepEqual(health.retry, { attempts: 2, delayMs: 500 });
  assert.deepEqual(health.onFailure, "rollback");
  assert.deepEqual(health.verify, { exitCode: 0, outputContains: "healthy" });
  assert.deepEqual(plan.steps.find((s) => s.id === "deploy")!.approve!.by, ["alice", "carol"]);
  assert.deepEqual(plan.rollback.map((s) => s.id), ["rollback"]);
  assert.deepEqual(plan.steps.find((s) => s.id === "build")!.timeoutMs, 120_000);
  assert.throws(() => bindInputs(plan, {}), /needs input "version"/);
  assert.throws(() => bindInputs(plan, { version: "v2", colour: "x" }), /not an input/);
});

Deno.test("YAML syntax errors carry the line and column", () => {
  const issues = issuesOf("name: x\nsteps:\n  - id: a\n    run: [echo, hi\n  - id: b\n");
  assert.ok(issues.length >= 1);
  assert.ok(/^\d+:\d+ /.test(issues[0]));
  assert.ok(Number(issues[0].split(":")[0]) >= 4, issues[0]);
});

Deno.test("validation errors name the line of the offending node", () => {
  const text = [
    "name: broken", // 1
    "steps:", // 2
    "  - id: a", // 3
    "    run: svcctl restart api", // 4  shell string
    "  - id: b", // 5
    "    run: [svcctl, status]", // 6
    "    needs: [nope]", // 7
    "    timout: 5s", // 8  typo
    "  - id: c", // 9
    "    run: [svcctl, status, '{{ host }}']", // 10 undeclared input
    "    on_failure: explode", // 11
    "    retry: { attempts: 0 }", // 12
  ].join("\n");
  const issues = issuesOf(text);
  const at = (line: number, re: RegExp) =>
    assert.ok(
      issues.some((i) => i.startsWith(`${line}:`) && re.test(i)),
      `line ${line} ${re}: ${issues.join(" | ")}`,
    );
  at(4, /argv list such as \[svcctl, restart, api\], not a shell string/);
  at(8, /unknown key "timout".*did you mean "timeout"/);
  at(10, /\{\{ host \}\} is not a declared input/);
  at(11, /on_failure must be stop, continue or rollback/);
  at(12, /retry must be/);
  assert.ok(issues.some((i) => /needs "nope", which is not a step/.test(i)), issues.join(" | "));
});

Deno.test("cycles, duplicate ids and a missing rollback list are reported", () => {
  const issues = issuesOf(
    "name: c\nsteps:\n  - id: a\n    run: [x]\n    needs: b\n  - id: b\n    run: [x]\n    needs: a\n" +
      "  - id: a\n    run: [y]\n    on_failure: rollback\n",
  );
  assert.ok(issues.some((i) => /dependency cycle: a -> b -> a/.test(i)), issues.join(" | "));
  assert.ok(issues.some((i) => /^9:\d+ step id "a" is used twice/.test(i)), issues.join(" | "));
  assert.ok(issues.some((i) => /needs a top-level `rollback` list/.test(i)), issues.join(" | "));
});

Deno.test("the error message lists every issue as file:line:col", () => {
  let err: unknown;
  try {
    parseRunbookYaml("name: 3\nsteps: []\nextra: 1\n", "x.yaml");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof RunbookError);
  assert.deepEqual(err.message.split("\n").length, err.issues.length);
  assert.ok(err.message.split("\n").every((l) => /^x\.yaml:\d+:\d+: /.test(l)), err.message);
});

Deno.test("durations", () => {
  assert.deepEqual(parseDuration("500ms"), 500);
  assert.deepEqual(parseDuration("2m"), 120_000);
  assert.deepEqual(parseDuration(3), 3000);
  assert.deepEqual(parseDuration("soon"), undefined);
  assert.deepEqual(parseDuration(0), undefined);
});

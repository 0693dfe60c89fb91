// Loom as its users consume it: a throwaway project outside this repository whose deno.json
// "links" this checkout's package folders, so the `jsr:@loom/...` specifiers a user types
// resolve offline, exactly as after `deno add jsr:@loom/runner`. Each test runs one of the
// design's used-by lines in that project as a real `deno` subprocess.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PACKAGES = ["tailcalls", "runner", "xray", "apps/run", "apps/ops"].map((p) => join(ROOT, p));

/** A fresh user project holding `files`; removed when disposed. */
async function userProject(
  files: Record<string, string>,
): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-user-" });
  await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify({ links: PACKAGES }, null, 2));
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Runs `deno ...args` in the project; returns exit code and text output. */
async function deno(dir: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test('user project: `import { tailrec } from "jsr:@loom/tailcalls"` runs a million-step loop', async () => {
  await using p = await userProject({
    "loop.ts": `import { recur, tailrec } from "jsr:@loom/tailcalls";
const count = tailrec((n: number, total: number) => n === 0 ? total : recur(n - 1, total + 1));
console.log(await count(1_000_000, 0));
`,
  });
  const r = await deno(p.dir, ["run", "loop.ts"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "1000000\n");
});

Deno.test("user project: `deno run -A jsr:@loom/run chat … --mock-llm` answers and records the run", async () => {
  await using p = await userProject({});
  const workspace = join(ROOT, "apps/run/testdata/buggy");
  const db = join(p.dir, "runs.sqlite");
  const r = await deno(p.dir, [
    "run",
    "-A",
    "jsr:@loom/run",
    "chat",
    "why does the test fail?",
    "--mock-llm",
    "--workspace",
    workspace,
    "--db",
    db,
    "--run-id",
    "u1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /run u1 completed/);
  assert.match(r.stdout, /test command did not pass/);
});

Deno.test("user project: a runbook through `jsr:@loom/ops` waits for approval, then completes", async () => {
  await using p = await userProject({});
  const workspace = join(ROOT, "apps/ops");
  const common = [
    "--db",
    join(p.dir, "ops.sqlite"),
    "--workspace",
    workspace,
    "--audit-key",
    join(p.dir, "audit.key"),
  ];
  const started = await deno(p.dir, [
    "run",
    "-A",
    "jsr:@loom/ops",
    "runbook",
    join(workspace, "runbooks/restart-service.yaml"),
    "--run-id",
    "d1",
    "--input",
    "service=api",
    ...common,
  ]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout + started.stderr, /waiting for approval of step restart/);
  const approved = await deno(p.dir, [
    "run",
    "-A",
    "jsr:@loom/ops",
    "approve",
    "--run-id",
    "d1",
    "--step",
    "restart",
    "--by",
    "alice",
    ...common,
  ]);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /restart\s+succeeded.*\[approved by alice\]/);
});

Deno.test("user project: a `deno test` scenario with `jsr:@loom/runner/testing` passes, and fails when the agent regresses", async () => {
  const agent = (target: string) =>
    `import { defineAgent, recur } from "jsr:@loom/runner";
export default defineAgent({
  name: "counter",
  initialState: (input: { target: number }) => ({ current: 0, target: input.target }),
  step(state) {
    if (state.current >= ${target}) return { current: state.current };
    return recur({ ...state, current: state.current + 1 });
  },
});
`;
  const test = `import assert from "node:assert/strict";
import { scenario } from "jsr:@loom/runner/testing";
import counter from "./counter.ts";

scenario("counter survives SIGKILL after step 1", {
  agent: counter,
  input: { target: 3 },
  faults: { crashAfterStep: 1 },
}, (run) => {
  assert.equal(run.crashes, 1);
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { current: 3 });
});
`;
  await using p = await userProject({
    "counter.ts": agent("state.target"),
    "counter_test.ts": test,
  });
  const ok = await deno(p.dir, ["test", "-A", "counter_test.ts"]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /ok \| 1 passed \| 0 failed/);
  // The same scenario must catch a behaviour change (off by one).
  await Deno.writeTextFile(join(p.dir, "counter.ts"), agent("state.target + 1"));
  const bad = await deno(p.dir, ["test", "-A", "counter_test.ts"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /FAILED \| 0 passed \| 1 failed/);
});

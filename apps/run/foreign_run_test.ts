// A run id that belongs to another app's agent (loom-ops, a runner agent) in the same database:
// loom-run does not offer to `loom-run resume` it, it names the command that continues it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { defineAgent, openStore, startRun } from "@loom/runner";
import { main } from "./cli.ts";
import { tempWorkspace } from "./testing.ts";

/** Runs `loom-run ARGS` in-process; returns the exit code and what it printed. */
async function loomRun(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => out += t, err: (l) => err += l + "\n" });
  return { code, out, err };
}

/** Stores one finished run of an agent named `name`. */
async function storeRun(db: string, name: string, runId: string): Promise<void> {
  const store = openStore(db);
  try {
    const agent = defineAgent<number, number>({
      name,
      initialState: () => 0,
      step: (n) => n,
    });
    await startRun(agent, { store, runId, input: undefined });
  } finally {
    store.close();
  }
}

Deno.test("foreign runs: resume, retry and a taken --run-id name the command of the run's own app", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "shared.sqlite");
  await storeRun(db, "ops-supervisor", "incident-7");
  await storeRun(db, "nightly-report", "report-1");

  for (const command of ["resume", "retry"]) {
    const ops = await loomRun([command, "--run-id", "incident-7", "--db", db]);
    assert.equal(ops.code, 2);
    assert.equal(
      ops.err,
      `error: run 'incident-7' belongs to agent 'ops-supervisor', not to loom-run; continue it with: loom-ops resume --run-id incident-7 --db ${db}\n`,
    );
  }
  const other = await loomRun(["resume", "--run-id", "report-1", "--db", db]);
  assert.equal(other.code, 2);
  assert.match(
    other.err,
    /continue it with: loom-runner resume <module of agent 'nightly-report'> --run-id report-1 --db /,
  );

  const taken = await loomRun([
    "chat",
    "hi",
    "--mock-llm",
    "--run-id",
    "incident-7",
    "--db",
    db,
    "--workspace",
    t.ws,
  ]);
  assert.equal(taken.code, 2);
  assert.equal(
    taken.err,
    `error: run incident-7 already exists in ${db} (agent 'ops-supervisor'); continue it with: loom-ops resume --run-id incident-7 --db ${db}, or pick another --run-id\n`,
  );
  assert.equal(taken.out, "");
});

Deno.test("foreign runs: a database path with a space is quoted in the suggested command", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "my runs.sqlite");
  await storeRun(db, "ops-supervisor", "incident-8");
  const out = await loomRun(["resume", "--run-id", "incident-8", "--db", db]);
  assert.ok(out.err.endsWith(`--db '${db}'\n`), out.err);
});

import assert from "node:assert/strict";
import { startStudio, withStudioStore } from "./_test_util.ts";

const cli = new URL("../cli.ts", import.meta.url).pathname;
const counter = new URL("../../examples/counter_agent.ts", import.meta.url).pathname;

async function runner(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, signal: out.signal, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("process history: a SIGKILLed process, the takeover that resumed it, a pause and a resume", async () => {
  await withStudioStore(async (store, db) => {
    // Process 1 dies right after committing step 2 (the test-only crash hook: SIGKILL).
    const killed = await runner(
      ["run", counter, "--run-id", "p", "--db", db, "--input", '{"target":8}', "--quiet"],
      { LOOM_TEST_CRASH_AFTER_STEP: "p:2" },
    );
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    // Process 2 takes the lease over (its owner is gone) and stops after 3 steps: paused.
    const paused = await runner([
      "resume",
      counter,
      "--run-id",
      "p",
      "--db",
      db,
      "--max-steps",
      "3",
      "--quiet",
    ]);
    assert.equal(paused.code, 0, paused.stderr);
    // Process 3 resumes the paused run and completes it.
    const done = await runner(["resume", counter, "--run-id", "p", "--db", db, "--quiet"]);
    assert.equal(done.code, 0, done.stderr);

    const { server, get } = await startStudio(store);
    try {
      const { body } = await get("/api/runs/p");
      const shape = body.processes.map((p: Record<string, unknown>) => ({
        how: p.how,
        fromStep: p.fromStep,
        toStep: p.toStep,
        ended: p.ended,
      }));
      assert.deepEqual(shape, [
        { how: "started", fromStep: 0, toStep: 2, ended: "crashed" },
        { how: "takeover", fromStep: 3, toStep: 5, ended: "paused" },
        { how: "resumed", fromStep: 6, toStep: 8, ended: "completed" },
      ]);
      const owners = body.processes.map((p: { owner: string }) => p.owner);
      assert.equal(new Set(owners).size, 3, "three lease owners");
      for (const p of body.processes) assert.ok(p.endedAt >= p.startedAt);
    } finally {
      await server.shutdown();
    }
  });
});

// SIGKILL at random moments on the PostgreSQL store, through the real CLI (`loom-runner run` and
// `resume` with `--db postgres://…`, schema from LOOM_DB_SCHEMA): the committed prefix only grows,
// the final state is exact, history has no gaps, and a tool side effect repeats only when a killed
// process ran it without recording its result (and the repeat is told so).
import assert from "node:assert/strict";
import { verifyRun } from "./verify.ts";
import { POSTGRES_BACKEND } from "./testing_stores.ts";

const CLI = new URL("./cli.ts", import.meta.url).pathname;
const AGENT = new URL("./testdata/crash_agent.ts", import.meta.url).pathname;

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

Deno.test("postgres: SIGKILL at random moments (10 kills) through the CLI; exact state, no gaps", async () => {
  const t = await POSTGRES_BACKEND.open();
  const dir = await Deno.makeTempDir({ prefix: "loom-pg-crash-" });
  const effects = `${dir}/effects.txt`;
  const env = { LOOM_EFFECTS: effects, LOOM_DB_SCHEMA: t.schema! };
  const N = 300;
  const rounds = 10;
  try {
    let kills = 0;
    let committed = -1;
    let finished = false;
    for (let round = 0; round < rounds && !finished; round++) {
      const args = round === 0
        ? ["run", AGENT, "--run-id", "c", "--input", `{"n":${N}}`]
        : ["resume", AGENT, "--run-id", "c"];
      const before = fileSize(effects);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, ...args, "--db", t.db, "--quiet"],
        env,
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let done = false;
      const killer = (async () => {
        // Once the process is inside the step loop (a new side effect), wait 0-80 ms and kill:
        // kills land in tool calls, between an effect and its record, and in commits.
        const end = Date.now() + 30_000;
        while (!done && fileSize(effects) === before && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 3));
        }
        await new Promise((r) => setTimeout(r, Math.random() * 80));
        if (!done) {
          try {
            child.kill("SIGKILL");
          } catch { /* already exited */ }
        }
      })();
      const out = await child.output();
      done = true;
      await killer;
      if (out.signal === "SIGKILL") kills++;
      else {
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        finished = true;
      }
      const now = (await t.store.lastStep("c"))?.step ?? -1;
      assert.ok(now >= committed, `committed steps went back from ${committed} to ${now}`);
      committed = now;
    }
    if (!finished) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "resume", AGENT, "--run-id", "c", "--db", t.db, "--quiet"],
        env,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    assert.ok(kills >= rounds - 2, `only ${kills} of ${rounds} kills landed`);
    const run = (await t.store.getRun("c"))!;
    assert.equal(run.status, "completed");
    assert.deepEqual(JSON.parse(run.result!), { i: N, sum: N * (N - 1) });
    const steps = await t.store.listSteps("c");
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: N + 1 }, (_, i) => i));
    const calls = await t.store.listCalls("c", { kind: "tool" });
    assert.equal(calls.length, N);
    assert.ok(calls.every((c) => c.status === "completed"));
    assert.deepEqual(await t.store.integrityCheck(), []);
    assert.deepEqual((await verifyRun(t.store, "c")).problems, []);
    const takeovers = (await t.store.listEvents("c")).filter((e) => e.kind === "lease-takeover");
    assert.ok(takeovers.length >= kills - 1, `${takeovers.length} takeovers for ${kills} kills`);
    const byKey = new Map<string, string[]>();
    for (const line of (await Deno.readTextFile(effects)).trim().split("\n")) {
      const [key, flag] = line.split(" ");
      byKey.set(key, [...(byKey.get(key) ?? []), flag]);
    }
    assert.equal(byKey.size, N);
    let repeats = 0;
    for (const [key, flags] of byKey) {
      for (const f of flags.slice(1)) {
        assert.equal(f, "true", `repeat of ${key} must be flagged maybeRanBefore`);
        repeats++;
      }
    }
    assert.ok(repeats <= kills, `${repeats} repeats for ${kills} kills`);
  } finally {
    await t.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

// SIGKILL at random moments on the PostgreSQL store, through the real CLI (`loom-runner run` and
// `resume` with `--db postgres://…`, schema from LOOM_DB_SCHEMA): the committed prefix only grows,
// the final state is exact, history has no gaps, and a tool side effect repeats only when a killed
// process ran it without recording its result (and the repeat is told so).
import assert from "node:assert/strict";
import { verifyRun } from "../inspect/verify.ts";
import { POSTGRES_BACKEND } from "../testing/_stores.ts";
import { fileSize, killAsPlanned, planKills } from "../_test_util.ts";
import { withSeed } from "../testing.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const AGENT = new URL("../testdata/crash_agent.ts", import.meta.url).pathname;

Deno.test(
  "postgres: SIGKILL at random moments (10 kills) through the CLI; exact state, no gaps",
  withSeed(async (random) => {
    const t = await POSTGRES_BACKEND.open();
    const dir = await Deno.makeTempDir({ prefix: "loom-pg-crash-" });
    const effects = `${dir}/effects.txt`;
    // The fixture holds its final step until this file exists: no process can end the run
    // before its planned kill.
    const hold = `${dir}/finish`;
    const env = { LOOM_EFFECTS: effects, LOOM_DB_SCHEMA: t.schema!, LOOM_HOLD_FINAL: hold };
    const N = 300;
    const rounds = 10;
    // Round 0 dies in start-up; the others once a seeded step's side effect appeared, plus 0-10
    // ms: kills land in tool calls, between an effect and its record, and in commits.
    const plan = planKills(random, {
      steps: N,
      rounds,
      margin: N / 4,
      maxDelayMs: 10,
      startupMs: 400,
    });
    try {
      let kills = 0;
      let midRun = 0;
      let committed = -1;
      for (const [round, planned] of plan.entries()) {
        const started = (await t.store.getRun("c")) !== undefined;
        const args = started
          ? ["resume", AGENT, "--run-id", "c"]
          : ["run", AGENT, "--run-id", "c", "--input", `{"n":${N}}`];
        const before = fileSize(effects);
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", CLI, ...args, "--db", t.db, "--quiet"],
          env,
          stdout: "null",
          stderr: "piped",
        }).spawn();
        let done = false;
        const [out] = await Promise.all([
          child.output().finally(() => done = true),
          killAsPlanned(child, planned, { effects, held: `${hold}.held` }, before, () => done),
        ]);
        assert.equal(
          out.signal,
          "SIGKILL",
          `round ${round} (${JSON.stringify(planned)}) was not killed: exit ${out.code} ${
            new TextDecoder().decode(out.stderr)
          }`,
        );
        kills++;
        const now = (await t.store.lastStep("c"))?.step ?? -1;
        assert.ok(now >= committed, `committed steps went back from ${committed} to ${now}`);
        committed = now;
        if (now >= N - 1) break; // every step done: the next kills could not land mid-run
        midRun++;
      }
      await Deno.writeTextFile(hold, "");
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "resume", AGENT, "--run-id", "c", "--db", t.db, "--quiet"],
        env,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.ok(
        midRun >= rounds - 2,
        `only ${midRun} of ${rounds} kills landed before the run's steps were all done`,
      );
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
  }),
);

// Workers on one SQLite file, through the real CLI (`loom-runner worker --db FILE`): processes
// draining runs together with one SIGKILLed mid-run, a signal from another process waking an
// idle worker, a run killed in the middle of `ctx.sleep` finished by a worker after its timer,
// a graceful stop, bad input, and two processes hammering one file.
import assert from "node:assert/strict";
import { openStore, type SqliteStore } from "../store/sqlite.ts";
import { waitFor } from "../testing.ts";
import { chainHash } from "../testdata/worker_agents/agents.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const AGENTS_DIR = new URL("../testdata/worker_agents", import.meta.url).pathname;
const SLEEP_AGENT = new URL("../testdata/sleep_agent.ts", import.meta.url).pathname;
const LOOPER_AGENT = new URL("../testdata/looper_agent.ts", import.meta.url).pathname;
const SLOW_AGENT = new URL("../testdata/slow_agent.ts", import.meta.url).pathname;
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** A temporary directory with a database path; removed after `fn`. */
async function withDb(fn: (db: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-sqlite-worker-" });
  try {
    await fn(`${dir}/runs.sqlite`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `loom-runner ARGS` to completion. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, signal: o.signal, out: decode(o.stdout), err: decode(o.stderr) };
}

/** `loom-runner worker --db DB --agents DIR EXTRA`, running. */
function spawnWorker(db: string, extra: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "worker", "--db", db, "--agents", AGENTS_DIR, ...extra],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Enqueues runs through the CLI (one process per run is slow: the library for many). */
async function enqueue(db: string, agent: string, runId: string, input: unknown): Promise<void> {
  const r = await cli([
    "enqueue",
    agent,
    "--run-id",
    runId,
    "--input",
    JSON.stringify(input),
    "--agents",
    AGENTS_DIR,
    "--db",
    db,
  ]);
  assert.equal(r.code, 0, r.err);
}

function runRow(store: SqliteStore, runId: string) {
  return store.db.prepare("SELECT status, lease_owner, result FROM runs WHERE run_id = ?")
    .get(runId) as { status: string; lease_owner: string | null; result: string | null };
}

Deno.test("sqlite: 3 worker processes drain 30 runs, one SIGKILLed mid-run: every side effect once", async () => {
  await withDb(async (db, dir) => {
    const log = `${dir}/effects.log`;
    const runs = 30;
    const n = 6;
    await enqueue(db, "effects", "e0", { n, log }); // through the CLI once; the rest in-process
    const store = openStore(db);
    try {
      const { effects } = await import("../testdata/worker_agents/agents.ts");
      const { enqueueRun } = await import("../engine/engine.ts");
      for (let i = 1; i < runs; i++) {
        await enqueueRun(effects, { store, runId: `e${i}`, input: { n, log } });
      }
      // The victim SIGKILLs itself right after committing step 2 of the first run that gets
      // there (the runner's test-only fault hook): it dies holding that run, on any machine.
      const flags = ["--drain", "--json", "--concurrency", "3", "--lease-ttl", "5000"];
      const victim = spawnWorker(db, flags, { LOOM_TEST_CRASH_AFTER_STEP: "2" });
      const victimOut = victim.output();
      await waitFor("the victim to hold a run", () => {
        const row = store.db.prepare("SELECT count(*) AS n FROM runs WHERE lease_owner LIKE ?")
          .get(`%:${victim.pid}:%`) as { n: number };
        return row.n > 0;
      });
      const survivors = [0, 1].map(() => spawnWorker(db, flags).output());
      const v = await victimOut;
      assert.equal(v.signal, "SIGKILL", decode(v.stderr));
      const outs = await Promise.all(survivors);
      for (const o of outs) assert.equal(o.code, 0, decode(o.stderr));
      for (const o of outs) assert.doesNotMatch(decode(o.stderr), /SQLITE_BUSY|locked/i);
      const summaries = outs.map((o) => JSON.parse(decode(o.stdout)));
      for (let i = 0; i < runs; i++) {
        const row = runRow(store, `e${i}`);
        assert.equal(row.status, "completed", `e${i}`);
        assert.deepEqual(JSON.parse(row.result!), { done: n });
        const steps = store.db.prepare("SELECT step FROM steps WHERE run_id = ? ORDER BY step")
          .all(`e${i}`).map((r) => r.step);
        assert.deepEqual(steps, Array.from({ length: n + 1 }, (_, k) => k));
      }
      // Every side effect happened once, except inside the documented window: a repeat only
      // for a call the victim had started and not recorded (flagged maybeRanBefore), and at
      // most one per run the victim held when it died.
      const lines = (await Deno.readTextFile(log)).trim().split("\n").map((l) => l.split(" "));
      const seen = new Map<string, number>();
      for (const [run, i, maybe] of lines) {
        const key = `${run} ${i}`;
        const count = (seen.get(key) ?? 0) + 1;
        seen.set(key, count);
        if (count > 1) assert.equal(maybe, "true", `repeat of ${key} not flagged`);
      }
      assert.equal(seen.size, runs * n);
      const repeats = [...seen.values()].filter((c) => c > 1).length;
      assert.ok(repeats <= 3, `${repeats} repeats`);
      const takeovers = store.db.prepare(
        "SELECT count(DISTINCT run_id) AS n FROM events WHERE kind = 'lease-takeover'",
      ).get() as { n: number };
      assert.ok(takeovers.n >= 1, "the victim's run was taken over");
      const completed = summaries.reduce((s, x) => s + (x.outcomes.completed ?? 0), 0);
      assert.equal(completed, runs);
      assert.deepEqual(store.integrityCheck(), []);
    } finally {
      store.close();
    }
  });
});

Deno.test("sqlite: an idle worker picks up a signal sent by `loom-runner signal`", async () => {
  await withDb(async (db) => {
    // A poll interval far longer than the test: only the file's change can wake the worker.
    const worker = spawnWorker(db, ["--poll-interval", "600000"]);
    const out = worker.output();
    const store = openStore(db);
    try {
      await enqueue(db, "waiter", "w", {});
      await waitFor(
        "the worker to suspend the run",
        () => runRow(store, "w")?.status === "waiting",
      );
      const s = await cli([
        "signal",
        "--run-id",
        "w",
        "--name",
        "go",
        "--data",
        '{"value":7}',
        "--db",
        db,
      ]);
      assert.equal(s.code, 0, s.err);
      await waitFor(
        "the worker to finish the run",
        () => runRow(store, "w").status === "completed",
      );
      assert.deepEqual(JSON.parse(runRow(store, "w").result!), { got: { value: 7 } });
    } finally {
      worker.kill("SIGTERM");
      store.close();
    }
    const o = await out;
    assert.equal(o.code, 0, decode(o.stderr));
    assert.match(decode(o.stdout), /run w \(waiter\): completed, 1 step\(s\)/);
  });
});

Deno.test("sqlite: a run SIGKILLed in the middle of ctx.sleep is finished by a worker after its timer", async () => {
  await withDb(async (db, dir) => {
    const effects = `${dir}/effects.log`;
    const run = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLI,
        "run",
        SLEEP_AGENT,
        "--run-id",
        "s",
        "--input",
        '{"ms":3000}',
        "--db",
        db,
      ],
      env: { LOOM_EFFECTS: effects },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const store = openStore(db);
    try {
      // Killed as soon as its timer is recorded, i.e. while it sleeps in-process.
      await waitFor(
        "the timer to be recorded",
        () =>
          store.db.prepare("SELECT 1 FROM calls WHERE run_id = 's' AND kind = 'timer'").get() !==
            undefined,
      );
      run.kill("SIGKILL");
      const r = await run.output();
      assert.equal(r.signal, "SIGKILL");
      assert.equal(runRow(store, "s").status, "running", "killed before the timer was due");
      const sleepAgents = await Deno.makeTempDir({ dir, prefix: "agents-" });
      await Deno.copyFile(SLEEP_AGENT, `${sleepAgents}/sleep_agent.ts`);
      const w = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "worker", "--db", db, "--agents", sleepAgents, "--drain"],
        env: { LOOM_EFFECTS: effects },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(w.code, 0, decode(w.stderr));
      const row = store.db.prepare(
        `SELECT r.status, r.ended_at AS endedAt, c.deadline AS wakeAt FROM runs r
         JOIN calls c ON c.run_id = r.run_id AND c.kind = 'timer' WHERE r.run_id = 's'`,
      ).get() as { status: string; endedAt: number; wakeAt: number };
      assert.equal(row.status, "completed");
      assert.ok(row.endedAt >= row.wakeAt, "finished after its timer, not before");
      assert.equal(
        await Deno.readTextFile(effects),
        "clock\n",
        "the tool call before the sleep ran once",
      );
      const kinds = store.listEvents("s").map((e) => e.kind);
      assert.ok(kinds.includes("lease-takeover"), kinds.join(","));
    } finally {
      store.close();
    }
  });
});

Deno.test("sqlite: SIGTERM stops a worker and leaves its runs paused; Ctrl-C too", async () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await withDb(async (db) => {
      await enqueue(db, "chain", "c", { n: 100_000, delayMs: 5 });
      const worker = spawnWorker(db, []);
      const store = openStore(db);
      try {
        await waitFor(
          "step 2 to be committed",
          () =>
            store.db.prepare("SELECT 1 FROM steps WHERE run_id = 'c' AND step = 2").get() !==
              undefined,
        );
      } finally {
        worker.kill(signal);
      }
      const o = await worker.output();
      try {
        assert.equal(o.code, 0, decode(o.stderr));
        assert.match(decode(o.stdout), /run c \(chain\): paused/);
        const row = runRow(store, "c");
        assert.equal(row.status, "paused");
        assert.equal(row.lease_owner, null);
      } finally {
        store.close();
      }
    });
  }
});

Deno.test("sqlite: bad input: a file that is not a Loom database; a queued run of another agent", async () => {
  await withDb(async (db, dir) => {
    const foreign = `${dir}/notes.txt`;
    await Deno.writeTextFile(foreign, "not a database\n".repeat(100));
    const bad = await cli(["worker", "--db", foreign, "--agents", AGENTS_DIR, "--drain"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: .*notes\.txt is not a Loom database/);
    assert.equal(bad.err.trim().split("\n").length, 1, bad.err);

    // A run of an agent this worker does not have: named once, left queued; the others run.
    const q = await cli(["enqueue", LOOPER_AGENT, "--run-id", "alien", "--db", db]);
    assert.equal(q.code, 0, q.err);
    await enqueue(db, "chain", "mine", { n: 3 });
    const w = await cli(["worker", "--db", db, "--agents", AGENTS_DIR, "--drain"]);
    assert.equal(w.code, 0, w.err);
    const warnings = w.err.split("\n").filter((l) => l.includes("alien"));
    assert.deepEqual(warnings, [
      "warning: run alien is queued for agent looper, which is not among this worker's agents (chain, effects, sleeper, waiter); it stays queued for a worker that has it",
    ]);
    const store = openStore(db);
    try {
      assert.equal(runRow(store, "alien").status, "queued");
      assert.equal(runRow(store, "mine").status, "completed");
      assert.equal(JSON.parse(runRow(store, "mine").result!).h, chainHash(3));
    } finally {
      store.close();
    }
  });
});

Deno.test("sqlite: busy file: two worker processes and two `run` commands hammer one file; no SQLITE_BUSY", async () => {
  await withDb(async (db) => {
    const store = openStore(db);
    const { chain } = await import("../testdata/worker_agents/agents.ts");
    const { enqueueRun } = await import("../engine/engine.ts");
    const runs = 40;
    const n = 60;
    for (let i = 0; i < runs; i++) {
      await enqueueRun(chain, { store, runId: `h${i}`, input: { n } });
    }
    store.close();
    const flags = ["--drain", "--json", "--concurrency", "4"];
    const worker = async () => {
      const o = await spawnWorker(db, flags).output();
      return { code: o.code, err: decode(o.stderr) };
    };
    const outs = await Promise.all([
      worker(),
      worker(),
      cli(["run", SLOW_AGENT, "--run-id", "l1", "--input", '{"n":2000,"ms":0}', "--db", db]),
      cli(["run", SLOW_AGENT, "--run-id", "l2", "--input", '{"n":2000,"ms":0}', "--db", db]),
    ]);
    for (const o of outs) {
      assert.equal(o.code, 0, o.err);
      assert.doesNotMatch(o.err, /SQLITE_BUSY|locked|error/i);
    }
    const check = openStore(db);
    try {
      for (let i = 0; i < runs; i++) {
        assert.deepEqual(JSON.parse(runRow(check, `h${i}`).result!), { i: n, h: chainHash(n) });
      }
      for (const id of ["l1", "l2"]) assert.equal(runRow(check, id).status, "completed");
      assert.deepEqual(check.integrityCheck(), []);
    } finally {
      check.close();
    }
  });
});

Deno.test("sqlite: under least privilege a worker takes over a SIGKILLed worker's run at once, not at lease expiry", async () => {
  await withDb(async (db, dir) => {
    await enqueue(db, "chain", "k", { n: 6 });
    const root = new URL("../..", import.meta.url).pathname;
    const leastPrivilege = (env: Record<string, string>) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          `--allow-read=${dir},${root}`,
          `--allow-write=${dir}`,
          ...(env.LOOM_TEST_CRASH_AFTER_STEP ? ["--allow-env=LOOM_TEST_CRASH_AFTER_STEP"] : []),
          CLI,
          "worker",
          "--db",
          db,
          "--agents",
          AGENTS_DIR,
          "--lease-ttl",
          "600000", // far beyond the test: only the owner's death can free the run
          "--drain",
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    const victim = await leastPrivilege({ LOOM_TEST_CRASH_AFTER_STEP: "k:2" }).output();
    assert.equal(victim.signal, "SIGKILL", decode(victim.stderr));
    const store = openStore(db);
    const survivor = leastPrivilege({});
    let finished = false;
    try {
      assert.equal(runRow(store, "k").status, "running");
      await waitFor(
        "the survivor to finish the run",
        () => runRow(store, "k").status === "completed",
      );
      assert.deepEqual(JSON.parse(runRow(store, "k").result!), { i: 6, h: chainHash(6) });
      const takeover = store.listEvents("k").find((e) => e.kind === "lease-takeover");
      assert.match(takeover?.message ?? "", /owner gone/);
      const o = await survivor.output();
      finished = true;
      assert.equal(o.code, 0, decode(o.stderr));
    } finally {
      store.close();
      if (!finished) {
        survivor.kill("SIGKILL");
        await survivor.output();
      }
    }
  });
});

// Crash tests with real subprocesses: SIGKILL at random moments, resume until done, and check
// that nothing committed was lost, history has no gaps, and tool side effects repeat only in
// the documented window. Also: leases between two processes, and a durable timer across a kill.
import assert from "node:assert/strict";
import { openStore } from "../store/sqlite.ts";
import { verifyRun } from "../inspect/verify.ts";
import { fileSize, killAsPlanned, LiveProcesses, planKills } from "../_test_util.ts";
import { type SeededRandom, waitFor, withSeed } from "../testing.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const fixture = (name: string) => new URL(`../testdata/${name}`, import.meta.url).pathname;

// Processes still running; a failing test kills them in its `finally` (no leaks).
const live = new LiveProcesses();

function spawn(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  return child;
}

function peek<T>(db: string, fn: (s: ReturnType<typeof openStore>) => T): T {
  const s = openStore(db, { create: false });
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}

/** Whether the SQLite store at `db` is there and `check` holds on it. */
function storeShows(db: string, check: (s: ReturnType<typeof openStore>) => boolean): boolean {
  return exists(db) && peek(db, check);
}

/**
 * Runs the crash fixture to `N` steps through `rounds` processes, each SIGKILLed as a seeded
 * plan says (start-up, then after increasing side-effect steps plus 0-`maxDelayMs` ms), then
 * finishes it and checks the final state, history and side effects. The fixture holds the final
 * step until the test lets it finish, so a kill can never come after the run ended; a kill that
 * finds every step done is not counted as landing mid-run.
 */
async function randomKills(
  random: SeededRandom,
  N: number,
  rounds: number,
  pad: number,
  maxDelayMs: number,
  extra: string[] = [],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-crash-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const effects = `${dir}/effects.txt`;
    const hold = `${dir}/finish`;
    const env = { LOOM_EFFECTS: effects, LOOM_HOLD_FINAL: hold };
    const plan = planKills(random, {
      steps: N,
      rounds,
      margin: Math.ceil(N / 4),
      maxDelayMs,
      startupMs: 400,
    });
    let kills = 0;
    let midRun = 0;
    let lastCommitted = -1;
    for (const [round, planned] of plan.entries()) {
      const started = storeShows(db, (s) => s.getRun("c") !== undefined);
      const args = started
        ? ["resume", fixture("crash_agent.ts"), "--run-id", "c", "--db", db, "--quiet"]
        : [
          "run",
          fixture("crash_agent.ts"),
          "--run-id",
          "c",
          "--db",
          db,
          "--input",
          `{"n":${N},"pad":${pad}}`,
          "--quiet",
          ...extra,
        ];
      const sizeBefore = fileSize(effects);
      const child = spawn(args, env);
      let done = false;
      const [out] = await Promise.all([
        live.finish(child).finally(() => done = true),
        killAsPlanned(child, planned, { effects, held: `${hold}.held` }, sizeBefore, () => done),
      ]);
      // The run cannot end before its final step is let through: every process must be killed.
      assert.equal(
        out.signal,
        "SIGKILL",
        `round ${round} (${
          JSON.stringify(planned)
        }) was not killed: exit ${out.code} ${out.stderr}`,
      );
      kills++;
      // What was committed is never lost: the committed prefix only grows.
      const now = exists(db) ? peek(db, (s) => s.lastStep("c")?.step ?? -1) : -1;
      assert.ok(now >= lastCommitted, `committed steps went back from ${lastCommitted} to ${now}`);
      lastCommitted = now;
      if (Deno.env.get("LOOM_CRASH_DEBUG")) {
        console.log(`  round ${round}: ${JSON.stringify(planned)} committed=${now}`);
      }
      if (now >= N - 1) break; // every step done: the next kills could not land mid-run
      midRun++;
    }
    await Deno.writeTextFile(hold, "");
    const out = await live.finish(
      spawn(["resume", fixture("crash_agent.ts"), "--run-id", "c", "--db", db, "--json"], env),
    );
    assert.equal(out.code, 0, out.stderr);
    assert.ok(
      midRun >= rounds - 2,
      `only ${midRun} of ${rounds} kills landed before the run's steps were all done`,
    );
    const expectedSum = N * (N - 1); // sum of 2i for i < N
    peek(db, (s) => {
      const run = s.getRun("c")!;
      assert.equal(run.status, "completed");
      assert.deepEqual(JSON.parse(run.result!), { i: N, sum: expectedSum });
      const steps = s.listSteps("c");
      assert.deepEqual(steps.map((r) => r.step), Array.from({ length: N + 1 }, (_, i) => i));
      assert.deepEqual(s.integrityCheck(), []);
      const calls = s.listCalls("c", { kind: "tool" });
      assert.equal(calls.length, N);
      assert.ok(calls.every((c) => c.status === "completed"));
    });
    const report = await peekAsync(db, (s) => verifyRun(s, "c"));
    assert.deepEqual(report.problems, []);
    // Side effects: every call ran at least once; a repeat happens only when a killed process
    // ran the tool but had not recorded its result, and the repeat is told so (maybeRanBefore).
    const lines = (await Deno.readTextFile(effects)).trim().split("\n").map((l) => l.split(" "));
    const byKey = new Map<string, string[]>();
    for (const [key, flag] of lines) byKey.set(key, [...(byKey.get(key) ?? []), flag]);
    assert.equal(byKey.size, N);
    let repeats = 0;
    for (const [key, flags] of byKey) {
      // (The first execution may be flagged too: a process killed after recording "started" but
      // before running the tool leaves the same trace; the flag means "may have run".)
      for (const f of flags.slice(1)) {
        assert.equal(f, "true", `repeat of ${key} must be flagged maybeRanBefore`);
        repeats++;
      }
    }
    assert.ok(repeats <= kills, `${repeats} repeats for ${kills} kills`);
    console.log(
      `  ${kills} kills, ${repeats} repeated side effects (each inside the documented window)`,
    );
  } finally {
    await live.reap();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "SIGKILL at random moments (20 kills): resume until done; exact state, no gaps, bounded repeats",
  withSeed(async (random) => {
    await randomKills(random, 1000, 20, 0, 10);
  }),
);

Deno.test(
  "SIGKILL during large commits (200 KB checkpoints): nothing committed is lost, integrity ok",
  withSeed(async (random) => {
    await randomKills(random, 120, 8, 200_000, 10, ["--checkpoint", "compact:10"]);
  }),
);

async function peekAsync<T>(
  db: string,
  fn: (s: ReturnType<typeof openStore>) => Promise<T>,
): Promise<T> {
  const s = openStore(db, { create: false });
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

Deno.test("leases: a second process fails fast while the first advances; after SIGKILL it takes over at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-lease-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const a = spawn([
      "run",
      fixture("slow_agent.ts"),
      "--run-id",
      "l",
      "--db",
      db,
      "--input",
      '{"n":1000000,"ms":20}', // never ends by itself: it is killed below
      "--quiet",
    ]);
    await waitFor(
      "the first process to commit step 2",
      () => storeShows(db, (s) => (s.lastStep("l")?.step ?? -1) >= 2),
    );
    const b = await live.finish(
      spawn(["resume", fixture("slow_agent.ts"), "--run-id", "l", "--db", db]),
    );
    assert.equal(b.code, 2);
    assert.match(
      b.stderr,
      /^error: run l is being advanced by another process \(lease owner .*:\d+:\w+, expires in \d+ s\)\n$/,
    );
    // It refused at once, without waiting for the lease: the first process still holds it.
    const held = peek(db, (s) => s.getRun("l")!);
    assert.match(held.leaseOwner ?? "", new RegExp(`:${a.pid}:`));
    a.kill("SIGKILL");
    await live.finish(a);
    const { leaseExpires } = peek(db, (s) => s.getRun("l")!);
    const before = peek(db, (s) => s.lastStep("l")!.step);
    const c = await live.finish(
      spawn([
        "resume",
        fixture("slow_agent.ts"),
        "--run-id",
        "l",
        "--db",
        db,
        "--max-steps",
        "3",
        "--json",
      ]),
    );
    assert.equal(c.code, 0, c.stderr);
    const result = JSON.parse(c.stdout);
    assert.equal(result.status, "paused");
    assert.equal(result.steps, before + 1 + 3);
    peek(db, (s) => {
      const takeover = s.listEvents("l").find((e) => e.kind === "lease-takeover");
      assert.ok(takeover, "the resume took the lease over");
      // Taken over while the dead owner's lease was still valid: it saw the owner gone.
      assert.ok(
        takeover.at < leaseExpires!,
        `taken over at ${takeover.at}, after the lease expired (${leaseExpires})`,
      );
      assert.equal(s.getRun("l")!.leaseOwner, null);
    });
  } finally {
    await live.reap();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a durable timer survives SIGKILL: the resumed run waits only for the remainder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-timer-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const effects = `${dir}/effects.txt`;
    const a = spawn([
      "run",
      fixture("sleep_agent.ts"),
      "--run-id",
      "t",
      "--db",
      db,
      "--input",
      '{"ms":3000}',
    ], { LOOM_EFFECTS: effects });
    await waitFor(
      "the timer to be recorded",
      () => storeShows(db, (s) => s.listCalls("t", { kind: "timer" }).length === 1),
    );
    a.kill("SIGKILL");
    const killed = await live.finish(a);
    assert.equal(killed.signal, "SIGKILL", `the run ended before the kill: ${killed.stdout}`);
    const wakeAt = peek(db, (s) => s.listCalls("t", { kind: "timer" })[0].deadline!);
    const b = await live.finish(
      spawn(["resume", fixture("sleep_agent.ts"), "--run-id", "t", "--db", db, "--json"], {
        LOOM_EFFECTS: effects,
      }),
    );
    assert.equal(b.code, 0, b.stderr);
    const r = JSON.parse(b.stdout);
    assert.equal(r.status, "completed");
    assert.ok(Date.now() >= wakeAt, "woke no earlier than the stored time");
    // Slept from the (replayed) tool call to the wake-up, at least the whole timer.
    assert.ok(r.result.sleptMs >= 3000, `slept ${r.result.sleptMs} ms`);
    // The resumed process kept the stored wake time instead of starting the timer again. (That
    // it then waits only for the remainder is checked exactly, on a hand-driven clock, in
    // engine_test.ts "sleep: …": elapsed times across processes depend on the machine.)
    peek(db, (s) => {
      const [timer] = s.listCalls("t", { kind: "timer" });
      assert.equal(timer.status, "completed");
      assert.equal(timer.deadline, wakeAt);
    });
    assert.equal(
      (await Deno.readTextFile(effects)).trim(),
      "clock",
      "the tool before the sleep ran once",
    );
  } finally {
    await live.reap();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C (SIGINT) pauses the run cleanly: exit 1, one sentence, resumable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-int-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const a = spawn([
      "run",
      fixture("slow_agent.ts"),
      "--run-id",
      "i",
      "--db",
      db,
      "--input",
      '{"n":1000000,"ms":20}', // never ends by itself: it is interrupted below
    ]);
    await waitFor(
      "step 2 committed",
      () => storeShows(db, (s) => (s.lastStep("i")?.step ?? -1) >= 2),
    );
    a.kill("SIGINT");
    const out = await live.finish(a);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^error: interrupted; run i is paused before step \d+; resume it to continue\n$/,
    );
    peek(db, (s) => {
      const run = s.getRun("i")!;
      assert.equal(run.status, "paused");
      assert.equal(run.leaseOwner, null);
      assert.ok(s.listEvents("i").some((e) => e.kind === "interrupted"));
    });
    const pausedBefore = peek(db, (s) => s.lastStep("i")!.step) + 1;
    const b = await live.finish(
      spawn([
        "resume",
        fixture("slow_agent.ts"),
        "--run-id",
        "i",
        "--db",
        db,
        "--max-steps",
        "3",
        "--json",
      ]),
    );
    assert.equal(b.code, 0, b.stderr);
    const resumed = JSON.parse(b.stdout);
    assert.equal(resumed.status, "paused");
    assert.equal(resumed.steps, pausedBefore + 3, "the resume went on from the interrupted step");
    const report = await peekAsync(db, (s) => verifyRun(s, "i"));
    assert.deepEqual(report.problems, []);
  } finally {
    await live.reap();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("signals across processes: the tool call before the wait is replayed, never re-run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-signal-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const env = { LOOM_EFFECTS: `${dir}/effects.txt` };
    const agent = fixture("approval_agent.ts");
    const first = await live.finish(
      spawn(["run", agent, "--run-id", "s", "--db", db, "--json"], env),
    );
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).status, "waiting");
    // A resume before the signal (another process) stays waiting and runs nothing.
    const early = await live.finish(
      spawn(["resume", agent, "--run-id", "s", "--db", db, "--json"], env),
    );
    assert.equal(JSON.parse(early.stdout).status, "waiting");
    const sig = await live.finish(
      spawn(["signal", "--run-id", "s", "--db", db, "--name", "approve", "--data", '{"by":"ann"}']),
    );
    assert.equal(sig.code, 0, sig.stderr);
    const done = await live.finish(
      spawn(["resume", agent, "--run-id", "s", "--db", db, "--json"], env),
    );
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(JSON.parse(done.stdout).result, { approvedBy: "ann" });
    const lines = (await Deno.readTextFile(env.LOOM_EFFECTS)).trim().split("\n");
    assert.deepEqual(lines.map((l) => l.split(" ")[0]), ["prepare", "deploy"]);
  } finally {
    await live.reap();
    await Deno.remove(dir, { recursive: true });
  }
});

// Crash tests with real subprocesses: SIGKILL at random moments, resume until done, and check
// that nothing committed was lost, history has no gaps, and tool side effects repeat only in
// the documented window. Also: leases between two processes, and a durable timer across a kill.
import assert from "node:assert/strict";
import { openStore } from "./store_sqlite.ts";
import { verifyRun } from "./verify.ts";

const CLI = new URL("./cli.ts", import.meta.url).pathname;
const fixture = (name: string) => new URL(`./testdata/${name}`, import.meta.url).pathname;

// Processes still running; a failing test kills them in its `finally` (no leaks).
const live = new Set<Deno.ChildProcess>();

async function reap(): Promise<void> {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.output();
    live.delete(child);
  }
}

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

async function finish(
  child: Deno.ChildProcess,
): Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }> {
  const out = await child.output();
  live.delete(child);
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

function peek<T>(db: string, fn: (s: ReturnType<typeof openStore>) => T): T {
  const s = openStore(db, { create: false });
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function randomKills(
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
    const env = { LOOM_EFFECTS: effects };
    let kills = 0;
    let lastCommitted = -1;
    let exited = false;
    // Kill once the process is inside the step loop (its first side effect appeared), after a
    // further random 0-maxDelayMs ms, so kills land in tool calls, between effect and record, and in
    // commits. Round 0 kills at a random early moment instead (start-up, run creation).
    for (let round = 0; round < rounds && !exited; round++) {
      const started = exists(db) && peek(db, (s) => s.getRun("c") !== undefined);
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
      const killer = (async () => {
        if (round === 0) {
          await new Promise((r) => setTimeout(r, Math.random() * 400));
        } else {
          const end = Date.now() + 30_000;
          while (!done && fileSize(effects) === sizeBefore && Date.now() < end) {
            await new Promise((r) => setTimeout(r, 3));
          }
          await new Promise((r) => setTimeout(r, Math.random() * maxDelayMs));
        }
        if (!done) {
          try {
            child.kill("SIGKILL");
          } catch { /* already exited */ }
        }
      })();
      const out = await finish(child);
      done = true;
      await killer;
      if (out.signal === "SIGKILL") kills++;
      else {
        assert.equal(out.code, 0, `an unkilled process must succeed: ${out.stderr}`);
        exited = true;
      }
      // What was committed is never lost: the committed prefix only grows.
      const now = exists(db) ? peek(db, (s) => s.lastStep("c")?.step ?? -1) : -1;
      assert.ok(now >= lastCommitted, `committed steps went back from ${lastCommitted} to ${now}`);
      lastCommitted = now;
      if (Deno.env.get("LOOM_CRASH_DEBUG")) {
        console.log(`  round ${round}: killed=${out.signal === "SIGKILL"} committed=${now}`);
      }
    }
    if (!exited) {
      const out = await finish(
        spawn(["resume", fixture("crash_agent.ts"), "--run-id", "c", "--db", db, "--json"], env),
      );
      assert.equal(out.code, 0, out.stderr);
    }
    assert.ok(kills >= rounds - 2, `only ${kills} of ${rounds} kills landed before the run ended`);
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
    await reap();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SIGKILL at random moments (20 kills): resume until done; exact state, no gaps, bounded repeats", async () => {
  await randomKills(1000, 20, 0, 60);
});

Deno.test("SIGKILL during large commits (200 KB checkpoints): nothing committed is lost, integrity ok", async () => {
  await randomKills(120, 8, 200_000, 30, ["--checkpoint", "compact:10"]);
});

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
      '{"n":300,"ms":20}',
      "--quiet",
    ]);
    await until("first process commits", () => {
      try {
        return peek(db, (s) => (s.lastStep("l")?.step ?? -1) >= 2);
      } catch {
        return false;
      }
    });
    const t0 = Date.now();
    const b = await finish(
      spawn(["resume", fixture("slow_agent.ts"), "--run-id", "l", "--db", db]),
    );
    assert.equal(b.code, 2);
    assert.match(
      b.stderr,
      /^error: run l is being advanced by another process \(lease owner .*:\d+:\w+, expires in \d+ s\)\n$/,
    );
    assert.ok(Date.now() - t0 < 10_000, "the refusal is fast (no waiting for the lease)");
    a.kill("SIGKILL");
    await finish(a);
    const before = peek(db, (s) => s.lastStep("l")!.step);
    const t1 = Date.now();
    const c = await finish(
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
    assert.ok(Date.now() - t1 < 15_000, "no wait for the 30 s lease expiry");
    const result = JSON.parse(c.stdout);
    assert.equal(result.status, "paused");
    assert.equal(result.steps, before + 1 + 3);
    peek(db, (s) => {
      assert.ok(s.listEvents("l").some((e) => e.kind === "lease-takeover"));
      assert.equal(s.getRun("l")!.leaseOwner, null);
    });
  } finally {
    await reap();
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
    await until("timer recorded", () => {
      try {
        return peek(db, (s) => s.listCalls("t", { kind: "timer" }).length === 1);
      } catch {
        return false;
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    a.kill("SIGKILL");
    await finish(a);
    const wakeAt = peek(db, (s) => s.listCalls("t", { kind: "timer" })[0].deadline!);
    const t0 = Date.now();
    const b = await finish(
      spawn(["resume", fixture("sleep_agent.ts"), "--run-id", "t", "--db", db, "--json"], {
        LOOM_EFFECTS: effects,
      }),
    );
    assert.equal(b.code, 0, b.stderr);
    const r = JSON.parse(b.stdout);
    assert.equal(r.status, "completed");
    assert.ok(Date.now() >= wakeAt, "woke no earlier than the stored time");
    // Slept from the tool call to the wake-up: ~3000 ms when the stored wake time was kept;
    // a restarted timer would give >= 500 (before the kill) + start-up + 3000 ms.
    assert.ok(r.result.sleptMs >= 3000, `slept ${r.result.sleptMs} ms`);
    assert.ok(r.result.sleptMs < 3450, `slept ${r.result.sleptMs} ms: the timer restarted`);
    assert.ok(Date.now() - t0 < 3000, "the resumed process waited less than a whole timer");
    assert.equal(
      (await Deno.readTextFile(effects)).trim(),
      "clock",
      "the tool before the sleep ran once",
    );
  } finally {
    await reap();
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
      '{"n":40,"ms":20}',
    ]);
    await until(
      "first commits",
      () => exists(db) && peek(db, (s) => (s.lastStep("i")?.step ?? -1) >= 2),
    );
    a.kill("SIGINT");
    const out = await finish(a);
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
    const b = await finish(
      spawn(["resume", fixture("slow_agent.ts"), "--run-id", "i", "--db", db, "--json"]),
    );
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).result, 40);
    const report = await peekAsync(db, (s) => verifyRun(s, "i"));
    assert.deepEqual(report.problems, []);
  } finally {
    await reap();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("signals across processes: the tool call before the wait is replayed, never re-run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-signal-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const env = { LOOM_EFFECTS: `${dir}/effects.txt` };
    const agent = fixture("approval_agent.ts");
    const first = await finish(spawn(["run", agent, "--run-id", "s", "--db", db, "--json"], env));
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).status, "waiting");
    // A resume before the signal (another process) stays waiting and runs nothing.
    const early = await finish(
      spawn(["resume", agent, "--run-id", "s", "--db", db, "--json"], env),
    );
    assert.equal(JSON.parse(early.stdout).status, "waiting");
    const sig = await finish(
      spawn(["signal", "--run-id", "s", "--db", db, "--name", "approve", "--data", '{"by":"ann"}']),
    );
    assert.equal(sig.code, 0, sig.stderr);
    const done = await finish(spawn(["resume", agent, "--run-id", "s", "--db", db, "--json"], env));
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(JSON.parse(done.stdout).result, { approvedBy: "ann" });
    const lines = (await Deno.readTextFile(env.LOOM_EFFECTS)).trim().split("\n");
    assert.deepEqual(lines.map((l) => l.split(" ")[0]), ["prepare", "deploy"]);
  } finally {
    await reap();
    await Deno.remove(dir, { recursive: true });
  }
});

// Workers sharing one PostgreSQL store: in-process workers, LISTEN/NOTIFY wake-ups, timers, a
// graceful stop, and real worker processes of which one is SIGKILLed mid-run.
import assert from "node:assert/strict";
import { defineAgent, enqueueRun, sendSignal } from "../mod.ts";
import type { PostgresStore } from "../store/postgres/mod.ts";
import { memoryLogger } from "../_test_util.ts";
import { waitFor } from "../testing.ts";
import { POSTGRES_BACKEND, type TestStore } from "../testing/_stores.ts";
import { chain, chainHash, sleeper, waiter } from "../testdata/worker_agents/agents.ts";
import { runWorker, type WorkerOptions } from "./worker.ts";

const AGENTS = [chain, waiter, sleeper] as WorkerOptions["agents"];
const CLI = new URL("../cli/worker.ts", import.meta.url).pathname;
const AGENTS_DIR = new URL("../testdata/worker_agents", import.meta.url).pathname;

function pgTest(
  name: string,
  fn: (t: TestStore & { store: PostgresStore }) => Promise<void>,
): void {
  Deno.test(`postgres: ${name}`, async () => {
    const t = await POSTGRES_BACKEND.open();
    try {
      await fn(t as TestStore & { store: PostgresStore });
    } finally {
      await t.cleanup();
    }
  });
}

async function assertChainDone(store: PostgresStore, runId: string, n: number): Promise<void> {
  const run = await store.getRun(runId);
  assert.equal(run?.status, "completed", `${runId} is ${run?.status}`);
  assert.deepEqual(JSON.parse(run!.result!), { i: n, h: chainHash(n) });
  const steps = await store.listSteps(runId);
  assert.deepEqual(steps.map((s) => s.step), Array.from({ length: n + 1 }, (_, i) => i));
}

pgTest("two workers drain 30 queued runs between them; each run completes once", async (t) => {
  const other = (await t.reopen()) as PostgresStore;
  for (let i = 0; i < 30; i++) {
    await enqueueRun(chain, { store: t.store, runId: `r${i}`, input: { n: 5, delayMs: 2 } });
  }
  // Hold the first step of the first 6 runs until 6 are in progress at once: with a concurrency
  // of 3 each, that can only happen when both workers hold runs, whichever starts first.
  const gate = Promise.withResolvers<void>();
  let inProgress = 0;
  const gated = defineAgent({
    ...chain,
    moduleUrl: chain.moduleUrl,
    step: async (s, ctx) => {
      if (ctx.step === 0) {
        if (++inProgress === 6) gate.resolve();
        await gate.promise;
      }
      return chain.step(s, ctx);
    },
  });
  const agents = [gated, waiter, sleeper] as WorkerOptions["agents"];
  const logger = memoryLogger();
  const [a, b] = await Promise.all([
    runWorker({ store: t.store, agents, concurrency: 3, drain: true, logger }),
    runWorker({ store: other, agents, concurrency: 3, drain: true, logger }),
  ]);
  assert.equal((a.outcomes.completed ?? 0) + (b.outcomes.completed ?? 0), 30);
  assert.ok(a.outcomes.completed! > 0 && b.outcomes.completed! > 0, "both workers took runs");
  assert.equal(a.steps + b.steps, 30 * 6);
  for (let i = 0; i < 30; i++) await assertChainDone(t.store, `r${i}`, 5);
});

pgTest("an idle worker wakes on NOTIFY: a new run, then a signal for a waiting run", async (t) => {
  const stop = new AbortController();
  const events: string[] = [];
  // The worker asks for the next wake time only after a round that found nothing to claim,
  // right before it sleeps: that call is the sign that it went idle.
  let idleRounds = 0;
  const store = new Proxy(t.store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "nextWakeAt") {
        return (...args: unknown[]) => {
          idleRounds++;
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  const worker = runWorker({
    store,
    agents: AGENTS,
    maxIdleMs: 120_000, // far longer than the test: only a notification can wake it
    abortSignal: stop.signal,
    onRun: (e) => events.push(`${e.runId}:${e.outcome}`),
  });
  try {
    await waitFor("the worker to find no work and go idle", () => idleRounds >= 1);
    const other = await t.reopen();
    await enqueueRun(waiter, { store: other, runId: "w" });
    await waitFor("the run to wait", async () => (await t.store.getRun("w"))?.status === "waiting");
    await sendSignal(other, "w", "go", { value: 42 });
    await waitFor("completion", async () => (await t.store.getRun("w"))?.status === "completed");
    assert.deepEqual(JSON.parse((await t.store.getRun("w"))!.result!), { got: { value: 42 } });
    assert.deepEqual(events, ["w:waiting", "w:completed"]);
    const kinds = (await t.store.listEvents("w")).map((e) => e.kind);
    assert.deepEqual(kinds.slice(0, 2), ["queued", "resumed"]);
  } finally {
    stop.abort();
    await worker;
  }
});

pgTest("a suspended timer is resumed by the worker when due", async (t) => {
  await enqueueRun(sleeper, { store: t.store, runId: "s", input: { ms: 300 } });
  const events: string[] = [];
  const t0 = Date.now();
  const summary = await runWorker({
    store: t.store,
    agents: AGENTS,
    drain: true,
    maxIdleMs: 120_000,
    maxInProcessSleepMs: 0,
    onRun: (e) => events.push(e.outcome),
  });
  assert.deepEqual(events, ["waiting", "completed"]);
  assert.ok(Date.now() - t0 >= 300);
  assert.equal(summary.claimed, 2);
  assert.equal((await t.store.getRun("s"))!.result, '"woke"');
});

/**
 * `chain` (same steps, same result), except that while `gate.closed` its step 3 waits until the
 * worker stops it: runs are provably mid-way when the worker is stopped, on any machine.
 */
const gate = { closed: true };
const gatedChain = defineAgent({
  name: "gated-chain",
  initialState: chain.initialState,
  async step(s, ctx) {
    if (gate.closed && s.i === 3) {
      await new Promise((resolve) =>
        ctx.abortSignal.addEventListener("abort", resolve, { once: true })
      );
    }
    return await chain.step(s, ctx);
  },
});

pgTest("a stopped worker leaves its runs paused; another worker finishes them", async (t) => {
  const agents = [gatedChain] as WorkerOptions["agents"];
  for (let i = 0; i < 3; i++) {
    await enqueueRun(gatedChain, { store: t.store, runId: `p${i}`, input: { n: 30 } });
  }
  const stop = new AbortController();
  const first = runWorker({ store: t.store, agents, concurrency: 3, abortSignal: stop.signal });
  try {
    await waitFor("each run to commit step 2 and hold in step 3", async () => {
      for (let i = 0; i < 3; i++) {
        if ((await t.store.lastStep(`p${i}`))?.step !== 2) return false;
      }
      return true;
    });
  } finally {
    stop.abort();
  }
  const s1 = await first;
  assert.equal(s1.outcomes.paused, 3);
  assert.equal(s1.steps, 3 * 3, "steps 0-2 of each run; step 3 was interrupted");
  for (let i = 0; i < 3; i++) assert.equal((await t.store.getRun(`p${i}`))!.status, "paused");
  gate.closed = false;
  const s2 = await runWorker({ store: t.store, agents, concurrency: 2, drain: true });
  assert.equal(s2.outcomes.completed, 3);
  assert.equal(s1.steps + s2.steps, 3 * 31);
  for (let i = 0; i < 3; i++) await assertChainDone(t.store, `p${i}`, 30);
});

pgTest("steps-per-claim releases a run after N steps so any worker can continue it", async (t) => {
  await enqueueRun(chain, { store: t.store, runId: "a", input: { n: 5 } });
  await enqueueRun(chain, { store: t.store, runId: "b", input: { n: 5 } });
  const s = await runWorker({ store: t.store, agents: AGENTS, stepsPerClaim: 2, drain: true });
  assert.deepEqual(s.outcomes, { paused: 4, completed: 2 });
  assert.equal(s.claimed, 6);
  assert.equal(s.steps, 12);
  for (const id of ["a", "b"]) {
    await assertChainDone(t.store, id, 5);
    const kinds = (await t.store.listEvents(id)).map((e) => e.kind);
    assert.deepEqual(kinds, ["queued", "resumed", "resumed", "resumed"]);
  }
});

pgTest("a run the worker cannot resume is reported once and left alone", async (t) => {
  await enqueueRun(chain, { store: t.store, runId: "bad", input: { n: 2 } });
  await enqueueRun(chain, { store: t.store, runId: "good", input: { n: 2 } });
  await t.store.updateRunIf("bad", ["queued"], { agentVersion: 7 });
  const events: string[] = [];
  const summary = await runWorker({
    store: t.store,
    agents: AGENTS,
    drain: true,
    onRun: (e) => events.push(`${e.runId}:${e.outcome}${e.error ? `:${e.error}` : ""}`),
  });
  assert.deepEqual(events.sort(), [
    "bad:error:run bad was checkpointed by chain version 7, but this module is version 1 and has no migrate()",
    "good:completed",
  ]);
  assert.equal(summary.claimed, 2);
  assert.equal((await t.store.getRun("bad"))!.status, "queued");
});

function workerProcess(
  t: TestStore,
  extra: string[] = [],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    env,
    args: [
      "run",
      "-A",
      CLI,
      "worker",
      "--db",
      t.db,
      "--schema",
      t.schema!,
      "--agents",
      AGENTS_DIR,
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

pgTest("3 worker processes, one SIGKILLed mid-run: every run completes once", async (t) => {
  const runs = 12;
  const n = 15;
  for (let i = 0; i < runs; i++) {
    await enqueueRun(chain, { store: t.store, runId: `k${i}`, input: { n, delayMs: 15 } });
  }
  const flags = ["--drain", "--json", "--concurrency", "2", "--lease-ttl", "1000"];
  // The victim works alone first and SIGKILLs itself right after committing step 2 of a run
  // (the runner's test-only fault hook), so it dies holding that run, on any machine.
  const victim = workerProcess(t, flags, { LOOM_TEST_CRASH_AFTER_STEP: "2" });
  const victimOut = await victim.output();
  assert.equal(victimOut.signal, "SIGKILL", new TextDecoder().decode(victimOut.stderr));
  const held = await t.store.sql.unsafe(
    `SELECT run_id FROM ${t.store.schema}.runs WHERE lease_owner LIKE $1 AND status = 'running'`,
    [`%:${victim.pid}:%`],
  );
  assert.ok(held.length > 0, "the victim died holding a run");
  const outputs = await Promise.all([0, 1].map(() => workerProcess(t, flags).output()));
  for (const o of outputs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  const summaries = outputs.map((o) => JSON.parse(new TextDecoder().decode(o.stdout)));
  for (let i = 0; i < runs; i++) await assertChainDone(t.store, `k${i}`, n);
  // The killed worker's runs were taken over after its lease expired.
  for (const r of held) {
    const kinds = (await t.store.listEvents(r.run_id as string)).map((e) => e.kind);
    assert.ok(kinds.includes("lease-takeover"), `${r.run_id}: ${kinds.join(",")}`);
  }
  const completedBySurvivors = summaries.reduce((s, x) => s + (x.outcomes.completed ?? 0), 0);
  assert.equal(completedBySurvivors, runs);
});

pgTest(
  "CLI: enqueue by agent name, a draining worker runs it; usage errors are one line",
  async (t) => {
    const run = async (args: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", CLI, ...args] })
        .output();
      return {
        code: o.code,
        out: new TextDecoder().decode(o.stdout),
        err: new TextDecoder().decode(o.stderr),
      };
    };
    const db = ["--db", t.db, "--schema", t.schema!];
    const q = await run([
      "enqueue",
      "chain",
      "--run-id",
      "q1",
      "--input",
      '{"n":4}',
      "--agents",
      AGENTS_DIR,
      ...db,
    ]);
    assert.equal(q.code, 0, q.err);
    assert.equal(q.out.trim(), "run q1 queued for agent chain");
    const w = await run(["worker", "--agents", AGENTS_DIR, "--drain", "--json", ...db]);
    assert.equal(w.code, 0, w.err);
    const summary = JSON.parse(w.out);
    assert.equal(summary.outcomes.completed, 1);
    assert.equal(summary.steps, 5);
    await assertChainDone(t.store, "q1", 4);

    const dup = await run([
      "enqueue",
      "chain",
      "--run-id",
      "q1",
      "--input",
      '{"n":4}',
      "--agents",
      AGENTS_DIR,
      ...db,
    ]);
    assert.equal(dup.code, 2);
    assert.match(dup.err, /^error: run q1 already exists/);
    const cases: [string[], RegExp][] = [
      [["worker", ...db], /^error: --agents DIR is required\n$/],
      [
        ["worker", "--db", AGENTS_DIR, "--agents", AGENTS_DIR],
        /^error: .*worker_agents is a directory, not a database file\n$/,
      ],
      [
        ["enqueue", "chain", "--run-id", "z", "--input", "{", "--agents", AGENTS_DIR, ...db],
        /^error: --input is not valid JSON\n$/,
      ],
      [
        ["worker", "--concurrency", "0", "--agents", AGENTS_DIR, ...db],
        /^error: --concurrency must be an integer/,
      ],
      [
        ["enqueue", "nope", "--run-id", "z", "--agents", AGENTS_DIR, ...db],
        /^error: no agent named nope in /,
      ],
      [
        ["worker", "--agents", AGENTS_DIR, "--db", "postgres://postgres@127.0.0.1:1/test"],
        /^error: cannot open PostgreSQL store postgres:\/\/postgres@127\.0\.0\.1:1\/test/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i];
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
    });
  },
);

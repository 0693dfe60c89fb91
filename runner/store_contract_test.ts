// The engine's semantics, run over every store backend (SQLite and PostgreSQL): the same agents,
// the same assertions. Includes a SIGKILL crash test per backend with a real subprocess.
import assert from "node:assert/strict";
import {
  cancelRun,
  defineAgent,
  explainRun,
  LoomError,
  recur,
  resumeRun,
  RunnerError,
  sendSignal,
  startRun,
  verifyRun,
} from "./mod.ts";
import { memoryLogger } from "./test_util.ts";
import { STORE_BACKENDS, type TestStore } from "./testing_stores.ts";
import { chain, chainHash, sleeper, waiter } from "./testdata/worker_agents/agents.ts";

function storeTest(name: string, fn: (t: TestStore) => Promise<void>): void {
  for (const backend of STORE_BACKENDS) {
    Deno.test(`${backend.name}: ${name}`, async () => {
      const t = await backend.open();
      try {
        await fn(t);
      } finally {
        await t.cleanup();
      }
    });
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

storeTest("a run pauses at max-steps and resumes to the same result; history is complete", async ({ store }) => {
  const first = await startRun(chain, { store, runId: "c", input: { n: 9 }, maxSteps: 4 });
  assert.equal(first.status, "paused");
  assert.equal(first.steps, 4);
  const done = await resumeRun(chain, { store, runId: "c" });
  assert.equal(done.status, "completed");
  assert.deepEqual(done.result, { i: 9, h: chainHash(9) });
  const steps = await store.listSteps("c");
  assert.deepEqual(steps.map((s) => s.step), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(steps[9].state, null);
  assert.equal(JSON.parse(steps[2].state!).i, 3);
  assert.deepEqual((await store.listEvents("c")).map((e) => e.kind), ["started", "resumed"]);
  assert.deepEqual((await verifyRun(store, "c")).problems, []);
  await assert.rejects(resumeRun(chain, { store, runId: "c" }), RunnerError);
  await assert.rejects(startRun(chain, { store, runId: "c", input: { n: 1 } }), /already exists/);
});

storeTest("retries: a transient step error is retried and every attempt is recorded", async ({ store }) => {
  let calls = 0;
  const flaky = defineAgent({
    name: "flaky",
    initialState: () => ({ done: false }),
    retry: { maxAttempts: 4, initialDelayMs: 1, jitter: 0 },
    step(s) {
      if (s.done) return "ok";
      calls++;
      if (calls < 3) throw new LoomError(`try ${calls}`, { category: "transient" });
      return recur({ done: true });
    },
  });
  const r = await startRun(flaky, { store, runId: "f", logger: memoryLogger() });
  assert.equal(r.status, "completed");
  const attempts = await store.listAttempts("f");
  assert.deepEqual(attempts.map((a) => [a.step, a.attempt, a.category]), [
    [0, 1, "transient"],
    [0, 2, "transient"],
  ]);
  assert.equal(await store.countAttempts("f"), 2);
  assert.equal((await store.getStep("f", 0))!.attempt, 3);
});

storeTest("tool calls: a completed call replays from the store on the next attempt", async ({ store }) => {
  let executed = 0;
  let attempt = 0;
  const tooled = defineAgent({
    name: "tooled",
    initialState: () => ({}),
    retry: { maxAttempts: 3, initialDelayMs: 1, jitter: 0 },
    async step(_s, ctx) {
      const v = await ctx.callTool("add", { a: 2, b: 3 }, (args: { a: number; b: number }) => {
        executed++;
        return args.a + args.b;
      });
      if (++attempt === 1) throw new LoomError("after the tool", { category: "transient" });
      return v;
    },
  });
  const r = await startRun(tooled, { store, runId: "t", logger: memoryLogger() });
  assert.equal(r.result, 5);
  assert.equal(executed, 1);
  const calls = await store.listCalls("t");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].status, "completed");
  assert.equal(calls[0].capped, false);
  assert.equal(calls[0].result, "5");
});

storeTest("signals: waiting, then sendSignal and resume deliver the payload once", async ({ store }) => {
  const first = await startRun(waiter, { store, runId: "w" });
  assert.equal(first.status, "waiting");
  assert.equal(first.waitingFor, "go");
  const still = await resumeRun(waiter, { store, runId: "w" });
  assert.equal(still.status, "waiting");
  await sendSignal(store, "w", "go", { value: 7 });
  const done = await resumeRun(waiter, { store, runId: "w" });
  assert.equal(done.status, "completed");
  assert.deepEqual(done.result, { got: { value: 7 } });
  const sigs = await store.listSignals("w");
  assert.equal(sigs.length, 1);
  assert.ok(sigs[0].consumedBy);
  assert.equal(await store.nextSignal("w", "go"), undefined);
});

storeTest("timers: a long sleep suspends with its wake time and completes once due", async ({ store }) => {
  const opts = { store, runId: "s", input: { ms: 150 }, maxInProcessSleepMs: 0 };
  const first = await startRun(sleeper, opts);
  assert.equal(first.status, "waiting");
  assert.equal(first.waitingFor, "timer");
  await new Promise((r) => setTimeout(r, 170));
  const done = await resumeRun(sleeper, opts);
  assert.equal(done.status, "completed");
  assert.equal(done.result, "woke");
});

storeTest("children: the parent waits for a waiting child and finishes after it", async ({ store }) => {
  const parent = defineAgent({
    name: "parent",
    initialState: () => ({}),
    async step(_s, ctx) {
      const a = await ctx.child(chain, { runId: "p/a", input: { n: 3 } });
      const b = await ctx.child(waiter, { runId: "p/b" });
      return { a, b };
    },
  });
  const first = await startRun(parent, { store, runId: "p" });
  assert.equal(first.status, "waiting");
  assert.equal(first.waitingFor, "child:p/b");
  assert.equal((await store.getRun("p/a"))!.status, "completed");
  assert.equal((await store.getRun("p/b"))!.parentRunId, "p");
  await sendSignal(store, "p/b", "go", { value: 1 });
  const done = await resumeRun(parent, { store, runId: "p" });
  assert.equal(done.status, "completed");
  assert.deepEqual(done.result, { a: { i: 3, h: chainHash(3) }, b: { got: { value: 1 } } });
  const e = await explainRun(store, "p");
  assert.deepEqual(e.children.map((c) => `${c.runId}:${c.status}`), ["p/a:completed", "p/b:completed"]);
});

storeTest("leases: a second process cannot advance a run that is being advanced", async (t) => {
  const other = await t.reopen();
  const running = startRun(chain, { store: t.store, runId: "l", input: { n: 12, delayMs: 25 } });
  await until("first step", async () => (await other.lastStep("l")) !== undefined);
  await assert.rejects(resumeRun(chain, { store: other, runId: "l" }), /being advanced by another process/);
  const done = await running;
  assert.deepEqual(done.result, { i: 12, h: chainHash(12) });
});

storeTest("cancelling a run another invocation advances stops it at its next commit", async (t) => {
  const other = await t.reopen();
  const running = startRun(chain, { store: t.store, runId: "x", input: { n: 200, delayMs: 10 } });
  await until("some steps", async () => ((await other.lastStep("x"))?.step ?? -1) >= 2);
  await cancelRun(other, "x", "stop it");
  const r = await running;
  assert.equal(r.status, "cancelled");
  assert.equal((await t.store.getRun("x"))!.status, "cancelled");
  assert.ok((await t.store.stepStats("x")).count < 200);
});

storeTest("SIGKILL mid-run: resume takes over at once and every step is committed once", async (t) => {
  const n = 40;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./testdata/run_chain_proc.ts", import.meta.url).pathname,
      t.db,
      t.schema ?? "-",
      "k",
      String(n),
      "30",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await until("a few committed steps", async () => ((await t.store.lastStep("k"))?.step ?? -1) >= 4);
  } finally {
    child.kill("SIGKILL");
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  await child.stderr.cancel();
  const before = (await t.store.lastStep("k"))!.step;
  assert.ok(before < n, "the child was killed before it finished");
  assert.equal((await t.store.getRun("k"))!.status, "running"); // a dead owner's lease is still there
  const r = await resumeRun(chain, { store: t.store, runId: "k" });
  assert.equal(r.status, "completed");
  assert.deepEqual(r.result, { i: n, h: chainHash(n) });
  const steps = await t.store.listSteps("k");
  assert.deepEqual(steps.map((s) => s.step), Array.from({ length: n + 1 }, (_, i) => i));
  const kinds = (await t.store.listEvents("k")).map((e) => e.kind);
  assert.ok(kinds.includes("lease-takeover"), kinds.join(","));
  assert.deepEqual((await verifyRun(t.store, "k")).problems, []);
});

// Store semantics that need two connections or processes, run over every store backend (SQLite
// and PostgreSQL) with the same assertions: queued runs, leases, cancellation from another
// connection, and a SIGKILL crash test per backend with a real subprocess. (The engine's own
// suite runs on PostgreSQL too: see engine_postgres_test.ts.)
import assert from "node:assert/strict";
import {
  cancelRun,
  defineAgent,
  enqueueRun,
  recur,
  resumeRun,
  startRun,
  verifyRun,
} from "../mod.ts";
import { STORE_BACKENDS, type TestStore } from "../testing/_stores.ts";
import { chain, chainHash } from "../testdata/worker_agents/agents.ts";
import { waitFor } from "../testing.ts";

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

/**
 * A counter that stops in step `at` until `release()` is called: the run is provably still
 * being advanced, however fast or slow the machine, while the test acts on it.
 */
function gatedCounter(at: number, steps: number) {
  const { promise, resolve } = Promise.withResolvers<void>();
  const agent = defineAgent({
    name: "gated",
    initialState: () => ({ i: 0 }),
    async step(s: { i: number }) {
      if (s.i === at) await promise;
      return s.i >= steps ? s.i : recur({ i: s.i + 1 });
    },
  });
  return { agent, release: () => resolve() };
}

storeTest(
  "an enqueued run is queued without a lease, and a resume starts it",
  async ({ store }) => {
    const rec = await enqueueRun(chain, { store, runId: "q", input: { n: 3 } });
    assert.equal(rec.status, "queued");
    const stored = (await store.getRun("q"))!;
    assert.equal(stored.status, "queued");
    assert.equal(stored.leaseOwner, null);
    assert.equal(await store.lastStep("q"), undefined);
    await assert.rejects(
      enqueueRun(chain, { store, runId: "q", input: { n: 3 } }),
      /already exists/,
    );
    const done = await resumeRun(chain, { store, runId: "q" });
    assert.deepEqual(done.result, { i: 3, h: chainHash(3) });
    assert.deepEqual((await store.listEvents("q")).map((e) => e.kind), ["queued", "resumed"]);
  },
);

storeTest("leases: a second process cannot advance a run that is being advanced", async (t) => {
  const other = await t.reopen();
  const { agent, release } = gatedCounter(1, 12);
  const running = startRun(agent, { store: t.store, runId: "l" });
  try {
    await waitFor("step 0 committed", async () => (await other.lastStep("l")) !== undefined);
    await assert.rejects(
      resumeRun(agent, { store: other, runId: "l" }),
      /being advanced by another process/,
    );
  } finally {
    release();
    await running.catch(() => {}); // settled before the store is closed, even on failure
  }
  const done = await running;
  assert.equal(done.result, 12);
  // The refused resume left no trace (no "resumed", no "lease-takeover").
  assert.deepEqual((await t.store.listEvents("l")).map((e) => e.kind), ["started"]);
});

storeTest("cancelling a run another invocation advances stops it at its next commit", async (t) => {
  const other = await t.reopen();
  const { agent, release } = gatedCounter(3, 200);
  const running = startRun(agent, { store: t.store, runId: "x" });
  try {
    await waitFor("step 2 committed", async () => (await other.lastStep("x"))?.step === 2);
    await cancelRun(other, "x", "stop it");
  } finally {
    release();
    await running.catch(() => {}); // settled before the store is closed, even on failure
  }
  const r = await running;
  assert.equal(r.status, "cancelled");
  assert.equal((await t.store.getRun("x"))!.status, "cancelled");
  // Step 3 was running when the run was cancelled: its commit is refused.
  assert.equal((await t.store.stepStats("x")).count, 3);
});

storeTest(
  "SIGKILL mid-run: resume takes over at once and every step is committed once",
  async (t) => {
    const n = 40;
    // The child SIGKILLs itself right after committing step 4 (the runner's test-only fault
    // hook), so the kill lands mid-run on any machine.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../testdata/run_chain_proc.ts", import.meta.url).pathname,
        t.db,
        t.schema ?? "-",
        "k",
        String(n),
        "0",
      ],
      env: { LOOM_TEST_CRASH_AFTER_STEP: "k:4" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    await child.stderr.cancel();
    assert.equal((await t.store.lastStep("k"))!.step, 4, "killed right after step 4");
    assert.equal((await t.store.getRun("k"))!.status, "running"); // a dead owner's lease is still there
    const r = await resumeRun(chain, { store: t.store, runId: "k" });
    assert.equal(r.status, "completed");
    assert.deepEqual(r.result, { i: n, h: chainHash(n) });
    const steps = await t.store.listSteps("k");
    assert.deepEqual(
      steps.map((s) => s.step),
      Array.from({ length: n + 1 }, (_, i) => i),
    );
    const kinds = (await t.store.listEvents("k")).map((e) => e.kind);
    assert.ok(kinds.includes("lease-takeover"), kinds.join(","));
    assert.deepEqual((await verifyRun(t.store, "k")).problems, []);
  },
);

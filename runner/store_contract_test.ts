// Store semantics that need two connections or processes, run over every store backend (SQLite
// and PostgreSQL) with the same assertions: queued runs, leases, cancellation from another
// connection, and a SIGKILL crash test per backend with a real subprocess. (The engine's own
// suite runs on PostgreSQL too: see engine_postgres_test.ts.)
import assert from "node:assert/strict";
import { cancelRun, enqueueRun, resumeRun, startRun, verifyRun } from "./mod.ts";
import { STORE_BACKENDS, type TestStore } from "./testing_stores.ts";
import { chain, chainHash } from "./testdata/worker_agents/agents.ts";

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
  const running = startRun(chain, { store: t.store, runId: "l", input: { n: 12, delayMs: 25 } });
  await until("first step", async () => (await other.lastStep("l")) !== undefined);
  await assert.rejects(
    resumeRun(chain, { store: other, runId: "l" }),
    /being advanced by another process/,
  );
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

storeTest(
  "SIGKILL mid-run: resume takes over at once and every step is committed once",
  async (t) => {
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
      await until(
        "a few committed steps",
        async () => ((await t.store.lastStep("k"))?.step ?? -1) >= 4,
      );
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
    assert.deepEqual(
      steps.map((s) => s.step),
      Array.from({ length: n + 1 }, (_, i) => i),
    );
    const kinds = (await t.store.listEvents("k")).map((e) => e.kind);
    assert.ok(kinds.includes("lease-takeover"), kinds.join(","));
    assert.deepEqual((await verifyRun(t.store, "k")).problems, []);
  },
);

// Space (issue 13): what a run's rows take, deleting runs gives the space back to the file system
// and says how much (both stores), an older SQLite file is converted to incremental vacuum by its
// first reclaim, and a large delete commits in batches that let another connection commit.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  defineAgent,
  deleteRun,
  getCheckpoint,
  pruneRuns,
  recur,
  resumeRun,
  startRun,
  verifyRun,
} from "../mod.ts";
import { runRecord } from "../_test_util.ts";
import { seededRandom } from "../testing/seed.ts";
import { STORE_BACKENDS, type TestStore } from "../testing/_stores.ts";
import { openStore, type SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";
import { spaceOf } from "./space.ts";

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

/** Text that neither SQLite nor PostgreSQL's TOAST compression shrinks much. */
function noise(bytes: number, seed: number): string {
  const random = seededRandom(seed);
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  let out = "";
  while (out.length < bytes) out += alphabet[random.int(0, alphabet.length - 1)];
  return out;
}

type Notes = { notes: string[]; steps: number };
/** Each step adds a note of `input.bytes` bytes, until `input.steps` notes. */
const notes = defineAgent({
  name: "notes",
  initialState: (input: { steps: number; bytes: number }): Notes & { bytes: number } => ({
    notes: [],
    steps: input.steps,
    bytes: input.bytes,
  }),
  step: (s, ctx) =>
    s.notes.length >= s.steps
      ? { notes: s.notes.length }
      : recur({ ...s, notes: [...s.notes, noise(s.bytes, ctx.step)] }),
});

function walBytes(store: SqliteStore): number {
  try {
    return Deno.statSync(`${store.location}-wal`).size;
  } catch {
    return 0;
  }
}

storeTest(
  "runBytes counts one run's rows per table, and verify reports them",
  async ({ store }) => {
    await startRun(notes, { store, runId: "big", input: { steps: 5, bytes: 4000 } });
    await startRun(notes, { store, runId: "small", input: { steps: 1, bytes: 10 } });
    const big = await spaceOf(store).runBytes("big");
    assert.equal(big.tables.steps.rows, 6, "5 checkpoints and the final step");
    assert.equal(big.tables.runs.rows, 1);
    assert.ok(big.tables.events.rows >= 1);
    // The run holds 5 new notes of 4,000 bytes (at least), and at most whole states of 1 + 2 + ...
    // + 5 notes.
    const sum = Object.values(big.tables).reduce((a, t) => a + t.bytes, 0);
    assert.equal(big.bytes, sum);
    assert.ok(big.bytes >= 5 * 4000 && big.bytes < 15 * 4000 * 1.5, `${big.bytes} bytes`);
    const small = await spaceOf(store).runBytes("small");
    assert.ok(small.bytes < big.bytes / 20, `${small.bytes} vs ${big.bytes}`);
    assert.equal((await spaceOf(store).runBytes("nothing")).bytes, 0);
    const report = await verifyRun(store, "big");
    assert.ok(report.ok, report.problems.join("; "));
    assert.deepEqual(report.size, big);
  },
);

storeTest("deleteRun and pruneRuns give the space back and say how much", async (t) => {
  const { store } = t;
  await startRun(notes, { store, runId: "keep", input: { steps: 3, bytes: 100 } });
  await startRun(notes, { store, runId: "a", input: { steps: 60, bytes: 8000 } });
  await startRun(notes, { store, runId: "b", input: { steps: 60, bytes: 8000 } });
  const runBytes = (await spaceOf(store).runBytes("a")).bytes;
  assert.ok(runBytes >= 60 * 8000, `${runBytes}`);
  const sqlite = t.schema === undefined;
  const full = sqlite ? {} : { reclaim: "full" as const };
  const del = await deleteRun(store, "a", full);
  assert.deepEqual(del.deleted, ["a"]);
  assert.equal(del.method, sqlite ? "incremental-vacuum" : "pg-vacuum-full");
  assert.equal(del.bytesAfter, await spaceOf(store).diskBytes());
  assert.equal(del.reclaimedBytes, del.bytesBefore - del.bytesAfter);
  // PostgreSQL compresses values a little (TOAST): count on half of what the rows hold.
  assert.ok(del.reclaimedBytes > runBytes / 2, `${del.reclaimedBytes} of ${runBytes}`);
  if (sqlite) {
    assert.equal(del.walTruncated, true);
    assert.equal(walBytes(store as SqliteStore), 0);
  }
  const pruned = await pruneRuns(store, { endedBefore: new Date(Date.now() + 60_000), ...full });
  assert.deepEqual(pruned.deleted.sort(), ["b", "keep"]);
  assert.ok(pruned.reclaimedBytes > runBytes / 2, `${pruned.reclaimedBytes} of ${runBytes}`);
  // Nothing left to delete: nothing is done, and nothing changes.
  const again = await pruneRuns(store, { endedBefore: new Date(Date.now() + 60_000) });
  assert.deepEqual([again.deleted, again.method, again.reclaimedBytes], [[], "none", 0]);
});

Deno.test("postgres: a plain VACUUM after a delete reports the sizes before and after", async () => {
  const t = await STORE_BACKENDS[1].open();
  try {
    await startRun(notes, { store: t.store, runId: "a", input: { steps: 10, bytes: 2000 } });
    const r = await deleteRun(t.store, "a");
    assert.equal(r.method, "pg-vacuum");
    assert.equal(r.bytesAfter, await spaceOf(t.store).diskBytes());
    assert.ok(r.bytesBefore > 0);
  } finally {
    await t.cleanup();
  }
});

Deno.test("sqlite: reclaim 'none' keeps the free pages; 'full' rewrites the file", async () => {
  const t = await STORE_BACKENDS[0].open();
  try {
    const store = t.store as SqliteStore;
    await startRun(notes, { store, runId: "a", input: { steps: 60, bytes: 8000 } });
    await startRun(notes, { store, runId: "b", input: { steps: 60, bytes: 8000 } });
    const runBytes = (await spaceOf(store).runBytes("a")).bytes;
    const pragma = (name: string) =>
      Number(Object.values(store.db.prepare(`PRAGMA ${name}`).get()!)[0]);
    const kept = await deleteRun(store, "a", { reclaim: "none" });
    assert.equal(kept.method, "none");
    const free = pragma("freelist_count") * pragma("page_size");
    assert.ok(free > runBytes / 2, `free: ${free} bytes of ${runBytes}`);
    const full = await deleteRun(store, "b", { reclaim: "full" });
    assert.equal(full.method, "vacuum");
    assert.ok(full.reclaimedBytes > runBytes, `${full.reclaimedBytes} of 2 x ${runBytes}`);
    assert.equal(pragma("freelist_count"), 0);
    await assert.rejects(deleteRun(store, "nope"), /does not exist/);
    // Bad options are refused before anything is deleted.
    await startRun(notes, { store, runId: "c", input: { steps: 2, bytes: 10 } });
    const bogus = { reclaim: "some" } as unknown as { reclaim: "auto" };
    await assert.rejects(deleteRun(store, "c", bogus), /reclaim must be auto, full or none/);
    await assert.rejects(deleteRun(store, "c", { batchRows: 0 }), /batchRows must be a positive/);
    await assert.rejects(
      pruneRuns(store, { endedBefore: new Date(Date.now() + 60_000), batchRows: 1.5 }),
      /batchRows must be a positive/,
    );
    assert.equal(store.getRun("c")?.status, "completed");
  } finally {
    await t.cleanup();
  }
});

Deno.test("sqlite: a file written before incremental vacuum is converted by its first reclaim", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-space-" });
  const path = `${dir}/runs.sqlite`;
  try {
    await Deno.copyFile(new URL("../testdata/schema_v1/runs.sqlite", import.meta.url), path);
    const store = openStore(path);
    const autoVacuum = () =>
      (store.db.prepare("PRAGMA auto_vacuum").get() as { auto_vacuum: number }).auto_vacuum;
    assert.equal(autoVacuum(), 0, "the fixture predates incremental vacuum");
    await startRun(notes, { store, runId: "a", input: { steps: 60, bytes: 8000 } });
    await startRun(notes, { store, runId: "b", input: { steps: 60, bytes: 8000 } });
    const runBytes = (await spaceOf(store).runBytes("a")).bytes;
    const first = await deleteRun(store, "a");
    assert.equal(first.method, "vacuum");
    assert.equal(autoVacuum(), 2, "incremental from now on");
    assert.ok(first.reclaimedBytes > runBytes / 2, `${first.reclaimedBytes} of ${runBytes}`);
    const second = await deleteRun(store, "b");
    assert.equal(second.method, "incremental-vacuum");
    assert.ok(second.reclaimedBytes > runBytes / 2, `${second.reclaimedBytes} of ${runBytes}`);
    // The fixture's own runs are intact.
    const report = await verifyRun(store, "counter-full");
    assert.ok(report.ok, report.problems.join("; "));
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const counter = defineAgent({
  name: "counter",
  initialState: (input: { target: number }) => ({ current: 0, target: input.target }),
  step: (s, ctx) =>
    s.current >= s.target
      ? { steps: ctx.step }
      : recur({ ...s, current: s.current + 1, pad: "x".repeat(200) }),
});

/** A second connection that never waits for the lock, and a run it holds the lease of. */
async function liveRunOn(path: string): Promise<{ other: SqliteStore; commit: () => boolean }> {
  const other = openStore(path, { busyTimeoutMs: 0 });
  const owner = "other-host:1:token";
  other.createRun(
    runRecord("live", { status: "running", leaseOwner: owner, leaseExpires: Date.now() + 3e6 }),
  );
  let step = 0;
  const commit = () =>
    other.commitStep({
      runId: "live",
      step: step++,
      attempt: 1,
      startedAt: Date.now(),
      durationMs: 0.1,
      state: "{}",
    }, owner);
  return await Promise.resolve({ other, commit });
}

Deno.test("sqlite: a large delete commits in batches, and another connection commits between them", async () => {
  const t = await STORE_BACKENDS[0].open();
  try {
    const store = t.store as SqliteStore;
    await startRun(counter, { store, runId: "big", input: { target: 1000 } }); // 1,001 steps
    const { other, commit } = await liveRunOn(t.db);
    try {
      // The control: while a write transaction is open, the other connection cannot commit.
      store.db.exec("BEGIN IMMEDIATE");
      assert.throws(commit, /locked|busy/i);
      store.db.exec("ROLLBACK");
      const tables: string[] = [];
      const result = await deleteRun(store, "big", {
        batchRows: 100,
        onBatch: ({ table }) => {
          tables.push(table);
          assert.equal(commit(), true, "the live run commits between two batches");
        },
      });
      assert.deepEqual(result.deleted, ["big"]);
      assert.deepEqual(tables, Array(10).fill("steps"), "1,001 step rows: 10 batches, then 1 row");
      assert.equal(other.listSteps("live").length, 10);
      assert.equal(store.getRun("big"), undefined);
      assert.equal(store.listSteps("big").length, 0);
      // A run whose checkpoints live in rows of their own (large ones, deltas): they go with
      // their steps, batch by batch, and none is left behind.
      const count = (table: string) =>
        (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      await startRun(notes, { store, runId: "notes", input: { steps: 300, bytes: 2000 } });
      const kept = count("checkpoints");
      assert.ok(kept >= 300, `${kept} checkpoint rows`);
      const batches: number[] = [];
      await deleteRun(store, "notes", {
        batchRows: 100,
        onBatch: () => {
          batches.push(count("checkpoints"));
          assert.equal(commit(), true);
        },
      });
      // 301 step rows: 3 batches of 100 steps, each taking its steps' checkpoint rows along.
      assert.equal(batches.length, 3);
      assert.ok(batches.every((n, i) => (i === 0 ? kept : batches[i - 1]) - n >= 99), `${batches}`);
      assert.equal(count("checkpoints"), 0, "no checkpoint row outlives its step");
    } finally {
      other.close();
    }
  } finally {
    await t.cleanup();
  }
});

Deno.test("sqlite: an interrupted delete of a large unfinished run leaves it cancelled; deleting again finishes", async () => {
  const t = await STORE_BACKENDS[0].open();
  try {
    const store: Store = t.store;
    await startRun(counter, { store, runId: "p", input: { target: 1000 }, maxSteps: 500 });
    assert.equal((await store.getRun("p"))?.status, "paused");
    let batches = 0;
    await assert.rejects(
      deleteRun(store, "p", {
        batchRows: 100,
        onBatch: () => {
          if (++batches === 2) throw new Error("interrupted");
        },
      }),
      /interrupted/,
    );
    const run = await store.getRun("p");
    assert.equal(run?.status, "cancelled");
    await assert.rejects(resumeRun(counter, { store, runId: "p" }), /cancelled/);
    // The highest steps went first: what is left is the run's first 300 steps.
    const left = (await store.listSteps("p")).map((s) => s.step);
    assert.deepEqual(left, Array.from({ length: 300 }, (_, i) => i));
    assert.deepEqual((await deleteRun(store, "p", { batchRows: 100 })).deleted, ["p"]);
    assert.equal(await store.getRun("p"), undefined);
    // The same with checkpoints stored as deltas: what is left still reads back.
    await startRun(notes, { store, runId: "n", input: { steps: 400, bytes: 300 }, maxSteps: 250 });
    batches = 0;
    await assert.rejects(
      deleteRun(store, "n", {
        batchRows: 100,
        onBatch: () => {
          if (++batches === 1) throw new Error("interrupted");
        },
      }),
      /interrupted/,
    );
    const state = await getCheckpoint(store, "n", 150) as { notes: string[] };
    assert.deepEqual(state.notes, Array.from({ length: 150 }, (_, i) => noise(300, i)));
  } finally {
    await t.cleanup();
  }
});

Deno.test("sqlite: a delete leaves a reader's file alone and says the WAL is still in use", async () => {
  const t = await STORE_BACKENDS[0].open();
  try {
    const store = t.store as SqliteStore;
    await startRun(notes, { store, runId: "a", input: { steps: 20, bytes: 4000 } });
    const reader = new DatabaseSync(t.db);
    try {
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM steps").get();
      const r = await deleteRun(store, "a");
      assert.equal(r.walTruncated, false);
      reader.exec("COMMIT");
    } finally {
      reader.close();
    }
    // Later deletes cut it once nobody reads an old snapshot.
    await startRun(notes, { store, runId: "b", input: { steps: 2, bytes: 10 } });
    const r = await deleteRun(store, "b");
    assert.equal(r.walTruncated, true);
    assert.equal(walBytes(store), 0);
  } finally {
    await t.cleanup();
  }
});

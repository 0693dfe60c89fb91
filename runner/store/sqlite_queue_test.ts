// The SQLite work queue: which runs are claimable, deadlines, pending counts, runs of agents a
// worker lacks, and wake-ups from another connection's (or this one's) commits.
import assert from "node:assert/strict";
import { defineAgent, enqueueRun, openStore, recur, sendSignal, startRun } from "../mod.ts";
import { runRecord } from "../_test_util.ts";
import { waitFor } from "../testing.ts";
import { SqliteWorkQueue } from "./sqlite_queue.ts";
import type { SqliteStore } from "./sqlite.ts";

const NAMES = ["a"];

async function withQueue(
  fn: (store: SqliteStore, queue: SqliteWorkQueue, db: string) => Promise<void>,
  ownerIsGone?: (owner: string) => boolean,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-sqlite-queue-" });
  const store = openStore(`${dir}/runs.sqlite`);
  try {
    await fn(store, new SqliteWorkQueue(store, { ownerIsGone }), `${dir}/runs.sqlite`);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Inserts a top-level run of agent `a` (or as given) with the given fields. */
function put(store: SqliteStore, runId: string, fields: Parameters<typeof runRecord>[1] = {}) {
  store.createRun(runRecord(runId, { agentName: "a", ...fields }));
}

async function claimedIds(queue: SqliteWorkQueue, exclude: string[] = []): Promise<string[]> {
  return (await queue.claimRunnable(NAMES, 100, 1000, exclude)).map((c) => c.runId).sort();
}

Deno.test("claimable: queued, paused, expired leases, due timers, arrived signals, timed-out waits", async () => {
  await withQueue(async (store, queue) => {
    const now = Date.now();
    put(store, "queued", { status: "queued" });
    put(store, "paused", { status: "paused" });
    put(store, "other-agent", { status: "queued", agentName: "b" });
    put(store, "child", { status: "paused", parentRunId: "paused" });
    put(store, "done", { status: "completed" });
    put(store, "live", { status: "running", leaseOwner: "h:1:x", leaseExpires: now + 60_000 });
    put(store, "expired", { status: "running", leaseOwner: "h:1:y", leaseExpires: now - 1 });
    const timer = (wakeAt: number) => JSON.stringify({ kind: "timer", wakeAt, key: "k" });
    put(store, "timer-due", { status: "waiting", waiting: timer(now - 1) });
    put(store, "timer-later", { status: "waiting", waiting: timer(now + 60_000) });
    const signal = (deadline: number | null) =>
      JSON.stringify({ kind: "signal", name: "go", deadline, key: "k" });
    put(store, "sig-none", { status: "waiting", waiting: signal(null) });
    put(store, "sig-came", { status: "waiting", waiting: signal(null) });
    store.addSignal("sig-came", "go", "{}", now);
    put(store, "sig-other-name", { status: "waiting", waiting: signal(null) });
    store.addSignal("sig-other-name", "stop", "{}", now);
    put(store, "sig-timed-out", { status: "waiting", waiting: signal(now - 1) });
    assert.deepEqual(await claimedIds(queue), [
      "expired",
      "paused",
      "queued",
      "sig-came",
      "sig-timed-out",
      "timer-due",
    ]);
    assert.deepEqual(await claimedIds(queue, ["queued", "paused"]), [
      "expired",
      "sig-came",
      "sig-timed-out",
      "timer-due",
    ]);
    assert.equal((await queue.claimRunnable(NAMES, 2, 1000)).length, 2);
    assert.equal(await queue.pendingRuns(NAMES), 8); // + live running, + the later timer
    assert.equal(await queue.nextWakeAt(NAMES), now + 60_000);
  });
});

Deno.test("claimable: a run whose owner is gone, before its lease expires", async () => {
  const gone = new Set(["h:2:dead"]);
  await withQueue(async (store, queue) => {
    const later = Date.now() + 60_000;
    put(store, "dead", { status: "running", leaseOwner: "h:2:dead", leaseExpires: later });
    put(store, "alive", { status: "running", leaseOwner: "h:3:live", leaseExpires: later });
    assert.deepEqual(await claimedIds(queue), ["dead"]);
  }, (owner) => gone.has(owner));
});

Deno.test("claimable: a parent waiting on a child, once the child can move or has finished", async () => {
  await withQueue(async (store, queue) => {
    const now = Date.now();
    const onChild = (id: string) => JSON.stringify({ kind: "child", childRunId: id, key: "k" });
    const signal = JSON.stringify({ kind: "signal", name: "go", deadline: null, key: "k" });
    put(store, "p-waits", { status: "waiting", waiting: onChild("c-waits") });
    put(store, "c-waits", { status: "waiting", waiting: signal, parentRunId: "p-waits" });
    put(store, "p-signalled", { status: "waiting", waiting: onChild("c-signalled") });
    put(store, "c-signalled", { status: "waiting", waiting: signal, parentRunId: "p-signalled" });
    store.addSignal("c-signalled", "go", "{}", now);
    put(store, "p-done", { status: "waiting", waiting: onChild("c-done") });
    put(store, "c-done", { status: "completed", parentRunId: "p-done" });
    put(store, "p-busy", { status: "waiting", waiting: onChild("c-busy") });
    put(store, "c-busy", {
      status: "running",
      parentRunId: "p-busy",
      leaseOwner: "h:1:x",
      leaseExpires: now + 60_000,
    });
    assert.deepEqual(await claimedIds(queue), ["p-done", "p-signalled"]);
    assert.equal(await queue.pendingRuns(NAMES), 2);
  });
});

Deno.test("unservedRuns names queued runs of other agents", async () => {
  await withQueue(async (store, queue) => {
    put(store, "mine", { status: "queued" });
    put(store, "theirs", { status: "queued", agentName: "b" });
    put(store, "theirs-paused", { status: "paused", agentName: "b" });
    assert.deepEqual(await queue.unservedRuns(NAMES), [{ runId: "theirs", agentName: "b" }]);
  });
});

const waiter = defineAgent({
  name: "a",
  initialState: () => ({}),
  async step(_s, ctx) {
    return await ctx.waitForSignal("go");
  },
});

Deno.test("listenForWork: wakes on another connection's commit and on this one's", async () => {
  await withQueue(async (store, queue, db) => {
    let wakes = 0;
    const unlisten = await queue.listenForWork(() => wakes++);
    const other = openStore(db);
    try {
      await enqueueRun(waiter, { store: other, runId: "w" });
      await waitFor("a wake-up for another connection's commit", () => wakes >= 1);
      const before = wakes;
      await sendSignal(store, "w", "go", {}); // the worker's own connection (an embedding app)
      await waitFor("a wake-up for this connection's commit", () => wakes > before);
    } finally {
      other.close();
      await unlisten();
    }
  });
});

Deno.test("listenForWork: an in-memory store has nothing to watch and says nothing", async () => {
  const store = openStore(":memory:");
  const warnings: string[] = [];
  const queue = new SqliteWorkQueue(store);
  const unlisten = await queue.listenForWork(() => {}, { onWarning: (m) => warnings.push(m) });
  await unlisten();
  store.close();
  assert.deepEqual(warnings, []);
});

Deno.test("a run advanced by `startRun` and left waiting is claimable once its signal comes", async () => {
  await withQueue(async (store, queue) => {
    const agent = defineAgent({
      name: "a",
      initialState: () => ({ n: 0 }),
      async step(s, ctx) {
        if (s.n === 0) return recur({ n: 1 });
        return await ctx.waitForSignal("go");
      },
    });
    const r = await startRun(agent, { store, runId: "r" });
    assert.equal(r.status, "waiting");
    assert.deepEqual(await claimedIds(queue), []);
    await sendSignal(store, "r", "go", 1);
    assert.deepEqual(await claimedIds(queue), ["r"]);
  });
});

/** POSIX locks this process holds on `path` (Linux `/proc/locks`). */
function locksHeld(path: string): number {
  const ino = Deno.statSync(path).ino;
  return Deno.readTextFileSync("/proc/locks").split("\n")
    .filter((l) => l.includes(` ${Deno.pid} `) && l.includes(`:${ino} `)).length;
}

// Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
// included; then another process may checkpoint and delete the WAL under a live connection.
Deno.test("SQLite's locks survive a second store on the file and the wake-up watch", async () => {
  await withQueue(async (store, queue, db) => {
    store.listRuns();
    const held = locksHeld(db);
    assert.ok(held > 0, "a WAL connection holds a shared lock on the database");
    const second = openStore(db);
    assert.equal(locksHeld(db), held, "opening a second store kept them");
    let wakes = 0;
    const unlisten = await queue.listenForWork(() => wakes++);
    try {
      await enqueueRun(waiter, { store: second, runId: "w" });
      await waitFor("the wake-up", () => wakes >= 1);
      assert.equal(locksHeld(db), held, "the watch kept them");
      assert.ok(locksHeld(`${db}-shm`) > 0);
    } finally {
      await unlisten();
      second.close();
    }
  });
});

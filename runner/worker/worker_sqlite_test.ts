// `runWorker` embedded in a program on a SQLite store (the library API): in-process workers on
// separate connections to one file, a signal sent through the worker's own store, and a queued
// run of an agent the worker lacks named once over many idle rounds.
import assert from "node:assert/strict";
import { defineAgent, enqueueRun, openStore, sendSignal } from "../mod.ts";
import { memoryLogger } from "../_test_util.ts";
import type { SqliteStore } from "../store/sqlite.ts";
import { SqliteWorkQueue } from "../store/sqlite_queue.ts";
import { waitFor } from "../testing.ts";
import { chain, chainHash, waiter } from "../testdata/worker_agents/agents.ts";
import { runWorker, type WorkerOptions } from "./worker.ts";

async function withFile(fn: (db: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-worker-sqlite-" });
  try {
    await fn(`${dir}/runs.sqlite`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sqlite: two in-process workers on their own connections drain 20 runs between them", async () => {
  await withFile(async (db) => {
    const [s1, s2] = [openStore(db), openStore(db)];
    try {
      for (let i = 0; i < 20; i++) {
        await enqueueRun(chain, { store: s1, runId: `r${i}`, input: { n: 5 } });
      }
      // Hold the first step of the first 4 runs until 4 are in progress at once: with a
      // concurrency of 2 each, that happens only when both workers hold runs.
      const gate = Promise.withResolvers<void>();
      let inProgress = 0;
      const gated = defineAgent({
        ...chain,
        moduleUrl: chain.moduleUrl,
        step: async (s, ctx) => {
          if (ctx.step === 0) {
            if (++inProgress === 4) gate.resolve();
            await gate.promise;
          }
          return chain.step(s, ctx);
        },
      });
      const agents = [gated] as WorkerOptions["agents"];
      const logger = memoryLogger();
      const [a, b] = await Promise.all([
        runWorker({ store: s1, agents, concurrency: 2, drain: true, logger }),
        runWorker({ store: s2, agents, concurrency: 2, drain: true, logger }),
      ]);
      assert.equal((a.outcomes.completed ?? 0) + (b.outcomes.completed ?? 0), 20);
      assert.ok(a.outcomes.completed! > 0 && b.outcomes.completed! > 0, "both workers took runs");
      assert.equal(a.steps + b.steps, 20 * 6);
      for (let i = 0; i < 20; i++) {
        const run = s1.getRun(`r${i}`)!;
        assert.deepEqual(JSON.parse(run.result!), { i: 5, h: chainHash(5) });
      }
    } finally {
      s1.close();
      s2.close();
    }
  });
});

Deno.test("sqlite: an embedded worker wakes for a signal sent through its own store", async () => {
  await withFile(async (db) => {
    const store = openStore(db);
    const stop = new AbortController();
    const events: string[] = [];
    const worker = runWorker({
      store,
      agents: [waiter] as WorkerOptions["agents"],
      maxIdleMs: 600_000, // only the change to the file can wake it
      abortSignal: stop.signal,
      onRun: (e) => events.push(`${e.runId}:${e.outcome}`),
    });
    try {
      await enqueueRun(waiter, { store, runId: "w" });
      await waitFor("the run to wait", () => store.getRun("w")?.status === "waiting");
      await sendSignal(store, "w", "go", { value: 1 });
      await waitFor("the run to complete", () => store.getRun("w")?.status === "completed");
      assert.deepEqual(events, ["w:waiting", "w:completed"]);
    } finally {
      stop.abort();
      await worker;
      store.close();
    }
  });
});

Deno.test("sqlite: a queued run of an agent the worker lacks is named once, not every round", async () => {
  await withFile(async (db) => {
    const store = openStore(db);
    const queue = new SqliteWorkQueue(store);
    let idleRounds = 0;
    // The worker asks for the next wake time right before each idle sleep: count the rounds.
    const counted = new Proxy(store, {
      get(target, prop) {
        if (prop === "nextWakeAt") {
          return (names: string[]) => {
            idleRounds++;
            return queue.nextWakeAt(names);
          };
        }
        const q = Reflect.get(queue, prop, queue);
        if (typeof q === "function" && prop !== "constructor") return q.bind(queue);
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as SqliteStore & SqliteWorkQueue;
    const stranger = defineAgent({ name: "stranger", initialState: () => ({}), step: () => 1 });
    await enqueueRun(stranger, { store, runId: "alien" });
    const warnings: string[] = [];
    const stop = new AbortController();
    const worker = runWorker({
      store: counted,
      agents: [chain] as WorkerOptions["agents"],
      maxIdleMs: 5,
      abortSignal: stop.signal,
      onWarning: (m) => warnings.push(m),
    });
    try {
      await waitFor("ten idle rounds", () => idleRounds >= 10);
    } finally {
      stop.abort();
      await worker;
    }
    assert.deepEqual(warnings, [
      "run alien is queued for agent stranger, which is not among this worker's agents (chain); it stays queued for a worker that has it",
    ]);
    assert.equal(store.getRun("alien")!.status, "queued");
    store.close();
  });
});

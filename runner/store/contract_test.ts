// The `Store` contract, one case file run against every implementation (SQLite and PostgreSQL)
// with the same assertions, like Hono's `router/common.case.test.ts`: each method's semantics
// on its own (records round-trip, guards, compare-and-set, ordering, paging, upserts), then the
// cases that need two connections or a process: queued runs, leases, cancellation from another
// connection, and a SIGKILL crash per backend. (The engine's own suite runs on PostgreSQL too:
// see engine/engine_postgres_test.ts.)
import assert from "node:assert/strict";
import {
  cancelRun,
  defineAgent,
  enqueueRun,
  forkRun,
  getCheckpoint,
  recur,
  resumeRun,
  startRun,
  verifyRun,
} from "../mod.ts";
import type {
  CallRecord,
  EventRecord,
  FailedAttemptRecord,
  RunRecord,
  RunStatus,
  StepRecord,
  Store,
} from "./store.ts";
import { STORE_BACKENDS, type TestStore } from "../testing/_stores.ts";
import { chain, chainHash } from "../testdata/worker_agents/agents.ts";
import { type SeededRandom, waitFor, withSeed } from "../testing.ts";
import randomState, { expectedCheckpoints } from "../testdata/random_state_agent.ts";
import notes, { expectedNotes } from "../testdata/notes_agent.ts";
import type { SqliteStore } from "./sqlite.ts";
import type { PostgresStore } from "./postgres/mod.ts";
import { runRecord, T0, withFakeClock } from "../_test_util.ts";

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

/** A `storeTest` whose random choices come from one seed, printed when it fails. */
function seededStoreTest(
  name: string,
  fn: (t: TestStore, random: SeededRandom) => Promise<void>,
): void {
  for (const backend of STORE_BACKENDS) {
    Deno.test(
      `${backend.name}: ${name}`,
      withSeed(async (random) => {
        const t = await backend.open();
        try {
          await fn(t, random);
        } finally {
          await t.cleanup();
        }
      }),
    );
  }
}

function stepRecord(runId: string, step: number, fields: Partial<StepRecord> = {}): StepRecord {
  return {
    runId,
    step,
    attempt: 1,
    startedAt: T0 + step,
    durationMs: 0.5,
    state: `{"i":${step + 1}}`,
    ...fields,
  };
}

function failedAttemptRecord(step: number, scope: string, attempt: number): FailedAttemptRecord {
  return {
    runId: "r",
    step,
    scope,
    attempt,
    error: `boom ${attempt}`,
    errorType: "Error",
    errorCategory: "transient",
    startedAt: T0 + step * 10 + attempt,
    durationMs: 1.25,
    retryAt: attempt < 3 ? T0 + 1000 : null,
  };
}

function callRecord(key: string, fields: Partial<CallRecord> = {}): CallRecord {
  return {
    runId: "r",
    key,
    step: 0,
    kind: "tool",
    name: "fetch",
    args: '{"u":1}',
    argsHash: "ah",
    status: "started",
    result: null,
    resultBytes: null,
    resultHash: null,
    capped: false,
    error: null,
    errorCategory: null,
    attempts: 0,
    startedAt: T0,
    durationMs: null,
    deadline: null,
    ...fields,
  };
}

/** A running run leased to `owner` until far in the future. */
async function leasedRun(store: Store, runId: string, owner = "h:1:me"): Promise<RunRecord> {
  const run = runRecord(runId, { status: "running", leaseOwner: owner, leaseExpires: T0 * 2 });
  await store.createRun(run);
  return run;
}

const ids = (runs: { runId: string }[]) => runs.map((r) => r.runId);

/** Records as plain objects (SQLite rows have a null prototype), for `deepEqual`. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** `assert.deepEqual` of what a store returned (awaited) and the expected records. */
async function same(actual: unknown, expected: unknown, message?: string): Promise<void> {
  assert.deepEqual(plain(await actual), expected, message);
}

// ---- runs ----

storeTest("createRun stores every field; getRun reads it back; an existing id is refused", async ({
  store,
}) => {
  assert.equal(typeof store.location, "string");
  assert.equal(await store.getRun("r"), undefined);
  const run = runRecord("r", {
    agentHash: "abc",
    status: "waiting",
    parentRunId: "p",
    parentStep: 3,
    forkOfRunId: "f",
    forkOfStep: 2,
    firstStep: 2,
    initialState: '{"x":[1,"\u00e9"]}',
    input: '{"in":true}',
    result: "42",
    error: "e",
    errorCategory: "business",
    waiting: '{"kind":"timer","wakeAt":1,"key":"k"}',
    patchedStep: 4,
    patchedState: '{"y":1}',
    leaseOwner: "h:1:x",
    leaseExpires: T0 + 30_000,
    retryStep: 4,
    retryBase: 2,
    updatedAt: T0 + 5,
  });
  await store.createRun(run);
  await same(store.getRun("r"), run);
  await assert.rejects(
    Promise.resolve().then(() => store.createRun(runRecord("r"))),
    /run r already exists/,
  );
  await same(store.getRun("r"), run, "the refused create changed nothing");
});

storeTest(
  "listRuns: newest change first (then by id), filtered by status, parent and time, paged",
  async ({
    store,
  }) => {
    await store.createRun(runRecord("b", { updatedAt: T0 + 2 }));
    await store.createRun(runRecord("a", { updatedAt: T0 + 2 }));
    await store.createRun(
      runRecord("c", { updatedAt: T0 + 3, status: "completed", endedAt: T0 + 1 }),
    );
    await store.createRun(runRecord("d", { updatedAt: T0 + 1, parentRunId: "c" }));
    assert.deepEqual(ids(await store.listRuns()), ["c", "a", "b", "d"]);
    assert.deepEqual(ids(await store.listRuns({ status: "paused" })), ["a", "b", "d"]);
    assert.deepEqual(ids(await store.listRuns({ parentRunId: "c" })), ["d"]);
    assert.deepEqual(ids(await store.listRuns({ updatedBefore: T0 + 3 })), ["a", "b", "d"]);
    assert.deepEqual(
      ids(await store.listRuns({ status: "paused", updatedBefore: T0 + 2 })),
      ["d"],
    );
    // Only ended runs have an end: the filter leaves the others out.
    assert.deepEqual(ids(await store.listRuns({ endedBefore: T0 + 2 })), ["c"]);
    assert.deepEqual(ids(await store.listRuns({ endedBefore: T0 + 1 })), []);
    assert.deepEqual(ids(await store.listRuns({ limit: 2 })), ["c", "a"]);
    assert.deepEqual(ids(await store.listRuns({ limit: 2, offset: 1 })), ["a", "b"]);
    assert.deepEqual(ids(await store.listRuns({ offset: 3 })), ["d"]);
    assert.deepEqual(ids(await store.listRuns({ limit: 0 })), []);
    // A negative limit means no limit, a negative offset none; fractions are rounded down.
    assert.deepEqual(ids(await store.listRuns({ limit: -1, offset: -5 })), ["c", "a", "b", "d"]);
    assert.deepEqual(ids(await store.listRuns({ limit: 1.9, offset: 1.9 })), ["a"]);
  },
);

// ---- leases and guarded run updates ----

storeTest("takeLease is a compare-and-set on the lease owner, its expiry and the status", async ({
  store,
}) => {
  await withFakeClock(async (clock) => {
    await store.createRun(runRecord("r", { leaseOwner: "h:1:old", leaseExpires: T0 + 5 }));
    const read = { owner: "h:1:old", expires: T0 + 5, status: "paused" as RunStatus };
    const stale = [
      { ...read, owner: null },
      { ...read, owner: "h:1:other" },
      { ...read, expires: T0 + 6 },
      { ...read, expires: null },
      { ...read, status: "waiting" as RunStatus },
    ];
    for (const expected of stale) {
      assert.equal(await store.takeLease("r", expected, "h:2:new", T0 + 99), false);
    }
    assert.equal(await store.takeLease("missing", read, "h:2:new", T0 + 99), false);
    await same(
      store.getRun("r"),
      runRecord("r", { leaseOwner: "h:1:old", leaseExpires: T0 + 5 }),
      "refused takes changed nothing",
    );
    clock.advance(1);
    assert.equal(await store.takeLease("r", read, "h:2:new", T0 + 99), true);
    const after = (await store.getRun("r"))!;
    assert.deepEqual(
      [after.leaseOwner, after.leaseExpires, after.status, after.updatedAt],
      ["h:2:new", T0 + 99, "running", clock.now],
    );
    // The same expectation no longer holds: a second taker loses.
    assert.equal(await store.takeLease("r", read, "h:3:late", T0 + 99), false);
    // A free lease (never taken) is expected as nulls.
    await store.createRun(runRecord("q", { status: "queued" }));
    const free = { owner: null, expires: null, status: "queued" as RunStatus };
    assert.equal(await store.takeLease("q", free, "h:2:new", T0 + 99), true);
  });
});

storeTest("renewLease extends only the owner's lease and tells the run's status", async ({
  store,
}) => {
  await withFakeClock(async (clock) => {
    await leasedRun(store, "r");
    assert.equal(await store.renewLease("r", "h:1:other", 1000), null);
    assert.equal(await store.renewLease("missing", "h:1:me", 1000), null);
    assert.equal(await store.renewLease("r", "h:1:me", 1000), "running");
    assert.equal((await store.getRun("r"))!.leaseExpires, clock.now + 1000);
    // The status is told, whatever it is: a cancelled run stops its owner at the next renewal.
    await store.updateRunIf("r", ["running"], { status: "cancelled" });
    assert.equal(await store.renewLease("r", "h:1:me", 1000), "cancelled");
  });
});

storeTest(
  "updateOwnedRun patches a running run leased to the owner; undefined fields stay",
  async ({
    store,
  }) => {
    await withFakeClock(async (clock) => {
      const run = await leasedRun(store, "r");
      assert.equal(await store.updateOwnedRun("r", "h:1:other", { agentHash: "x" }), false);
      assert.equal(await store.updateOwnedRun("missing", "h:1:me", { agentHash: "x" }), false);
      clock.advance(7);
      const patch = {
        agentVersion: 2,
        agentHash: "new",
        patchedStep: 3,
        patchedState: '{"m":1}',
        waiting: undefined,
        retryStep: 1,
        retryBase: 4,
      };
      assert.equal(await store.updateOwnedRun("r", "h:1:me", patch), true);
      const { waiting: _, ...set } = patch;
      await same(store.getRun("r"), { ...run, ...set, updatedAt: clock.now });
      // Every patch field maps to its column, nulls included.
      const last = {
        status: "paused" as RunStatus,
        result: '"r"',
        error: "e",
        errorCategory: "permission" as const,
        waiting: '{"kind":"signal"}',
        leaseOwner: null,
        leaseExpires: null,
      };
      assert.equal(await store.updateOwnedRun("r", "h:1:me", last), true);
      await same(store.getRun("r"), { ...run, ...set, ...last, updatedAt: clock.now });
      // Not running (and no longer leased): the owner's writes are refused.
      assert.equal(await store.updateOwnedRun("r", "h:1:me", { agentHash: "y" }), false);
      await store.createRun(runRecord("p", { leaseOwner: "h:1:me", leaseExpires: T0 * 2 }));
      assert.equal(await store.updateOwnedRun("p", "h:1:me", { agentHash: "y" }), false);
    });
  },
);

storeTest("updateRunIf patches a run only in one of the given statuses", async ({ store }) => {
  await withFakeClock(async (clock) => {
    await store.createRun(runRecord("r", { status: "failed", error: "e" }));
    assert.equal(await store.updateRunIf("r", ["running", "paused"], { status: "queued" }), false);
    assert.equal(await store.updateRunIf("missing", ["failed"], { status: "paused" }), false);
    clock.advance(3);
    assert.equal(
      await store.updateRunIf("r", ["failed"], { status: "paused", error: null }),
      true,
    );
    const after = (await store.getRun("r"))!;
    assert.deepEqual([after.status, after.error, after.updatedAt], ["paused", null, clock.now]);
  });
});

storeTest("a patch that sets a terminal status sets endedAt, any other status clears it", async ({
  store,
}) => {
  await withFakeClock(async (clock) => {
    await store.createRun(runRecord("r", { status: "paused" }));
    clock.advance(5);
    const ended = clock.now;
    for (const status of ["failed", "cancelled"] as const) {
      await store.updateRunIf("r", ["paused"], { status });
      assert.equal((await store.getRun("r"))!.endedAt, ended, status);
      clock.advance(1);
      // Patches without a status (and a non-terminal one) leave the end alone, or clear it.
      await store.updateRunIf("r", [status], { agentHash: "h" });
      assert.equal((await store.getRun("r"))!.endedAt, ended);
      await store.updateRunIf("r", [status], { status: "paused" });
      assert.equal((await store.getRun("r"))!.endedAt, null);
      clock.now = ended;
    }
  });
});

// ---- steps ----

storeTest("commitStep is guarded by the lease of a running run and commits a step once", async ({
  store,
}) => {
  await leasedRun(store, "r");
  assert.equal(await store.commitStep(stepRecord("r", 0), "h:1:other"), false);
  assert.equal(await store.commitStep(stepRecord("r", 0), "h:1:me"), true);
  assert.equal(await store.commitStep(stepRecord("r", 0, { attempt: 2 }), "h:1:me"), false);
  await same(store.getStep("r", 0), stepRecord("r", 0));
  await store.updateRunIf("r", ["running"], { status: "cancelled" });
  assert.equal(await store.commitStep(stepRecord("r", 1), "h:1:me"), false);
  assert.equal(await store.commitStep(stepRecord("missing", 0), "h:1:me"), false);
  await same(store.listSteps("r"), [stepRecord("r", 0)]);
});

storeTest("commitFinal commits the last step and the run's patch together, or neither", async ({
  store,
}) => {
  await withFakeClock(async (clock) => {
    const run = await leasedRun(store, "r");
    const done = {
      status: "completed" as RunStatus,
      result: '{"ok":1}',
      waiting: null,
      error: null,
      errorCategory: null,
      leaseOwner: null,
      leaseExpires: null,
    };
    const final = stepRecord("r", 0, { state: null });
    assert.equal(await store.commitFinal(final, "h:1:other", done), false);
    assert.equal(await store.lastStep("r"), undefined);
    await same(store.getRun("r"), run);
    clock.advance(9);
    assert.equal(await store.commitFinal(final, "h:1:me", done), true);
    await same(store.lastStep("r"), final);
    await same(store.getRun("r"), { ...run, ...done, updatedAt: clock.now, endedAt: clock.now });
    // No longer leased: a second final commit is refused.
    assert.equal(await store.commitFinal(stepRecord("r", 1), "h:1:me", done), false);
  });
});

storeTest("steps: lastStep, getStep, listSteps (from a step, paged) and stepStats", async ({
  store,
}) => {
  assert.equal(await store.lastStep("r"), undefined);
  await same(store.stepStats("r"), {
    count: 0,
    first: null,
    last: null,
    totalMs: 0,
    withState: 0,
    maxAttempt: 0,
  });
  await leasedRun(store, "r", "h:1:me");
  await store.createRun(runRecord("other", { status: "running", leaseOwner: "h:1:me" }));
  await store.updateOwnedRun("other", "h:1:me", { leaseExpires: T0 * 2 });
  await store.commitStep(stepRecord("other", 0), "h:1:me");
  const rows = [
    stepRecord("r", 0),
    stepRecord("r", 1, { attempt: 3, durationMs: 2.25 }),
    stepRecord("r", 2, { state: null }),
    stepRecord("r", 3),
  ];
  for (const row of rows) assert.equal(await store.commitStep(row, "h:1:me"), true);
  await same(store.lastStep("r"), rows[3]);
  await same(store.getStep("r", 1), rows[1]);
  assert.equal(await store.getStep("r", 9), undefined);
  await same(store.listSteps("r"), rows);
  await same(store.listSteps("r", { fromStep: 2 }), rows.slice(2));
  await same(store.listSteps("r", { limit: 2, offset: 1 }), rows.slice(1, 3));
  await same(store.listSteps("r", { fromStep: 1, limit: 1 }), [rows[1]]);
  await same(store.stepStats("r"), {
    count: 4,
    first: 0,
    last: 3,
    totalMs: 0.5 + 2.25 + 0.5 + 0.5,
    withState: 3,
    maxAttempt: 3,
  });
});

storeTest(
  "compactSteps drops the states in a range that are not on an every-th checkpoint",
  async ({
    store,
  }) => {
    await leasedRun(store, "r");
    for (let i = 0; i < 10; i++) await store.commitStep(stepRecord("r", i), "h:1:me");
    // every = 4: the checkpoints after steps 3 and 7 (the 4th and 8th) are kept.
    await store.compactSteps("r", 1, 8, 4);
    const kept = (await store.listSteps("r")).filter((s) => s.state !== null).map((s) => s.step);
    assert.deepEqual(kept, [0, 3, 7, 9]);
    await same(store.getStep("r", 3), stepRecord("r", 3));
  },
);

// ---- failed attempts ----

storeTest(
  "failed attempts: recorded again replaces the same attempt; last, list and count",
  async ({
    store,
  }) => {
    await store.createRun(runRecord("r"));
    assert.equal(await store.lastFailedAttempt("r", 0, ""), undefined);
    assert.equal(await store.countFailedAttempts("r"), 0);
    const rows = [
      failedAttemptRecord(0, "", 1),
      failedAttemptRecord(0, "", 2),
      failedAttemptRecord(0, "0:fetch:ah:0", 1),
      failedAttemptRecord(1, "", 1),
    ];
    for (const a of [...rows].reverse()) await store.recordFailedAttempt(a);
    const replaced = {
      ...failedAttemptRecord(0, "", 2),
      error: "again",
      errorCategory: "unknown" as const,
    };
    await store.recordFailedAttempt(replaced);
    rows[1] = replaced;
    await same(store.lastFailedAttempt("r", 0, ""), replaced);
    await same(store.lastFailedAttempt("r", 0, "0:fetch:ah:0"), rows[2]);
    assert.equal(await store.lastFailedAttempt("r", 2, ""), undefined);
    // Ordered by step, start, scope and attempt.
    await same(store.listFailedAttempts("r"), [rows[0], rows[2], rows[1], rows[3]]);
    await same(store.listFailedAttempts("r", { step: 0, scope: "" }), [rows[0], rows[1]]);
    await same(store.listFailedAttempts("r", { scope: "0:fetch:ah:0" }), [rows[2]]);
    await same(store.listFailedAttempts("r", { limit: 1, offset: 2 }), [rows[1]]);
    assert.equal(await store.countFailedAttempts("r"), 4);
  },
);

// ---- calls ----

storeTest(
  "calls: putCall upserts by key; getCall, listCalls (by step and kind) and countCalls",
  async ({
    store,
  }) => {
    await store.createRun(runRecord("r"));
    assert.equal(await store.getCall("r", "k1"), undefined);
    const started = callRecord("k1");
    await store.putCall(started);
    await same(store.getCall("r", "k1"), started);
    const completed = callRecord("k1", {
      status: "completed",
      result: '{"stub":true}',
      resultBytes: 5_000_000,
      resultHash: "rh",
      capped: true,
      attempts: 2,
      durationMs: 1.5,
    });
    await store.putCall(completed);
    await same(store.getCall("r", "k1"), completed);
    const others = [
      callRecord("1:signal:go:0", { step: 1, kind: "signal", name: "go", deadline: T0 + 60_000 }),
      callRecord("0:timer:0", { kind: "timer", name: "sleep", startedAt: T0 - 1 }),
      callRecord("k0", { status: "failed", error: "no", errorCategory: "validation", attempts: 3 }),
    ];
    for (const c of others) await store.putCall(c);
    // Ordered by step, start and key.
    await same(store.listCalls("r"), [others[1], others[2], completed, others[0]]);
    await same(store.listCalls("r", { step: 0, kind: "tool" }), [others[2], completed]);
    await same(store.listCalls("r", { kind: "signal" }), [others[0]]);
    await same(store.listCalls("r", { limit: 2, offset: 1 }), [others[2], completed]);
    await same(store.countCalls("r"), [
      { kind: "signal", name: "go", status: "started", n: 1 },
      { kind: "timer", name: "sleep", status: "started", n: 1 },
      { kind: "tool", name: "fetch", status: "completed", n: 1 },
      { kind: "tool", name: "fetch", status: "failed", n: 1 },
    ]);
  },
);

// ---- signals and events ----

storeTest(
  "signals: numbered per run; the oldest unconsumed one of a name is next; consumed or rejected",
  async ({
    store,
  }) => {
    await store.createRun(runRecord("r"));
    await store.createRun(runRecord("s"));
    assert.equal(await store.nextSignal("r", "go"), undefined);
    assert.equal(await store.addSignal("r", "go", '{"n":1}', T0), 1);
    assert.equal(await store.addSignal("r", "stop", "null", T0 + 1), 2);
    assert.equal(await store.addSignal("r", "go", '{"n":2}', T0 + 2), 3);
    assert.equal(await store.addSignal("s", "go", "1", T0), 1, "numbered per run");
    const first = {
      runId: "r",
      seq: 1,
      name: "go",
      data: '{"n":1}',
      sentAt: T0,
      consumedBy: null,
      rejected: null,
    };
    await same(store.nextSignal("r", "go"), first);
    await store.consumeSignal("r", 1, { rejected: "bad payload" });
    assert.equal((await store.nextSignal("r", "go"))!.seq, 3);
    const call = callRecord("0:signal:go:0", { kind: "signal", name: "go", status: "completed" });
    await store.consumeSignal("r", 3, { call });
    assert.equal(await store.nextSignal("r", "go"), undefined);
    await same(store.getCall("r", call.key), call, "the call is stored with it");
    assert.deepEqual(
      (await store.listSignals("r")).map((x) => [x.seq, x.name, x.consumedBy, x.rejected]),
      [[1, "go", null, "bad payload"], [2, "stop", null, null], [3, "go", call.key, null]],
    );
    assert.deepEqual((await store.listSignals("r", { limit: 1, offset: 1 }))[0].seq, 2);
  },
);

storeTest(
  "events: addEvent numbers them per run; listEvents in order, paged",
  async ({ store }) => {
    await withFakeClock(async (clock) => {
      await store.createRun(runRecord("r"));
      await store.addEvent("r", "started", "run started", '{"owner":"o"}');
      clock.advance(1);
      await store.addEvent("r", "resumed", "resumed from paused");
      await store.addEvent("other", "started", "elsewhere");
      const events = plain(await store.listEvents("r")) as EventRecord[];
      assert.deepEqual(events, [
        {
          runId: "r",
          seq: 1,
          at: clock.now - 1,
          kind: "started",
          message: "run started",
          data: '{"owner":"o"}',
        },
        {
          runId: "r",
          seq: 2,
          at: clock.now,
          kind: "resumed",
          message: "resumed from paused",
          data: null,
        },
      ]);
      await same(store.listEvents("r", { offset: 1 }), [events[1]]);
      await same(store.listEvents("r", { limit: 1 }), [events[0]]);
      assert.equal((await store.listEvents("other"))[0].seq, 1);
    });
  },
);

// ---- the store as a whole ----

storeTest("deleteRun removes a run and every row of it, and nothing else", async ({ store }) => {
  await leasedRun(store, "r");
  await leasedRun(store, "keep");
  for (const id of ["r", "keep"]) {
    await store.commitStep(stepRecord(id, 0), "h:1:me");
    await store.recordFailedAttempt({ ...failedAttemptRecord(0, "", 1), runId: id });
    await store.putCall({ ...callRecord("k"), runId: id });
    await store.addSignal(id, "go", "1", T0);
    await store.addEvent(id, "started", "started");
  }
  assert.equal(await store.deleteRun("r"), true);
  assert.equal(await store.deleteRun("r"), false);
  assert.equal(await store.getRun("r"), undefined);
  await same(store.listSteps("r"), []);
  await same(store.listFailedAttempts("r"), []);
  await same(store.listCalls("r"), []);
  await same(store.listSignals("r"), []);
  await same(store.listEvents("r"), []);
  assert.equal((await store.stepStats("keep")).count, 1);
  assert.equal((await store.listEvents("keep")).length, 1);
  await same(store.integrityCheck(), []);
});

storeTest(
  "integrityCheck finds nothing in a healthy store; sizeBytes grows with data; close twice is harmless",
  async (
    t,
  ) => {
    const { store } = t;
    await same(store.integrityCheck(), []);
    const empty = await store.sizeBytes();
    assert.ok(empty > 0, `size of an empty store: ${empty}`);
    await leasedRun(store, "r");
    const big = JSON.stringify({ text: "x".repeat(200_000) });
    for (let i = 0; i < 5; i++) {
      await store.commitStep(stepRecord("r", i, { state: big }), "h:1:me");
    }
    assert.ok((await store.sizeBytes()) > empty, "size grows");
    await same(store.integrityCheck(), []);
    const other = await t.reopen();
    assert.equal((await other.getRun("r"))!.runId, "r", "another connection sees the rows");
    await other.close();
    await other.close();
  },
);

// ---- across connections and processes ----

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

// ---- delta checkpoints ----

const quiet = { info() {}, warn() {}, error() {} };

/** How each step's checkpoint is stored, read raw: `whole`, `delta` or `none`. */
async function storedAs(t: TestStore, runId: string): Promise<string[]> {
  const kind = (r: { whole: unknown; delta: unknown }) =>
    r.whole ? "whole" : r.delta ? "delta" : "none";
  if (t.schema === undefined) {
    const db = (t.store as SqliteStore).db;
    return (db.prepare(
      `SELECT s.state IS NOT NULL OR c.state IS NOT NULL AS whole, c.delta IS NOT NULL AS delta
       FROM steps s LEFT JOIN checkpoints c ON c.id = s.checkpoint WHERE s.run_id = ?
       ORDER BY s.step`,
    ).all(runId) as { whole: number; delta: number }[]).map(kind);
  }
  const rows = await (t.store as PostgresStore).sql.unsafe(
    `SELECT state IS NOT NULL AS whole, delta IS NOT NULL AS delta FROM ${t.schema}.steps
     WHERE run_id = $1 ORDER BY step`,
    [runId],
  );
  return Array.from(rows, (r) => kind(r as unknown as { whole: boolean; delta: boolean }));
}

/** Every checkpoint of a run reads back as `want` (index = step), one by one and in pages. */
async function assertCheckpoints(
  store: Store,
  runId: string,
  want: (string | null)[],
): Promise<void> {
  for (let s = 0; s < want.length; s++) {
    assert.equal((await store.getStep(runId, s))?.state, want[s], `checkpoint after step ${s}`);
  }
  const listed = await store.listSteps(runId);
  assert.deepEqual(listed.map((r) => r.state), want);
  const from = Math.floor(want.length / 3);
  const page = await store.listSteps(runId, { fromStep: from, limit: 7, offset: 2 });
  assert.deepEqual(page.map((r) => r.state), want.slice(from + 2, from + 9));
  assert.equal((await store.lastStep(runId))?.state, want[want.length - 1]);
  assert.deepEqual((await verifyRun(store, runId)).problems, [], runId);
}

seededStoreTest(
  "delta checkpoints: every checkpoint of a random state history reads back exactly",
  async ({ store, ...t }, random) => {
    const input = { seed: random.int(1, 2 ** 30), n: 160, pad: 900 };
    const first = await startRun(randomState, {
      store,
      runId: "h",
      input,
      maxSteps: 70,
      logger: quiet,
    });
    assert.equal(first.status, "paused");
    // The resumed invocation decodes the stored checkpoint (Date, Set) and goes on.
    const r = await resumeRun(randomState, { store, runId: "h", logger: quiet });
    assert.equal(r.result, input.n);
    await assertCheckpoints(store, "h", [...expectedCheckpoints(input, [70]), null]);
    const kinds = await storedAs({ store, ...t }, "h");
    assert.ok(kinds.filter((k) => k === "delta").length > input.n / 2, kinds.join(" "));
    assert.equal(kinds[70], "whole", "a resumed invocation starts with a whole checkpoint");
  },
);

storeTest(
  "delta checkpoints: a fork from a step between two snapshots starts from its exact state",
  async (t) => {
    const { store } = t;
    const input = { n: 120, size: 300 };
    await startRun(notes, { store, runId: "n", input, logger: quiet });
    const want = expectedNotes(input);
    await assertCheckpoints(store, "n", [...want, null]);
    const kinds = await storedAs(t, "n");
    // A step whose checkpoint before it is a delta, with a snapshot before and after.
    const step = kinds.findIndex((k, s) =>
      k === "delta" && kinds[s - 1] === "delta" && kinds.slice(s + 1).includes("whole")
    );
    assert.ok(step > 0, kinds.join(" "));
    assert.equal(JSON.stringify(await getCheckpoint(store, "n", step + 1)), want[step]);
    await forkRun(store, { runId: "n", step: step + 1, newRunId: "f" });
    const r = await resumeRun(notes, { store, runId: "f", logger: quiet });
    assert.equal(r.result, input.n);
    const forked = await store.listSteps("f");
    assert.equal(forked[0].step, step + 1);
    assert.deepEqual(forked.map((s) => s.state), [...want.slice(step + 1), null]);
    assert.deepEqual((await verifyRun(store, "f")).problems, []);
  },
);

storeTest(
  "delta checkpoints: the compact policy keeps its checkpoints readable and forkable",
  async (t) => {
    const { store } = t;
    const input = { n: 60, size: 300 };
    await startRun(notes, {
      store,
      runId: "c",
      input,
      checkpoint: { mode: "compact", every: 7 },
      logger: quiet,
    });
    const want = expectedNotes(input);
    const kept = want.map((text, s) => (s + 1) % 7 === 0 || s === input.n - 1 ? text : null);
    await assertCheckpoints(store, "c", [...kept, null]);
    // Each kept checkpoint was written as a delta, then stored whole when its base was dropped.
    assert.ok(!(await storedAs(t, "c")).includes("delta"));
    await forkRun(store, { runId: "c", step: 35, newRunId: "c35" });
    assert.equal((await resumeRun(notes, { store, runId: "c35", logger: quiet })).result, input.n);
    // The fork keeps the run's policy.
    assert.deepEqual((await store.listSteps("c35")).map((s) => s.state), [...kept.slice(35), null]);
    assert.deepEqual((await verifyRun(store, "c35")).problems, []);
  },
);

for (const kind of ["delta", "whole"] as const) {
  storeTest(
    `SIGKILL right after a ${kind} checkpoint's commit: the resumed run reads back exactly`,
    async (t) => {
      const input = { n: 90, size: 400 };
      // Where the writer stores deltas and snapshots, from a run of the same agent in this process.
      await startRun(notes, { store: t.store, runId: "probe", input, logger: quiet });
      const kinds = await storedAs(t, "probe");
      const at = kinds.findIndex((k, s) => k === kind && s > 20);
      assert.ok(at > 0, kinds.join(" "));
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../testdata/run_notes_proc.ts", import.meta.url).pathname,
          t.db,
          t.schema ?? "-",
          "k",
          String(input.n),
          String(input.size),
        ],
        env: { LOOM_TEST_CRASH_AFTER_STEP: `k:${at}` },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL");
      await child.stderr.cancel();
      assert.equal((await t.store.lastStep("k"))!.step, at, `killed right after step ${at}`);
      assert.equal((await storedAs(t, "k"))[at], kind);
      const r = await resumeRun(notes, { store: t.store, runId: "k", logger: quiet });
      assert.equal(r.result, input.n);
      await assertCheckpoints(t.store, "k", [...expectedNotes(input), null]);
    },
  );
}

storeTest(
  "delta checkpoints: a broken delta chain is reported, never read as a wrong state",
  async (t) => {
    const input = { n: 40, size: 300 };
    await startRun(notes, { store: t.store, runId: "b", input, logger: quiet });
    const kinds = await storedAs(t, "b");
    const lost = kinds.findIndex((k, s) => k === "delta" && kinds[s + 1] === "delta");
    assert.ok(lost > 0, kinds.join(" "));
    // Damage: the delta of step `lost` is gone.
    if (t.schema === undefined) {
      (t.store as SqliteStore).db.prepare(
        `UPDATE checkpoints SET delta = NULL
       WHERE id = (SELECT checkpoint FROM steps WHERE run_id = 'b' AND step = ?)`,
      ).run(lost);
    } else {
      await (t.store as PostgresStore).sql.unsafe(
        `UPDATE ${t.schema}.steps SET delta = NULL WHERE run_id = 'b' AND step = $1`,
        [lost],
      );
    }
    await assert.rejects(
      (async () => await t.store.getStep("b", lost + 1))(),
      new RegExp(`checkpoint after step ${lost + 1} of run b cannot be rebuilt.*damaged`),
    );
    const { problems } = await verifyRun(t.store, "b");
    assert.ok(problems.some((p) => /cannot be rebuilt/.test(p)), problems.join("\n"));
  },
);

storeTest("delta checkpoints: deleting a run deletes them, and only its own", async (t) => {
  const input = { n: 30, size: 300 };
  await startRun(notes, { store: t.store, runId: "d1", input, logger: quiet });
  await startRun(notes, { store: t.store, runId: "d2", input, logger: quiet });
  const stored = async () => {
    if (t.schema !== undefined) return (await storedAs(t, "d1")).length;
    const db = (t.store as SqliteStore).db;
    return (db.prepare("SELECT count(*) AS n FROM checkpoints").get() as { n: number }).n;
  };
  assert.ok(await stored() > 0);
  assert.equal(await t.store.deleteRun("d1"), true);
  assert.deepEqual(await t.store.listSteps("d1"), []);
  if (t.schema === undefined) {
    // Only d2's rows are left in checkpoints.
    const db = (t.store as SqliteStore).db;
    const orphans = db.prepare(
      `SELECT count(*) AS n FROM checkpoints c
       WHERE NOT EXISTS (SELECT 1 FROM steps s WHERE s.checkpoint = c.id)`,
    ).get() as { n: number };
    assert.equal(orphans.n, 0);
  }
  await assertCheckpoints(t.store, "d2", [...expectedNotes(input), null]);
});

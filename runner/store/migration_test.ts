// Databases written by schema version 1 (`runner/testdata/schema_v1/`, before the vocabulary of
// issue 12: `tool_calls`, `attempts`, `category`, no `ended_at`) open in both stores, are
// migrated to the current version, and read, resume and fork as before. Every row of the fixture
// is read raw before the migration and compared with what the store reads after it. Databases
// written before the delta checkpoints of issue 13 (`runner/testdata/schema_v2/`: SQLite schema
// version 2, PostgreSQL 3, whole checkpoints only) do the same, and a run in them goes on with
// delta checkpoints.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import approval from "../../examples/approval_agent.ts";
import counter from "../../examples/counter_agent.ts";
import {
  defineAgent,
  explainRun,
  forkRun,
  recur,
  resumeRun,
  retryRun,
  sendSignal,
  type Store,
  TERMINAL_STATUSES,
  verifyRun,
} from "../mod.ts";
import { main } from "../cli.ts";
import { PG_TEST_URL, randomSchema } from "../testing/_stores.ts";
import notes, { expectedNotes } from "../testdata/notes_agent.ts";
import { connect } from "./postgres/_db.ts";
import { openPostgresStore, PG_SCHEMA_VERSION } from "./postgres/mod.ts";
import { openStore, SCHEMA_VERSION } from "./sqlite.ts";
import type { RunStatus } from "./store.ts";

const FIXTURES = new URL("../testdata/schema_v1/", import.meta.url);
/** The runs the fixtures hold (see the README there). */
const RUN_IDS = [
  "approval-done",
  "approval-signal-pending",
  "approval-waiting",
  "child-1",
  "counter-compact",
  "counter-fork",
  "counter-full",
  "counter-paused",
  "counter-queued",
  "flaky-failed",
  "parent-1",
];

type Row = Record<string, unknown>;
/** The tables of a version 1 store, each row with its version 1 column names. */
type V1Tables = Record<"runs" | "steps" | "attempts" | "tool_calls" | "signals" | "events", Row[]>;
const V1_TABLES = ["runs", "steps", "attempts", "tool_calls", "signals", "events"] as const;

/** A copy of a version 1 fixture: its rows read raw, the store that migrates it, cleanup. */
interface V1Copy {
  /** `--db` of the copy. */
  location: string;
  rows: V1Tables;
  open(): Promise<Store>;
  /** The schema version the copy has now. */
  version(): Promise<number>;
  cleanup(): Promise<void>;
}

/** A copy of `runs.sqlite` in a temp dir (the committed file is never opened for writing). */
async function sqliteCopy(): Promise<V1Copy> {
  const dir = await Deno.makeTempDir({ prefix: "loom-v1-" });
  const path = `${dir}/runs.sqlite`;
  await Deno.copyFile(new URL("runs.sqlite", FIXTURES), path);
  const raw = new DatabaseSync(path, { readOnly: true });
  const rows = Object.fromEntries(
    V1_TABLES.map((t) => [t, raw.prepare(`SELECT * FROM ${t}`).all() as Row[]]),
  ) as V1Tables;
  raw.close();
  const stores: Store[] = [];
  return {
    location: path,
    rows,
    open: () => {
      const store = openStore(path, { create: false });
      stores.push(store);
      return Promise.resolve(store);
    },
    version: () => {
      const db = new DatabaseSync(path, { readOnly: true });
      const { user_version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
      db.close();
      return Promise.resolve(user_version);
    },
    async cleanup() {
      for (const s of stores) await s.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** `postgres.sql` replayed into a fresh schema with a random name. */
async function postgresCopy(): Promise<V1Copy> {
  const schema = randomSchema("loomv1");
  const dump = await Deno.readTextFile(new URL("postgres.sql", FIXTURES));
  // The pool reads int8 as numbers, like the store's own; statements name the schema.
  const sql = connect(PG_TEST_URL, { schema, synchronousCommit: "off", maxConnections: 1 });
  const stores: Store[] = [];
  try {
    await sql.unsafe(dump.replaceAll("loom_v1_fixture", schema));
    const rows = {} as V1Tables;
    for (const t of V1_TABLES) {
      rows[t] = Array.from(await sql.unsafe(`SELECT * FROM ${schema}.${t}`));
    }
    return {
      location: PG_TEST_URL,
      rows,
      async open() {
        const store = await openPostgresStore(PG_TEST_URL, {
          schema,
          create: false,
          synchronousCommit: "off",
        });
        stores.push(store);
        return store;
      },
      async version() {
        const [{ value }] = await sql.unsafe(
          `SELECT value FROM ${schema}.loom_meta WHERE key = 'schema_version'`,
        );
        return Number(value);
      },
      async cleanup() {
        for (const s of stores) await s.close();
        await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await sql.end({ timeout: 5 });
      },
    };
  } catch (e) {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await sql.end({ timeout: 5 });
    throw e;
  }
}

const camel = (column: string) => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A version 1 row as the version 2 record: fields in camel case, renamed ones renamed. */
function asRecord(row: Row, renamed: Record<string, string> = {}, drop: string[] = []): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (!drop.includes(k)) out[renamed[k] ?? camel(k)] = v;
  }
  return out;
}

/** What the store must read for each run, from the raw version 1 rows. */
function expectedRecords(v1: V1Tables, runId: string) {
  const of = (rows: Row[]) => rows.filter((r) => r.run_id === runId);
  const [run] = of(v1.runs);
  const terminal = TERMINAL_STATUSES.includes(run.status as RunStatus);
  return {
    run: {
      ...asRecord(run, {}, ["claimed_until"]),
      endedAt: terminal ? run.updated_at : null,
    },
    steps: of(v1.steps).map((r) => asRecord(r)),
    failedAttempts: of(v1.attempts).map((r) => asRecord(r, { category: "errorCategory" })),
    calls: of(v1.tool_calls).map((r) => ({
      ...asRecord(r, { category: "errorCategory" }),
      capped: Boolean(r.capped),
    })),
    signals: of(v1.signals).map((r) => asRecord(r)),
    events: of(v1.events).map((r) => asRecord(r)),
  };
}

/** Rows as plain JSON, in a canonical order (the contract suite checks each list's order). */
function canonical(rows: unknown[]): unknown[] {
  return rows.map((r) => JSON.parse(JSON.stringify(r))).sort((a, b) =>
    JSON.stringify(a) < JSON.stringify(b) ? -1 : 1
  );
}

/** Every run reads as it was written: record, steps, failed attempts, calls, signals, events. */
async function assertReadsAsWritten(store: Store, v1: V1Tables): Promise<void> {
  const all = { limit: 10_000 };
  assert.deepEqual((await store.listRuns(all)).map((r) => r.runId).sort(), RUN_IDS);
  for (const runId of RUN_IDS) {
    const want = expectedRecords(v1, runId);
    assert.deepEqual(canonical([await store.getRun(runId)]), canonical([want.run]), runId);
    const got = {
      steps: await store.listSteps(runId, all),
      failedAttempts: await store.listFailedAttempts(runId, all),
      calls: await store.listCalls(runId, all),
      signals: await store.listSignals(runId, all),
      events: await store.listEvents(runId, all),
    };
    for (const k of ["steps", "failedAttempts", "calls", "signals", "events"] as const) {
      assert.deepEqual(canonical(got[k]), canonical(want[k]), `${runId}: ${k}`);
    }
    const e = await explainRun(store, runId);
    assert.equal(e.steps.committed, want.steps.length, runId);
    assert.equal(e.failedAttempts.count, want.failedAttempts.length, runId);
    assert.equal(
      e.calls.reduce((n, c) => n + c.completed + c.failed + c.started, 0),
      want.calls.length,
      runId,
    );
    assert.equal(e.endedAt !== null, want.run.endedAt !== null, runId);
    const report = await verifyRun(store, runId);
    assert.deepEqual(report.problems, [], runId);
    assert.equal(report.checked.failedAttempts, want.failedAttempts.length, runId);
  }
  const flaky = await explainRun(store, "flaky-failed");
  assert.deepEqual(flaky.failedAttempts.byCategory, { transient: 2 });
  assert.deepEqual(flaky.error, { message: "upstream down", category: "transient" });
  assert.deepEqual((await explainRun(store, "counter-fork")).forkOf, {
    runId: "counter-full",
    step: 3,
  });
  assert.deepEqual((await explainRun(store, "parent-1")).children, [
    { runId: "child-1", agentName: "counter", status: "completed", children: [] },
  ]);
}

/** The fixture's failing agent, healthy now: step 1's tool call is answered from the store. */
function healthyFlaky(fetched: number[]) {
  return defineAgent({
    name: "flaky",
    initialState: () => ({ n: 0 }),
    async step(state: { n: number }, ctx) {
      await ctx.callTool("fetch", { n: state.n }, () => {
        fetched.push(state.n);
        return { page: "ok" };
      });
      return state.n >= 1 ? "recovered" : recur({ n: state.n + 1 });
    },
  });
}

/** The waiting, paused, queued and failed runs resume and complete; completed ones fork. */
async function assertRunsContinue(store: Store): Promise<void> {
  const quiet = { info() {}, warn() {}, error() {} };
  const resume = (agent: typeof counter | typeof approval, runId: string) =>
    resumeRun(agent as typeof counter, { store, runId, logger: quiet });
  assert.deepEqual((await resume(counter, "counter-queued")).result, { current: 3, steps: 3 });
  assert.deepEqual((await resume(counter, "counter-paused")).result, { current: 50, steps: 50 });
  assert.deepEqual((await resume(counter, "counter-fork")).result, { current: 5, steps: 5 });
  const deployed = { release: "v1.2.3", deployed: true };
  assert.deepEqual((await resume(approval, "approval-signal-pending")).result, deployed);
  await sendSignal(store, "approval-waiting", "approve", { by: "cy" });
  assert.deepEqual((await resume(approval, "approval-waiting")).result, deployed);
  // The plan tool ran once, before the migration; its result was replayed from the store.
  const plans = (await store.listCalls("approval-waiting")).filter((c) => c.name === "plan");
  assert.deepEqual(plans.map((c) => [c.status, c.attempts]), [["completed", 1]]);

  await retryRun(store, "flaky-failed");
  const fetched: number[] = [];
  const flaky = await resumeRun(healthyFlaky(fetched), {
    store,
    runId: "flaky-failed",
    logger: quiet,
  });
  assert.equal(flaky.result, "recovered");
  assert.deepEqual(fetched, [], "step 1's completed tool call is not run again");

  await forkRun(store, { runId: "counter-full", step: 3, newRunId: "full-from-3" });
  assert.deepEqual((await resume(counter, "full-from-3")).result, { current: 5, steps: 5 });
  // Compact every 5: the checkpoint before step 10 (after step 9) is kept, the one before 7 not.
  await forkRun(store, { runId: "counter-compact", step: 10, newRunId: "compact-from-10" });
  assert.deepEqual((await resume(counter, "compact-from-10")).result, { current: 12, steps: 12 });
  await assert.rejects(
    forkRun(store, { runId: "counter-compact", step: 7, newRunId: "x" }),
    /checkpoint before step 7 of run counter-compact was not kept/,
  );
  for (const run of await store.listRuns({ limit: 100 })) {
    assert.equal(run.status, "completed", run.runId);
    assert.ok(run.endedAt !== null && run.endedAt >= run.createdAt, run.runId);
    assert.deepEqual((await verifyRun(store, run.runId)).problems, [], run.runId);
  }
}

for (
  const [name, copyOf, version] of [
    ["sqlite", sqliteCopy, SCHEMA_VERSION],
    ["postgres", postgresCopy, PG_SCHEMA_VERSION],
  ] as const
) {
  Deno.test(`${name}: a version 1 store migrates to ${version}, reads as written, resumes and forks`, async () => {
    const copy = await copyOf();
    try {
      assert.equal(await copy.version(), 1);
      const store = await copy.open();
      assert.equal(await copy.version(), version);
      await assertReadsAsWritten(store, copy.rows);
      // Opening a migrated store again changes nothing.
      await assertReadsAsWritten(await copy.open(), copy.rows);
      await assertRunsContinue(store);
    } finally {
      await copy.cleanup();
    }
  });
}

Deno.test("sqlite: the CLI lists and explains a version 1 database (migrating it first)", async () => {
  const copy = await sqliteCopy();
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  try {
    assert.equal(await main(["list", "--db", copy.location, "--json"]), 0);
    const listed = JSON.parse(out.join("\n")) as { runId: string; status: string }[];
    assert.deepEqual(listed.map((r) => r.runId).sort(), RUN_IDS);
    out.length = 0;
    assert.equal(await main(["explain", "--run-id", "flaky-failed", "--db", copy.location]), 0);
    const text = out.join("\n");
    assert.match(text, /run flaky-failed: FAILED/);
    assert.match(text, /attempts {3}2 failed \(transient 2\); 1 retried/);
    assert.match(text, /error {6}transient: upstream down/);
    assert.equal(await copy.version(), SCHEMA_VERSION);
  } finally {
    console.log = log;
    await copy.cleanup();
  }
});

// ---- SQLite schema version 2, PostgreSQL 3 (whole checkpoints) ----

const V2_FIXTURES = new URL("../testdata/schema_v2/", import.meta.url);
type StepRow = { run_id: string; step: number; state: string | null };

/** A copy of a version 2 fixture: its step rows read raw, the store that migrates it, cleanup. */
interface V2Copy {
  steps: StepRow[];
  open(): Promise<Store>;
  version(): Promise<number>;
  cleanup(): Promise<void>;
}

async function sqliteV2Copy(): Promise<V2Copy> {
  const dir = await Deno.makeTempDir({ prefix: "loom-v2-" });
  const path = `${dir}/runs.sqlite`;
  await Deno.copyFile(new URL("runs.sqlite", V2_FIXTURES), path);
  const version = () => {
    const db = new DatabaseSync(path, { readOnly: true });
    const { user_version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
    db.close();
    return Promise.resolve(user_version);
  };
  const raw = new DatabaseSync(path, { readOnly: true });
  const steps = raw.prepare("SELECT run_id, step, state FROM steps ORDER BY run_id, step")
    .all() as StepRow[];
  raw.close();
  const stores: Store[] = [];
  return {
    steps,
    open: () => {
      const store = openStore(path, { create: false });
      stores.push(store);
      return Promise.resolve(store);
    },
    version,
    async cleanup() {
      for (const s of stores) await s.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function postgresV2Copy(): Promise<V2Copy> {
  const schema = randomSchema("loomv2");
  const dump = await Deno.readTextFile(new URL("postgres.sql", V2_FIXTURES));
  const sql = connect(PG_TEST_URL, { schema, synchronousCommit: "off", maxConnections: 1 });
  const stores: Store[] = [];
  const cleanup = async () => {
    for (const s of stores) await s.close();
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await sql.end({ timeout: 5 });
  };
  try {
    await sql.unsafe(dump.replaceAll("loom_v2_fixture", schema));
    const steps = Array.from(
      await sql.unsafe(`SELECT run_id, step, state FROM ${schema}.steps ORDER BY run_id, step`),
    ) as unknown as StepRow[];
    return {
      steps,
      async open() {
        const store = await openPostgresStore(PG_TEST_URL, {
          schema,
          create: false,
          synchronousCommit: "off",
        });
        stores.push(store);
        return store;
      },
      async version() {
        const [{ value }] = await sql.unsafe(
          `SELECT value FROM ${schema}.loom_meta WHERE key = 'schema_version'`,
        );
        return Number(value);
      },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

for (
  const [name, copyOf, before, version] of [
    ["sqlite", sqliteV2Copy, 2, SCHEMA_VERSION],
    ["postgres", postgresV2Copy, 3, PG_SCHEMA_VERSION],
  ] as const
) {
  Deno.test(`${name}: a version ${before} store (whole checkpoints) migrates to ${version}; its runs read as written, resume with delta checkpoints and fork`, async () => {
    const copy = await copyOf();
    try {
      assert.equal(await copy.version(), before);
      const store = await copy.open();
      assert.equal(await copy.version(), version);
      // Every step row reads as written.
      for (const runId of [...RUN_IDS, "notes-paused"]) {
        const want = copy.steps.filter((r) => r.run_id === runId);
        const got = await store.listSteps(runId, { limit: 10_000 });
        assert.deepEqual(got.map((r) => [r.step, r.state]), want.map((r) => [r.step, r.state]));
        assert.deepEqual((await verifyRun(store, runId)).problems, [], runId);
      }
      // The paused notes run goes on; its new checkpoints are deltas, all read back exactly.
      const input = { n: 40, size: 300 };
      const want = [...expectedNotes(input), null];
      const quiet = { info() {}, warn() {}, error() {} };
      await forkRun(store, { runId: "notes-paused", step: 12, newRunId: "notes-from-12" });
      const r = await resumeRun(notes, { store, runId: "notes-paused", logger: quiet });
      assert.equal(r.result, input.n);
      const steps = await store.listSteps("notes-paused");
      assert.deepEqual(steps.map((s) => s.state), want);
      for (const s of [3, 24, 25, 31, 39]) {
        assert.equal((await store.getStep("notes-paused", s))?.state, want[s], `step ${s}`);
      }
      // A fork from a step written before the migration, and one from a delta after it.
      await forkRun(store, { runId: "notes-paused", step: 33, newRunId: "notes-from-33" });
      for (const [runId, from] of [["notes-from-12", 12], ["notes-from-33", 33]] as const) {
        assert.equal((await resumeRun(notes, { store, runId, logger: quiet })).result, input.n);
        const forked = await store.listSteps(runId);
        assert.deepEqual(forked.map((s) => s.state), want.slice(from), runId);
        assert.deepEqual((await verifyRun(store, runId)).problems, [], runId);
      }
      await assertRunsContinue(store);
    } finally {
      await copy.cleanup();
    }
  });
}

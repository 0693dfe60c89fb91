// PostgreSQL-specific behaviour of the store: opening and migrating a schema, refusing foreign
// ones, concurrency between pools (leases, claims, sequence numbers) and work notifications.
import assert from "node:assert/strict";
import { RunnerError } from "../../errors.ts";
import { openAnyStore } from "../open.ts";
import type { RunRecord } from "../store.ts";
import {
  connectPostgresAdmin,
  openPostgresStore,
  PG_SCHEMA_VERSION,
  type PostgresAdmin,
  type PostgresStore,
} from "./mod.ts";
import { SqliteStore } from "../sqlite.ts";
import { dropSchema, PG_TEST_URL, randomSchema } from "../../testing/_stores.ts";
import { waitFor } from "../../testing.ts";
import { runRecord } from "../../_test_util.ts";

async function withSchema(
  fn: (schema: string, admin: PostgresAdmin) => Promise<void>,
): Promise<void> {
  const admin = connectPostgresAdmin(PG_TEST_URL);
  const schema = randomSchema();
  try {
    await fn(schema, admin);
  } finally {
    await admin.dropSchema(schema);
    await admin.close();
  }
}

function pgRunRecord(runId: string, status: RunRecord["status"] = "paused"): RunRecord {
  const now = Date.now();
  return runRecord(runId, { status, createdAt: now, updatedAt: now });
}

Deno.test("postgres: open creates and migrates a schema once, even when two processes race", async () => {
  await withSchema(async (schema, admin) => {
    await assert.rejects(
      openPostgresStore(PG_TEST_URL, { schema, create: false }),
      (e: unknown) =>
        e instanceof RunnerError && /^no Loom store at .*\(schema loomtest_/.test(e.message),
    );
    const [a, b] = await Promise.all([
      openPostgresStore(PG_TEST_URL, { schema }),
      openPostgresStore(PG_TEST_URL, { schema }),
    ]);
    try {
      const meta = await admin.exec(`SELECT key, value FROM ${schema}.loom_meta ORDER BY key`);
      assert.deepEqual(meta.map((r) => `${r.key}=${r.value}`), [
        "application=loom",
        `schema_version=${PG_SCHEMA_VERSION}`,
      ]);
      await a.createRun(pgRunRecord("r1"));
      assert.equal((await b.getRun("r1"))!.status, "paused");
      const again = await openPostgresStore(PG_TEST_URL, { schema, create: false });
      assert.equal((await again.listRuns()).length, 1);
      await again.close();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("postgres: foreign, newer and unreachable stores are refused with one clear sentence", async () => {
  await withSchema(async (schema, admin) => {
    await admin.exec(`CREATE SCHEMA ${schema}`);
    await admin.exec(`CREATE TABLE ${schema}.customers (id int)`);
    await assert.rejects(
      openPostgresStore(PG_TEST_URL, { schema }),
      /is not a Loom store \(the schema holds other tables\)/,
    );
    await admin.exec(`DROP TABLE ${schema}.customers`);
    const s = await openPostgresStore(PG_TEST_URL, { schema });
    await s.close();
    await admin.exec(`UPDATE ${schema}.loom_meta SET value = '99' WHERE key = 'schema_version'`);
    await assert.rejects(
      openPostgresStore(PG_TEST_URL, { schema }),
      /has schema version 99, newer than this runner supports/,
    );
  });
  await assert.rejects(
    openPostgresStore("postgres://nobody:secret@127.0.0.1:1/test", { schema: "x" }),
    (e: unknown) =>
      e instanceof RunnerError &&
      /^cannot open PostgreSQL store postgres:\/\/nobody:\*\*\*@127/.test(e.message) &&
      !e.message.includes("secret"),
  );
  await assert.rejects(
    openPostgresStore(PG_TEST_URL, { schema: "Bad-Name" }),
    /invalid schema name/,
  );
});

Deno.test("openAnyStore: a path opens SQLite, a postgres:// URL the PostgreSQL store", async () => {
  const dir = await Deno.makeTempDir();
  const schema = randomSchema();
  try {
    const lite = await openAnyStore(`${dir}/x.db`);
    assert.ok(lite instanceof SqliteStore);
    lite.close();
    const pg = await openAnyStore(PG_TEST_URL, { schema });
    try {
      assert.match(pg.location, new RegExp(`schema ${schema}\\)$`));
      assert.deepEqual(await pg.integrityCheck(), []);
      assert.ok((await pg.sizeBytes()) > 0);
    } finally {
      await dropSchema(pg as PostgresStore, schema);
      await pg.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("postgres: two pools racing for one lease: exactly one wins; only the owner commits", async () => {
  await withSchema(async (schema) => {
    const a = await openPostgresStore(PG_TEST_URL, { schema });
    const b = await openPostgresStore(PG_TEST_URL, { schema });
    try {
      for (let i = 0; i < 10; i++) await a.createRun(pgRunRecord(`r${i}`));
      const free = { owner: null, expires: null, status: "paused" } as const;
      const expires = Date.now() + 60_000;
      for (let i = 0; i < 10; i++) {
        const [x, y] = await Promise.all([
          a.takeLease(`r${i}`, free, "host:1:a", expires),
          b.takeLease(`r${i}`, free, "host:2:b", expires),
        ]);
        assert.equal([x, y].filter(Boolean).length, 1, `run r${i}`);
        const winner = x ? "host:1:a" : "host:2:b";
        const loser = x ? "host:2:b" : "host:1:a";
        const step = {
          runId: `r${i}`,
          step: 0,
          attempt: 1,
          startedAt: Date.now(),
          durationMs: 1,
          state: "{}",
        };
        assert.equal(await b.commitStep(step, loser), false);
        assert.equal(await a.commitStep(step, winner), true);
        assert.equal(await b.commitStep(step, winner), false, "a step is never committed twice");
        assert.equal((await a.stepStats(`r${i}`)).count, 1);
      }
      await assert.rejects(
        a.createRun(pgRunRecord("r0")),
        (e: unknown) => e instanceof RunnerError && /run r0 already exists/.test(e.message),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("postgres: concurrent claims (SKIP LOCKED) split the runnable runs without overlap", async () => {
  await withSchema(async (schema) => {
    const stores = await Promise.all(
      [0, 1, 2].map(() => openPostgresStore(PG_TEST_URL, { schema })),
    );
    try {
      for (let i = 0; i < 40; i++) {
        await stores[0].createRun(pgRunRecord(`r${i}`, i % 2 ? "queued" : "paused"));
      }
      await stores[0].createRun({ ...pgRunRecord("done"), status: "completed" });
      await stores[0].createRun({ ...pgRunRecord("other"), agentName: "b" });
      await stores[0].createRun({
        ...pgRunRecord("leased", "running"),
        leaseOwner: "h:1:x",
        leaseExpires: Date.now() + 60_000,
      });
      await stores[0].createRun({
        ...pgRunRecord("expired", "running"),
        leaseOwner: "h:1:y",
        leaseExpires: Date.now() - 1,
      });
      const got = (await Promise.all(stores.flatMap((s) =>
        [s, s].map(() =>
          s.claimRunnable(["a"], 8, 60_000)
        )
      )))
        .flat().map((c) => c.runId);
      assert.equal(new Set(got).size, got.length, "no run claimed twice");
      assert.ok(got.includes("expired"));
      for (const id of ["done", "other", "leased"]) assert.ok(!got.includes(id), id);
      const rest = await stores[1].claimRunnable(["a"], 100, 60_000);
      assert.equal(got.length + rest.length, 41);
      assert.deepEqual(await stores[2].claimRunnable(["a"], 100, 60_000), []);
      await stores[0].releaseClaim("r0");
      assert.deepEqual((await stores[2].claimRunnable(["a"], 100, 60_000)).map((c) => c.runId), [
        "r0",
      ]);
      assert.equal(await stores[0].pendingRuns(["a"]), 42);
      assert.equal(await stores[0].nextWakeAt(["b"]), null);
    } finally {
      for (const s of stores) await s.close();
    }
  });
});

Deno.test("postgres: events and signals from several pools get unique, gap-free sequence numbers", async () => {
  await withSchema(async (schema) => {
    const a = await openPostgresStore(PG_TEST_URL, { schema });
    const b = await openPostgresStore(PG_TEST_URL, { schema });
    try {
      await a.createRun(pgRunRecord("r"));
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).addEvent("r", "k", `e${i}`)),
      );
      assert.deepEqual(
        (await a.listEvents("r")).map((e) => e.seq),
        Array.from({ length: 24 }, (_, i) => i + 1),
      );
      const seqs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).addSignal("r", "s", "1", 0)),
      );
      assert.deepEqual(seqs.sort((x, y) => x - y), Array.from({ length: 12 }, (_, i) => i + 1));
      assert.equal((await a.nextSignal("r", "s"))!.seq, 1);
      const call = {
        runId: "r",
        key: "k1",
        step: 0,
        kind: "tool" as const,
        name: "fetch",
        args: '{"u":1}',
        argsHash: "h",
        status: "completed" as const,
        result: '{"stub":true}',
        resultBytes: 5_000_000,
        resultHash: "rh",
        capped: true,
        error: null,
        errorCategory: null,
        attempts: 2,
        startedAt: 1_795_000_000_123,
        durationMs: 1.5,
        deadline: null,
      };
      await a.putCall(call);
      assert.deepEqual(await b.getCall("r", "k1"), call);
      await b.putCall({ ...call, capped: false, attempts: 3 });
      assert.deepEqual(await a.listCalls("r"), [{ ...call, capped: false, attempts: 3 }]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("postgres: LISTEN/NOTIFY tells a listener (of this schema only) about new work", async () => {
  await withSchema(async (schema, admin) => {
    const a = await openPostgresStore(PG_TEST_URL, { schema });
    const b = await openPostgresStore(PG_TEST_URL, { schema });
    const elsewhere = await openPostgresStore(PG_TEST_URL, { schema: `${schema}_x` });
    let wakes = 0;
    const unlisten = await a.listenForWork(() => wakes++);
    const woken = (n: number, what: string) =>
      waitFor(`wake-up ${n} (${what}); ${wakes} so far`, () => wakes >= n);
    let listening = true;
    try {
      await woken(1, "listening started");
      // The listening connection dies (server restart, network): the client listens again and
      // wakes the worker at once, since notifications sent meanwhile are lost.
      const killed = await admin.exec(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND query ILIKE 'listen%'`,
        [`loom-runner ${schema}`],
      );
      assert.equal(killed.length, 1);
      await woken(2, "listening again after the connection died");
      // Work in another schema, and an update to "running", wake nobody here: each is written
      // before a write that does wake, so a wrong wake-up would be counted (see the end).
      await elsewhere.createRun(pgRunRecord("x", "queued"));
      await elsewhere.addEvent("x", "queued", "queued elsewhere");
      await b.createRun(pgRunRecord("q", "queued")); // wakes nobody until its "queued" event
      await b.addEvent("q", "queued", "run queued");
      await woken(3, "a queued event");
      await b.updateRunIf("q", ["queued"], { status: "running" });
      await b.addSignal("q", "go", "1", Date.now());
      await woken(4, "a signal");
      await b.createRun(pgRunRecord("q2", "paused"));
      await woken(5, "a paused run");
      // UNLISTEN goes over the listening connection, after every notification it was sent:
      // once it returns, every wake-up there will be has been counted.
      listening = false;
      await unlisten();
      assert.equal(
        wakes,
        5,
        `${wakes} wake-ups: expected only the listen, re-listen, queued event, signal and paused run`,
      );
    } finally {
      if (listening) await unlisten();
      await admin.dropSchema(elsewhere.schema);
      for (const s of [a, b, elsewhere]) await s.close();
    }
  });
});

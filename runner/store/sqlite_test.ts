// The SQLite store: file checks, schema versioning, WAL/synchronous settings, guarded commits.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { LOOM_APPLICATION_ID, openStore, SCHEMA_VERSION } from "./sqlite.ts";
import { CorruptDatabaseError, RunnerError } from "../errors.ts";
import { defineAgent, recur, startRun } from "../mod.ts";

async function inTemp(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a new database is marked as Loom, versioned, and in WAL mode with the chosen durability", async () => {
  await inTemp((dir) => {
    const normal = openStore(`${dir}/a.sqlite`);
    const pragma = (name: string) => Object.values(normal.db.prepare(`PRAGMA ${name}`).get()!)[0];
    assert.equal(pragma("application_id"), LOOM_APPLICATION_ID);
    assert.equal(pragma("user_version"), SCHEMA_VERSION);
    assert.equal(pragma("journal_mode"), "wal");
    assert.equal(pragma("synchronous"), 1); // NORMAL
    normal.close();
    const full = openStore(`${dir}/a.sqlite`, { durability: "fsync" });
    assert.equal(Object.values(full.db.prepare("PRAGMA synchronous").get()!)[0], 2); // FULL
    full.close();
  });
});

Deno.test("refused files: missing (without create), empty, foreign, newer schema, directory", async () => {
  await inTemp(async (dir) => {
    assert.throws(() => openStore(`${dir}/none.sqlite`, { create: false }), /does not exist/);
    await Deno.writeFile(`${dir}/empty.sqlite`, new Uint8Array());
    assert.throws(
      () => openStore(`${dir}/empty.sqlite`, { create: false }),
      /is an empty file, not a Loom database/,
    );
    const foreign = new DatabaseSync(`${dir}/foreign.sqlite`);
    foreign.exec("PRAGMA user_version = 3");
    foreign.close();
    assert.throws(() => openStore(`${dir}/foreign.sqlite`), /is not a Loom database/);
    const s = openStore(`${dir}/future.sqlite`);
    s.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    s.close();
    assert.throws(
      () => openStore(`${dir}/future.sqlite`),
      (e: unknown) =>
        e instanceof RunnerError &&
        e.message.includes(
          `schema version ${
            SCHEMA_VERSION + 1
          }, newer than this runner supports (${SCHEMA_VERSION})`,
        ),
    );
    assert.throws(() => openStore(dir), /is a directory/);
    // An empty file may become a database when creation is allowed.
    openStore(`${dir}/empty.sqlite`).close();
  });
});

Deno.test("commits are guarded by the lease: a writer that lost it changes nothing", async () => {
  await inTemp(async (dir) => {
    const store = openStore(`${dir}/runs.sqlite`);
    const agent = defineAgent({
      name: "a",
      initialState: () => ({ n: 0 }),
      step: (s: { n: number }) => (s.n > 2 ? s.n : recur({ n: s.n + 1 })),
    });
    await startRun(agent, { store, runId: "r", maxSteps: 1 });
    const row = { runId: "r", step: 1, attempt: 1, startedAt: 0, durationMs: 0, state: "{}" };
    assert.equal(store.commitStep(row, "someone-else"), false);
    assert.equal(store.lastStep("r")!.step, 0);
    assert.equal(store.updateOwnedRun("r", "someone-else", { status: "failed" }), false);
    assert.equal(store.getRun("r")!.status, "paused");
    store.close();
  });
});

Deno.test("inspection indexes exist and the hot path uses the primary key", async () => {
  await inTemp((dir) => {
    const store = openStore(`${dir}/runs.sqlite`);
    const names = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all().map(
      (r) => r.name,
    );
    for (const idx of ["runs_by_status", "runs_by_parent", "calls_by_step"]) {
      assert.ok(names.includes(idx), idx);
    }
    const plan = store.db.prepare(
      "EXPLAIN QUERY PLAN SELECT * FROM steps WHERE run_id = 'x' ORDER BY step DESC LIMIT 1",
    ).all().map((r) => String(r.detail)).join(" ");
    assert.match(plan, /USING PRIMARY KEY/);
    const list = store.db.prepare(
      "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE status = 'failed' ORDER BY updated_at DESC",
    ).all().map((r) => String(r.detail)).join(" ");
    assert.match(list, /runs_by_status/);
    store.close();
  });
});

Deno.test("pageSize applies to new files only and is validated", async () => {
  await inTemp((dir) => {
    const s = openStore(`${dir}/p.sqlite`, { pageSize: 1024 });
    assert.equal(Object.values(s.db.prepare("PRAGMA page_size").get()!)[0], 1024);
    s.close();
    const again = openStore(`${dir}/p.sqlite`, { pageSize: 8192 });
    assert.equal(Object.values(again.db.prepare("PRAGMA page_size").get()!)[0], 1024);
    again.close();
    assert.throws(
      () => openStore(`${dir}/q.sqlite`, { pageSize: 1000 }),
      /page size must be a power of two/,
    );
  });
});

Deno.test("creating a run that exists (made through another connection) is a clear error", async () => {
  await inTemp(async (dir) => {
    const a = openStore(`${dir}/runs.sqlite`);
    const b = openStore(`${dir}/runs.sqlite`);
    const agent = defineAgent({ name: "a", initialState: () => ({}), step: () => 1 });
    await startRun(agent, { store: a, runId: "r" });
    const rec = b.getRun("r")!;
    assert.throws(() => b.createRun(rec), /run r already exists/);
    a.close();
    b.close();
  });
});

/** Overwrites the b-tree header of `table`'s root page, as a torn or rotten page would. */
function damageRootPage(path: string, table: string): void {
  const db = new DatabaseSync(path);
  const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = ?").get(
    table,
  ) as { rootpage: number };
  const pageSize = Number(Object.values(db.prepare("PRAGMA page_size").get()!)[0]);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  const bytes = Deno.readFileSync(path);
  bytes.fill(0xff, (rootpage - 1) * pageSize, (rootpage - 1) * pageSize + 64);
  Deno.writeFileSync(path, bytes);
}

Deno.test("a corrupt file is refused before the first write (nothing written); integrityCheck none skips the check", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/runs.sqlite`;
    const store = openStore(path);
    const agent = defineAgent({ name: "a", initialState: () => ({}), step: () => 1 });
    await startRun(agent, { store, runId: "r" });
    store.close();
    damageRootPage(path, "steps");
    const before = await Deno.readFile(path);
    assert.throws(
      () => openStore(path),
      (e: unknown) =>
        e instanceof CorruptDatabaseError &&
        /^database .*runs\.sqlite is corrupt \(SQLite quick_check: .*\); nothing was written to it/
          .test(e.message) &&
        !e.message.includes("\n"),
    );
    assert.deepEqual(await Deno.readFile(path), before, "the file is unchanged");
    assert.throws(() => Deno.statSync(`${path}-wal`), Deno.errors.NotFound);
    // Without the check the runs table, which is intact, still reads.
    const unchecked = openStore(path, { integrityCheck: "none" });
    assert.equal(unchecked.getRun("r")?.status, "completed");
    unchecked.close();
  });
});

Deno.test("readOnly opens without writing: reads work, writes throw, an older schema is named", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/runs.sqlite`;
    const store = openStore(path);
    const agent = defineAgent({ name: "a", initialState: () => ({}), step: () => 1 });
    await startRun(agent, { store, runId: "r" });
    store.close();
    const before = await Deno.readFile(path);
    const ro = openStore(path, { readOnly: true });
    assert.equal(ro.getRun("r")?.status, "completed");
    assert.throws(() => ro.deleteRun("r"), /readonly/);
    ro.close();
    assert.deepEqual(await Deno.readFile(path), before);
    assert.throws(() => openStore(`${dir}/none.sqlite`, { readOnly: true }), /does not exist/);
    const old = new DatabaseSync(path);
    old.exec("PRAGMA user_version = 1");
    old.close();
    assert.throws(
      () => openStore(path, { readOnly: true }),
      /has schema version 1 and is opened read-only; open it once with write access/,
    );
  });
});

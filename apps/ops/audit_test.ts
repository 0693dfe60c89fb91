import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore, type Store } from "@loom/runner";
import { AuditLog, canonicalJson, toJsonLines } from "./audit.ts";
import { storeAnchor } from "./audit_anchor.ts";
import { type AuditKey, loadAuditKey } from "./audit_key.ts";
import { verifyAudit } from "./audit_verify.ts";
import { openOpsDb, OpsDbError } from "./ops_db.ts";

/** A temporary runner database, its ops file and an audit key: `path` is the ops file. */
interface Files {
  path: string;
  store: Store;
  key: AuditKey;
  /** An audit log on a fresh connection to the ops file, anchored in the store. */
  log(db: DatabaseSync): AuditLog;
  /** `audit --verify` of the files as they are. */
  verify(): ReturnType<typeof verifyAudit>;
}

async function withDb(fn: (f: Files) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-audit-" });
  const store = openStore(`${dir}/ops.sqlite`);
  try {
    const key = (await loadAuditKey(`${dir}/audit.key`, { create: true }))!;
    const path = `${dir}/ops.sqlite.ops`;
    await fn({
      path,
      store,
      key,
      log: (db) =>
        new AuditLog(db, { key: () => Promise.resolve(key), anchor: storeAnchor(store) }),
      verify: () => verifyAudit({ opsPath: path, store, key, keyPath: key.path }),
    });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("entries chain and verify; listing covers sub-runs", async () => {
  await withDb(async (f) => {
    const db = openOpsDb(f.path);
    const log = f.log(db);
    await log.append({ runId: "dep-7", kind: "run.started", actor: "loom-ops" });
    await log.append({
      runId: "dep-7:executor",
      kind: "command.finished",
      actor: "loom-ops",
      step: "a",
      data: { argv: ["x"], exitCode: 0 },
    });
    await log.append({ runId: "dep-70", kind: "run.started", actor: "loom-ops" });
    await log.append({
      runId: "dep-7",
      kind: "approval.granted",
      actor: "alice",
      step: "a",
      data: { by: "alice" },
    });
    assert.deepEqual(log.list("dep-7").map((e) => e.seq), [1, 2, 4]);
    assert.equal(log.list().length, 4);
    assert.deepEqual(await f.verify(), { ok: true, entries: 4, anchored: 4, runs: 0 });
    const lines = toJsonLines(log.list("dep-7")).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[1].data.exitCode, 0);
    db.close();
  });
});

Deno.test("UPDATE and DELETE are refused; editing after dropping the trigger is detected", async () => {
  await withDb(async (f) => {
    const db = openOpsDb(f.path);
    const log = f.log(db);
    for (let i = 0; i < 5; i++) {
      await log.append({
        runId: "r",
        kind: "command.finished",
        actor: "loom-ops",
        data: { exitCode: i },
      });
    }
    db.close();
    const raw = new DatabaseSync(f.path);
    assert.throws(
      () => raw.exec("UPDATE ops_audit SET actor = 'mallory' WHERE seq = 3"),
      /append-only/,
    );
    assert.throws(() => raw.exec("DELETE FROM ops_audit WHERE seq = 3"), /append-only/);
    raw.exec("DROP TRIGGER ops_audit_no_update");
    raw.exec(`UPDATE ops_audit SET data = '{"exitCode":0}' WHERE seq = 3`);
    raw.close();
    const report = await f.verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBad?.seq, 3);
    assert.match(report.firstBad!.reason, /edited/);
  });
});

Deno.test("deleting a row in the middle is detected", async () => {
  await withDb(async (f) => {
    const db = openOpsDb(f.path);
    const log = f.log(db);
    for (let i = 0; i < 4; i++) await log.append({ runId: "r", kind: "plan", actor: "loom-ops" });
    db.exec("DROP TRIGGER ops_audit_no_delete");
    db.exec("DELETE FROM ops_audit WHERE seq = 2");
    const report = await f.verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBad?.seq, 3);
    db.close();
  });
});

Deno.test("canonical JSON sorts keys at every level", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 1 }], c: null } }),
    '{"a":{"c":null,"d":[1,{"e":1,"f":2}]},"b":1}',
  );
});

Deno.test("a foreign SQLite file is refused, and a missing one is not created on request", async () => {
  await withDb(({ path }) => {
    const other = new DatabaseSync(path);
    other.exec("CREATE TABLE users (id INTEGER)");
    other.close();
    assert.throws(() => openOpsDb(path), OpsDbError);
    assert.throws(
      () => openOpsDb(`${path}.missing`, { create: false }),
      /no loom-ops audit database/,
    );
  });
});

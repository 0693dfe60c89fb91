import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { AuditLog, canonicalJson, toJsonLines } from "./audit.ts";
import { openOpsDb, OpsDbError } from "./ops_db.ts";

async function withDb(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-audit-" });
  try {
    await fn(`${dir}/ops.sqlite.ops`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("entries chain and verify; listing covers sub-runs", async () => {
  await withDb((path) => {
    const db = openOpsDb(path);
    const log = new AuditLog(db);
    log.append({ runId: "dep-7", kind: "run.started", actor: "loom-ops" });
    log.append({
      runId: "dep-7:executor",
      kind: "command.finished",
      actor: "loom-ops",
      step: "a",
      data: { argv: ["x"], exitCode: 0 },
    });
    log.append({ runId: "dep-70", kind: "run.started", actor: "loom-ops" });
    log.append({
      runId: "dep-7",
      kind: "approval.granted",
      actor: "alice",
      step: "a",
      data: { by: "alice" },
    });
    assert.deepEqual(log.list("dep-7").map((e) => e.seq), [1, 2, 4]);
    assert.equal(log.list().length, 4);
    assert.deepEqual(log.verify(), { ok: true, entries: 4 });
    const lines = toJsonLines(log.list("dep-7")).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[1].data.exitCode, 0);
    db.close();
  });
});

Deno.test("UPDATE and DELETE are refused; editing after dropping the trigger is detected", async () => {
  await withDb((path) => {
    const db = openOpsDb(path);
    const log = new AuditLog(db);
    for (let i = 0; i < 5; i++) {
      log.append({
        runId: "r",
        kind: "command.finished",
        actor: "loom-ops",
        data: { exitCode: i },
      });
    }
    db.close();
    const raw = new DatabaseSync(path);
    assert.throws(
      () => raw.exec("UPDATE ops_audit SET actor = 'mallory' WHERE seq = 3"),
      /append-only/,
    );
    assert.throws(() => raw.exec("DELETE FROM ops_audit WHERE seq = 3"), /append-only/);
    raw.exec("DROP TRIGGER ops_audit_no_update");
    raw.exec(`UPDATE ops_audit SET data = '{"exitCode":0}' WHERE seq = 3`);
    raw.close();
    const report = new AuditLog(openOpsDb(path)).verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBad?.seq, 3);
    assert.match(report.firstBad!.reason, /edited/);
  });
});

Deno.test("deleting a row in the middle is detected", async () => {
  await withDb((path) => {
    const db = openOpsDb(path);
    const log = new AuditLog(db);
    for (let i = 0; i < 4; i++) log.append({ runId: "r", kind: "plan", actor: "loom-ops" });
    db.exec("DROP TRIGGER ops_audit_no_delete");
    db.exec("DELETE FROM ops_audit WHERE seq = 2");
    const report = log.verify();
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
  await withDb((path) => {
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

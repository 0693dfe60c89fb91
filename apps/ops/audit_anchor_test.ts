/**
 * An audit trail that cannot be wiped quietly (issue 15): `audit --verify` never writes, knows
 * the runs of the runner database, finds cut-off entries through the anchors in the runner
 * database, and finds edited entries through the keyed hash, even when the chain is recomputed.
 * Everything goes through the real CLI entry point against real files.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "@loom/runner";
import { type AuditEntry, AuditLog, hashedText, toEntry } from "./audit.ts";
import { ANCHOR_RUN_ID, storeAnchor } from "./audit_anchor.ts";
import { loadAuditKey } from "./audit_key.ts";
import { verifyAudit } from "./audit_verify.ts";
import { main } from "./main.ts";
import { openOpsDb } from "./ops_db.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

class Files {
  constructor(readonly dir: string) {}
  get db(): string {
    return `${this.dir}/ops.sqlite`;
  }
  get ops(): string {
    return `${this.db}.ops`;
  }
  get key(): string {
    return `${this.dir}/keys/audit.key`;
  }
  async cli(args: string[]): Promise<Cli> {
    let stdout = "";
    let stderr = "";
    const code = await main([...args, "--db", this.db, "--audit-key", this.key], {
      out: (t) => (stdout += t + "\n"),
      err: (t) => (stderr += t + "\n"),
    });
    return { code, stdout, stderr };
  }
  /** A mock run of the restart runbook, approved, so it completes: about 20 audit entries. */
  async run(runId: string): Promise<void> {
    ok(
      await this.cli([
        "runbook",
        `${OPS_DIR}/runbooks/restart-service.yaml`,
        "--run-id",
        runId,
        "--workspace",
        OPS_DIR,
        "--state-dir",
        `${this.dir}/state`,
      ]),
    );
    ok(await this.cli(["approve", "--run-id", runId, "--step", "restart", "--by", "alice"]));
  }
  /** Runs `sql` on the ops file with its append-only triggers dropped, as an attacker would. */
  tamper(sql: string): void {
    const db = new DatabaseSync(this.ops);
    try {
      db.exec("DROP TRIGGER IF EXISTS ops_audit_no_update");
      db.exec("DROP TRIGGER IF EXISTS ops_audit_no_delete");
      db.exec(sql);
    } finally {
      db.close();
    }
  }
  entries(): AuditEntry[] {
    const db = new DatabaseSync(this.ops, { readOnly: true });
    try {
      return db.prepare("SELECT * FROM ops_audit ORDER BY seq").all().map(toEntry);
    } finally {
      db.close();
    }
  }
  tables(): string[] {
    const db = new DatabaseSync(this.ops, { readOnly: true });
    try {
      return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
        .map((r) => String(r.name));
    } finally {
      db.close();
    }
  }
}

async function withFiles(fn: (f: Files) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-anchor-" });
  try {
    await fn(new Files(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ok(r: Cli, code = 0): void {
  assert.equal(r.code, code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("verify never writes: a dropped audit table is reported, not re-created", async () => {
  await withFiles(async (f) => {
    await f.run("r-1");
    const intact = await f.cli(["audit", "--verify"]);
    ok(intact);
    const n = f.entries().length;
    assert.match(
      intact.stdout,
      new RegExp(`^audit chain intact: ${n} entries verified \\(HMAC-SHA256; ${n} anchored`),
    );
    f.tamper("DROP TABLE ops_audit");
    const dropped = await f.cli(["audit", "--verify"]);
    ok(dropped, 1);
    assert.equal(
      dropped.stderr,
      `error: audit trail not intact: the audit table of ${f.ops} is missing (dropped), but the runner database anchors ${n} entries and knows 1 loom-ops runs\n`,
    );
    assert.ok(!f.tables().includes("ops_audit"), "verify did not re-create the table");
    // A command that would write refuses too, instead of starting an empty trail.
    const resumed = await f.cli(["resume", "--run-id", "r-1"]);
    ok(resumed, 2);
    assert.match(resumed.stderr, /^error: the audit table of .* is missing \(dropped\?\)/);
    assert.ok(!f.tables().includes("ops_audit"));
  });
});

Deno.test("verify never writes: a deleted audit file is reported, not re-created", async () => {
  await withFiles(async (f) => {
    await f.run("r-1");
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(f.ops + suffix).catch(() => {});
    const gone = await f.cli(["audit", "--verify"]);
    ok(gone, 1);
    assert.match(gone.stderr, /^error: audit trail not intact: the audit file .* is missing, but/);
    assert.equal(await exists(f.ops), false, "verify did not create the file");
    for (const args of [["resume", "--run-id", "r-1"], ["audit", "--run-id", "r-1"]]) {
      const r = await f.cli(args);
      ok(r, 2);
      assert.match(r.stderr, /the audit file .* is missing, but .* records entries of it/);
      assert.equal(await exists(f.ops), false, `${args[0]} did not create the file`);
    }
  });
});

Deno.test("a run the runner database knows, with no audit entries, fails verification", async () => {
  await withFiles(async (f) => {
    await f.run("r-1");
    // Someone empties the audit file and also deletes the anchors from the runner database,
    // but leaves the runs: the runs alone give it away.
    f.tamper("DELETE FROM ops_audit");
    const runner = new DatabaseSync(f.db);
    runner.exec(`DELETE FROM events WHERE run_id = '${ANCHOR_RUN_ID}'`);
    runner.close();
    const r = await f.cli(["audit", "--verify"]);
    ok(r, 1);
    assert.equal(
      r.stderr,
      "error: audit trail not intact: run r-1 is in the runner database but has no audit entries\n",
    );
  });
});

Deno.test("cutting the newest entries is detected through the anchors", async () => {
  await withFiles(async (f) => {
    await f.run("r-1");
    const n = f.entries().length;
    f.tamper(`DELETE FROM ops_audit WHERE seq > ${n - 3}`);
    const r = await f.cli(["audit", "--verify"]);
    ok(r, 1);
    assert.equal(
      r.stderr,
      `error: audit trail not intact: the newest entries were removed: the runner database anchors ${n} entries, the audit file has ${
        n - 3
      }\n`,
    );
  });
});

Deno.test("an edited entry with the chain recomputed is detected, with or without the key", async () => {
  await withFiles(async (f) => {
    await f.run("r-1");
    const entries = f.entries();
    const target = entries.find((e) => e.kind === "approval.granted")!;
    /** Rewrites the entry as mallory's and re-chains everything after it with `hash`. */
    const rechain = async (hash: (text: string) => Promise<string> | string) => {
      let prev = entries[target.seq - 2].hash;
      const sql: string[] = [];
      for (const e of entries.slice(target.seq - 1)) {
        const body = e.seq === target.seq ? { ...e, actor: "mallory" } : e;
        const { hash: _h, prevHash: _p, ...rest } = body;
        const h = await hash(hashedText(prev, rest));
        sql.push(
          `UPDATE ops_audit SET actor = '${body.actor}', prev_hash = '${prev}', hash = '${h}' WHERE seq = ${e.seq}`,
        );
        prev = h;
      }
      f.tamper(sql.join(";\n"));
    };
    // Without the key: the project's old, unkeyed hash (sha256) no longer verifies.
    await rechain((text) => createHash("sha256").update(text).digest("hex"));
    const unkeyed = await f.cli(["audit", "--verify"]);
    ok(unkeyed, 1);
    assert.equal(
      unkeyed.stderr,
      `error: audit chain broken at entry ${target.seq}: its content does not match its hash (edited)\n`,
    );
    // Even with the key, the anchors kept in the runner database no longer match.
    const key = (await loadAuditKey(f.key, { create: false }))!;
    await rechain((text) => key.sign(text));
    const keyed = await f.cli(["audit", "--verify"]);
    ok(keyed, 1);
    assert.equal(
      keyed.stderr,
      `error: audit trail not intact: entry ${target.seq} does not match its anchor in the runner database (the chain was rewritten)\n`,
    );
    assert.equal(f.entries().find((e) => e.seq === target.seq)?.actor, "mallory");
  });
});

Deno.test("the audit key: created 0600 outside both databases, never by verify, and the right one is required", async () => {
  await withFiles(async (f) => {
    const dry = ["runbook", "--dry-run", `${OPS_DIR}/runbooks/restart-service.yaml`];
    ok(await f.cli([...dry, "--workspace", OPS_DIR]));
    assert.equal(await exists(f.key), false, "a dry run creates no key");
    await f.run("r-1");
    assert.equal((await Deno.stat(f.key)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${f.dir}/keys`)).mode! & 0o777, 0o700);
    const text = await Deno.readTextFile(f.key);
    for (const db of [f.db, f.ops]) {
      const bytes = await Deno.readFile(db);
      assert.ok(!new TextDecoder("latin1").decode(bytes).includes(text.trim()), "key not stored");
    }
    // A key others can read is refused with the fix.
    await Deno.chmod(f.key, 0o644);
    const open = await f.cli(["audit", "--verify"]);
    ok(open, 2);
    assert.equal(
      open.stderr,
      `error: the audit key ${f.key} can be read by other users (mode 644); run chmod 600 ${f.key}\n`,
    );
    await Deno.chmod(f.key, 0o600);
    // No key: verify fails and a writing command refuses, and neither creates a new key.
    await Deno.rename(f.key, `${f.key}.real`);
    const noKey = await f.cli(["audit", "--verify"]);
    ok(noKey, 1);
    assert.match(noKey.stderr, /there is no audit key at .*; verify needs the key/);
    const finished = await f.cli(["resume", "--run-id", "r-1"]); // a finished run: nothing to append
    ok(finished);
    const start = (runId: string) =>
      f.cli([
        "runbook",
        `${OPS_DIR}/runbooks/restart-service.yaml`,
        "--run-id",
        runId,
        "--workspace",
        OPS_DIR,
      ]);
    const without = await start("r-2");
    ok(without, 2);
    assert.match(
      without.stderr,
      /^error: there is no audit key at .*, and the audit trail was signed with key id [0-9a-f]{16}/,
    );
    assert.equal(await exists(f.key), false, "no command created a new key for a signed trail");
    // Another key: appending is refused, verify fails, both say so.
    await loadAuditKey(f.key, { create: true });
    const other = await start("r-3");
    ok(other, 2);
    assert.match(other.stderr, /^error: the audit trail was signed with another audit key/);
    const verify = await f.cli(["audit", "--verify"]);
    ok(verify, 1);
    assert.match(verify.stderr, /signed with another audit key \(id [0-9a-f]{16}\)/);
  });
});

Deno.test("appends from two connections at once stay one intact, anchored chain", async () => {
  await withFiles(async (f) => {
    const store = openStore(f.db);
    const key = (await loadAuditKey(f.key, { create: true }))!;
    const dbs = [openOpsDb(f.ops), openOpsDb(f.ops)];
    try {
      const logs = dbs.map((db) =>
        new AuditLog(db, { key: () => Promise.resolve(key), anchor: storeAnchor(store) })
      );
      await Promise.all(
        Array.from(
          { length: 40 },
          (_, i) =>
            logs[i % 2].append({ runId: `w${i % 2}`, kind: "plan", actor: "t", data: { i } }),
        ),
      );
      const report = await verifyAudit({ opsPath: f.ops, store, key, keyPath: f.key });
      assert.deepEqual(report, { ok: true, entries: 40, anchored: 40, runs: 0 });
    } finally {
      for (const db of dbs) db.close();
      store.close();
    }
  });
});

Deno.test("a trail from before the keyed chain is not appended to, and is checked as a legacy chain", async () => {
  await withFiles(async (f) => {
    const store = openStore(f.db);
    const key = (await loadAuditKey(f.key, { create: true }))!;
    const db = openOpsDb(f.ops);
    try {
      db.exec(`UPDATE ops_meta SET value = 'loom-ops/1' WHERE key = 'format'`);
      db.exec(
        `INSERT INTO ops_audit (seq, run_id, ts, kind, actor, step, data, prev_hash, hash)
         VALUES (1, 'old', '2024-01-01T00:00:00.000Z', 'plan', 'x', NULL, '{}', '${
          "0".repeat(64)
        }', 'abc')`,
      );
      const log = new AuditLog(db, { key: () => Promise.resolve(key) });
      await assert.rejects(
        log.append({ runId: "new", kind: "plan", actor: "x" }),
        /before the keyed hash chain \(loom-ops\/1\) and cannot be appended to/,
      );
      // Its one entry's hash is not the sha256 of its content (legacy_audit_test.ts has a real
      // trail of the previous loom-ops).
      const report = await verifyAudit({ opsPath: f.ops, store, key, keyPath: f.key });
      assert.equal(report.ok, false);
      assert.equal(report.legacy?.format, "loom-ops/1");
      assert.deepEqual(report.firstBad, {
        seq: 1,
        reason: "its content does not match its hash (edited)",
      });
    } finally {
      db.close();
      store.close();
    }
  });
});

/**
 * The ops database: loom-ops' own tables (audit trail, workspace memory), all prefixed `ops_`.
 * They live in a sibling file of the runner's database (`ops.sqlite` → `ops.sqlite.ops`), so the
 * runner's schema checks and migrations never see a foreign table and either file can be
 * inspected on its own.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** The ops file that belongs to a runner database path. */
export function opsDbPath(runnerDbPath: string): string {
  return `${runnerDbPath}.ops`;
}

/**
 * The format of the ops file: `loom-ops/2` chains audit entries with a keyed hash (HMAC);
 * `loom-ops/1` files used a plain sha256 chain and can be listed but not appended to.
 */
export const OPS_FORMAT = "loom-ops/2";

/**
 * The format of ops files written before the keyed chain: each entry's hash is a plain sha256 of
 * the previous hash and the entry. Such a trail is listed and verified (as a legacy chain, with
 * the weaker guarantee that gives), never appended to.
 */
export const LEGACY_FORMAT = "loom-ops/1";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ops_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ops_audit (
  seq INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  ts TEXT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  step TEXT,
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  once_key TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS ops_audit_run ON ops_audit (run_id, seq);
CREATE TRIGGER IF NOT EXISTS ops_audit_no_update BEFORE UPDATE ON ops_audit
  BEGIN SELECT RAISE(ABORT, 'ops_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ops_audit_no_delete BEFORE DELETE ON ops_audit
  BEGIN SELECT RAISE(ABORT, 'ops_audit is append-only'); END;
CREATE VIRTUAL TABLE IF NOT EXISTS ops_memory USING fts5(
  run_id UNINDEXED, created UNINDEXED, incident, actions, outcome
);
`;

/** Thrown when a file exists but is not an ops database. */
export class OpsDbError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OpsDbError";
  }
}

/**
 * Opens (and creates, unless `create` is false) the ops database. WAL and a busy timeout let the
 * CLI, the server and the gateway append to it at the same time. An existing ops file whose
 * audit table is gone is refused, not silently given a new, empty one.
 */
export function openOpsDb(path: string, options: { create?: boolean } = {}): DatabaseSync {
  let exists = true;
  try {
    Deno.statSync(path);
  } catch {
    exists = false;
  }
  if (!exists && options.create === false) {
    throw new OpsDbError(`no loom-ops audit database at ${path}`);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 5000");
    if (exists) checkExisting(db, path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(SCHEMA);
    db.prepare("INSERT OR IGNORE INTO ops_meta (key, value) VALUES ('format', ?)").run(OPS_FORMAT);
    // A file of the first format with no entries yet simply starts a keyed chain.
    db.prepare(
      "UPDATE ops_meta SET value = ? WHERE key = 'format' AND NOT EXISTS (SELECT 1 FROM ops_audit)",
    ).run(OPS_FORMAT);
  } catch (e) {
    if (e instanceof OpsDbError) throw e;
    throw new OpsDbError(`cannot open ${path} as a loom-ops database (${(e as Error).message})`);
  }
  return db;
}

/** Refuses a file that is not an ops database, or one whose audit table was dropped. */
function checkExisting(db: DatabaseSync, path: string): void {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    .map((r) => String(r.name));
  if (tables.length && !tables.includes("ops_meta")) {
    db.close();
    throw new OpsDbError(`${path} is not a loom-ops database`);
  }
  if (tables.includes("ops_meta") && !tables.includes("ops_audit")) {
    db.close();
    throw new OpsDbError(
      `the audit table of ${path} is missing (dropped?); restore the file from a backup (audit --verify reports what is lost)`,
    );
  }
}

/** Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`, rolling back if it throws. */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

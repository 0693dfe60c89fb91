/**
 * The PostgreSQL store's schema: the tables, the functions and triggers that wake idle workers,
 * its version in the `loom_meta` table, and `migrateSchema`, which checks that a schema is a Loom
 * store (or creates one) and brings it to the current version.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";
import type { Sql, Tx } from "./_db.ts";

/** Current schema version of the PostgreSQL store. */
export const PG_SCHEMA_VERSION = 4;
/** Default schema a store lives in. */
export const DEFAULT_PG_SCHEMA = "loom";
/** Channel of the work notifications (the triggers below `NOTIFY` it). */
export const WORK_CHANNEL = "loom_work";
/** Valid schema names: lower-case letters, digits and `_`, as PostgreSQL keeps them unquoted. */
export const SCHEMA_NAME: RegExp = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema migrations: index i brings a schema from version i to i+1. */
const MIGRATIONS: string[] = [
  // 0 -> 1: the first schema.
  `
  CREATE TABLE loom_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    agent_name TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    agent_hash TEXT,
    status TEXT NOT NULL,
    parent_run_id TEXT,
    parent_step INTEGER,
    fork_of_run_id TEXT,
    fork_of_step INTEGER,
    first_step INTEGER NOT NULL,
    initial_state TEXT NOT NULL,
    input TEXT,
    result TEXT,
    error TEXT,
    error_category TEXT,
    waiting TEXT,
    policy TEXT NOT NULL,
    patched_step INTEGER,
    patched_state TEXT,
    lease_owner TEXT,
    lease_expires BIGINT,
    retry_step INTEGER,
    retry_base INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    claimed_until BIGINT
  );
  CREATE INDEX runs_by_status ON runs(status, updated_at);
  CREATE INDEX runs_by_updated ON runs(updated_at);
  CREATE INDEX runs_by_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
  CREATE INDEX runs_unfinished ON runs(updated_at)
    WHERE parent_run_id IS NULL AND status IN ('queued', 'running', 'paused', 'waiting');
  CREATE TABLE steps (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    state TEXT,
    PRIMARY KEY (run_id, step)
  );
  CREATE TABLE attempts (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    scope TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    error TEXT NOT NULL,
    error_type TEXT NOT NULL,
    category TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    retry_at BIGINT,
    PRIMARY KEY (run_id, step, scope, attempt)
  );
  CREATE TABLE tool_calls (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT,
    args_hash TEXT,
    status TEXT NOT NULL,
    result TEXT,
    result_bytes INTEGER,
    result_hash TEXT,
    capped BOOLEAN NOT NULL DEFAULT false,
    error TEXT,
    category TEXT,
    attempts INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION,
    deadline BIGINT,
    PRIMARY KEY (run_id, key)
  );
  CREATE INDEX tool_calls_by_step ON tool_calls(run_id, step);
  CREATE TABLE signals (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    consumed_by TEXT,
    rejected TEXT,
    PRIMARY KEY (run_id, seq)
  );
  CREATE TABLE events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (run_id, seq)
  );

  -- True when what a waiting run waits for is over (signal arrived or timed out, timer due, child
  -- runnable or finished). Mirrors the engine's own "still waiting" test on resume.
  CREATE FUNCTION loom_wait_over(p_run TEXT, p_waiting TEXT, p_now BIGINT, p_depth INTEGER)
  RETURNS BOOLEAN LANGUAGE plpgsql STABLE AS $fn$
  DECLARE
    w JSONB;
    c RECORD;
  BEGIN
    IF p_waiting IS NULL THEN RETURN true; END IF;
    w := p_waiting::jsonb;
    IF w->>'kind' = 'timer' THEN
      RETURN (w->>'wakeAt')::bigint <= p_now;
    ELSIF w->>'kind' = 'signal' THEN
      RETURN ((w->>'deadline') IS NOT NULL AND (w->>'deadline')::bigint <= p_now)
        OR EXISTS (SELECT 1 FROM signals s WHERE s.run_id = p_run AND s.name = w->>'name'
                     AND s.consumed_by IS NULL AND s.rejected IS NULL);
    ELSIF w->>'kind' = 'child' THEN
      SELECT status, waiting, lease_owner, lease_expires INTO c FROM runs
        WHERE run_id = w->>'childRunId';
      IF NOT FOUND THEN RETURN true; END IF;
      IF c.status = 'waiting' THEN
        IF p_depth > 32 THEN RETURN false; END IF;
        RETURN loom_wait_over(w->>'childRunId', c.waiting, p_now, p_depth + 1);
      END IF;
      RETURN c.status <> 'running' OR c.lease_owner IS NULL OR c.lease_expires < p_now;
    END IF;
    RETURN true;
  END
  $fn$;

  -- Wake idle workers (LISTEN loom_work) when a run may have become runnable or finished.
  CREATE FUNCTION loom_notify_work() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM pg_notify('loom_work', TG_TABLE_SCHEMA);
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER runs_paused AFTER INSERT ON runs FOR EACH ROW
    WHEN (NEW.status = 'paused') EXECUTE FUNCTION loom_notify_work();
  -- A queued run wakes workers once its "queued" event is written (enqueueRun writes the run,
  -- then the event), so its history does not start with a worker's "resumed".
  CREATE TRIGGER events_queued AFTER INSERT ON events FOR EACH ROW
    WHEN (NEW.kind = 'queued') EXECUTE FUNCTION loom_notify_work();
  CREATE TRIGGER runs_status AFTER UPDATE OF status ON runs FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'running')
    EXECUTE FUNCTION loom_notify_work();
  CREATE TRIGGER signals_added AFTER INSERT ON signals FOR EACH ROW
    EXECUTE FUNCTION loom_notify_work();

  -- A worker's claim ends when the run it claimed stops running (paused, waiting, finished).
  CREATE FUNCTION loom_end_claim() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    NEW.claimed_until := NULL;
    RETURN NEW;
  END
  $fn$;
  CREATE TRIGGER runs_end_claim BEFORE UPDATE OF status ON runs FOR EACH ROW
    WHEN (NEW.status <> 'running' AND OLD.claimed_until IS NOT NULL)
    EXECUTE FUNCTION loom_end_claim();
  `,
  // 1 -> 2, one vocabulary (issue 12): "calls" (tool calls, signal waits, timers, child runs),
  // "failed attempts", "error_category" everywhere, and when a run ended.
  `
  ALTER TABLE tool_calls RENAME TO calls;
  ALTER TABLE calls RENAME CONSTRAINT tool_calls_pkey TO calls_pkey;
  ALTER TABLE calls RENAME COLUMN category TO error_category;
  ALTER INDEX tool_calls_by_step RENAME TO calls_by_step;
  ALTER TABLE attempts RENAME TO failed_attempts;
  ALTER TABLE failed_attempts RENAME CONSTRAINT attempts_pkey TO failed_attempts_pkey;
  ALTER TABLE failed_attempts RENAME COLUMN category TO error_category;
  ALTER TABLE runs ADD COLUMN ended_at BIGINT;
  UPDATE runs SET ended_at = updated_at WHERE status IN ('completed', 'failed', 'cancelled');
  `,
  // 2 -> 3, behind a transaction pooler (issue 18): no SQL may depend on the session's
  // search_path, which a pooler such as pgbouncer does not keep. The store's own statements name
  // the schema; the function's body, which names tables, runs with the schema it was created in
  // (the migration's SET LOCAL search_path).
  `
  ALTER FUNCTION loom_wait_over(TEXT, TEXT, BIGINT, INTEGER) SET search_path FROM CURRENT;
  `,
  // 3 -> 4, delta checkpoints (issue 13): a step's checkpoint is kept whole (state) or as a
  // delta against the checkpoint of the step before (delta). Existing rows are all whole. Also an
  // index by agent for Loom Studio's agent filter (issue 17).
  `
  ALTER TABLE steps ADD COLUMN delta TEXT;
  CREATE INDEX runs_by_agent ON runs(agent_name, updated_at);
  `,
];

/**
 * The store's tables and functions, each named with its schema: no statement depends on the
 * session's `search_path` (a transaction pooler such as pgbouncer does not keep session settings,
 * and a pooler that ignores the startup parameter would silently use `public`).
 */
export interface Tables {
  /** The schema. */
  schema: string;
  /** `schema.runs`. */
  runs: string;
  /** `schema.steps`. */
  steps: string;
  /** `schema.failed_attempts`. */
  failedAttempts: string;
  /** `schema.calls`. */
  calls: string;
  /** `schema.signals`. */
  signals: string;
  /** `schema.events`. */
  events: string;
  /** `schema.loom_meta`. */
  meta: string;
  /** `schema.loom_wait_over`, the function. */
  waitOver: string;
}

/** The qualified names of a store's tables (`schema` must match `SCHEMA_NAME`). */
export function tablesOf(schema: string): Tables {
  if (!SCHEMA_NAME.test(schema)) throw new RunnerError(`invalid schema name ${schema}`);
  return {
    schema,
    runs: `${schema}.runs`,
    steps: `${schema}.steps`,
    failedAttempts: `${schema}.failed_attempts`,
    calls: `${schema}.calls`,
    signals: `${schema}.signals`,
    events: `${schema}.events`,
    meta: `${schema}.loom_meta`,
    waitOver: `${schema}.loom_wait_over`,
  };
}

/**
 * Checks that `schema` is a Loom store, or creates it when allowed, and migrates it to
 * `PG_SCHEMA_VERSION`, in one transaction under an advisory lock (two workers starting at once
 * migrate once). `where` names the store in messages.
 *
 * @throws {RunnerError} When the schema is missing (and `create` is false), holds other tables,
 * is not a Loom store, or has a newer version.
 */
export async function migrateSchema(
  sql: Sql,
  schema: string,
  where: string,
  create: boolean,
): Promise<void> {
  await sql.begin(async (tx) => {
    // A lost migration is redone at the next open: no need to wait for its flush to disk.
    await tx.unsafe("SET LOCAL synchronous_commit = off");
    // Two workers starting at once must not both create the tables.
    await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`loom-migrate:${schema}`]);
    const version = await schemaVersion(tx, schema, where, create);
    if (version > PG_SCHEMA_VERSION) {
      throw new RunnerError(
        `${where} has schema version ${version}, newer than this runner supports (${PG_SCHEMA_VERSION}); upgrade @loom/runner`,
      );
    }
    if (version === PG_SCHEMA_VERSION) return;
    // The migrations' DDL names no schema: it runs in this transaction's search_path only (SET
    // LOCAL holds behind a transaction pooler too), and pg_temp last so nothing shadows it.
    await tx.unsafe(`SET LOCAL search_path TO ${schema}, pg_catalog, pg_temp`);
    for (let v = version; v < PG_SCHEMA_VERSION; v++) await tx.unsafe(MIGRATIONS[v]);
    await tx.unsafe(
      `INSERT INTO ${tablesOf(schema).meta} (key, value)
       VALUES ('application', 'loom'), ('schema_version', $1)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      [String(PG_SCHEMA_VERSION)],
    );
  });
}

/** The version of a Loom schema, 0 for a new (or created) empty one; refuses foreign schemas. */
async function schemaVersion(
  tx: Tx,
  schema: string,
  where: string,
  create: boolean,
): Promise<number> {
  const [{ exists }] = await tx.unsafe(
    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists",
    [schema],
  );
  if (!exists) {
    if (!create) throw new RunnerError(`no Loom store at ${where}`);
    await tx.unsafe(`CREATE SCHEMA ${schema}`);
  }
  const tables = await tx.unsafe(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1",
    [schema],
  );
  const names = new Set(tables.map((t) => t.name as string));
  if (names.has("loom_meta")) {
    const rows = await tx.unsafe(`SELECT key, value FROM ${tablesOf(schema).meta}`);
    const meta = new Map(rows.map((r) => [r.key as string, r.value as string]));
    if (meta.get("application") !== "loom") throw new RunnerError(`${where} is not a Loom store`);
    return Number(meta.get("schema_version") ?? 0);
  }
  if (names.size > 0) {
    throw new RunnerError(`${where} is not a Loom store (the schema holds other tables)`);
  }
  if (!create) throw new RunnerError(`no Loom store at ${where}`);
  return 0;
}

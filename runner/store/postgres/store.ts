/**
 * The PostgreSQL store (`npm:postgres`), for many worker processes on many machines sharing one
 * durable store. Same `Store` semantics as SQLite: one transaction per transition, every write of
 * an advancing run guarded by its lease. This is the only module that imports the PostgreSQL
 * client; `store/open.ts` loads it dynamically, so SQLite users load nothing extra.
 *
 * Each store lives in one PostgreSQL schema (default `loom`, set per connection with
 * `search_path`), so tests and several deployments can share one database. Schema version and
 * the Loom marker live in the `loom_meta` table. Triggers send `NOTIFY loom_work` (payload: the
 * schema name) when a run may have become runnable, so idle workers `LISTEN` instead of polling.
 *
 * @module
 */
import postgres from "npm:postgres@^3.4.9";
import { RunnerError } from "../../errors.ts";
import type {
  AttemptRecord,
  CallRecord,
  EventRecord,
  LeaseResult,
  Page,
  RunPatch,
  RunRecord,
  RunStatus,
  SignalRecord,
  StepRecord,
  StepStats,
  Store,
} from "../store.ts";
import type { ClaimedRun, WorkQueue } from "../work_queue.ts";

export type { ClaimedRun, WorkQueue } from "../work_queue.ts";

/** Current schema version of the PostgreSQL store. */
export const PG_SCHEMA_VERSION = 1;
/** Default schema a store lives in. */
export const DEFAULT_PG_SCHEMA = "loom";
/** Channel of the work notifications. */
export const WORK_CHANNEL = "loom_work";

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions {
  /**
   * Commit durability. `normal` (default): the server's `synchronous_commit`, normally `on` (a
   * commit is on disk before it returns); Loom never weakens it. `fsync`: forces `on` for the
   * session even when the server's default is lower.
   */
  durability?: "normal" | "fsync";
  /**
   * Explicit `synchronous_commit` for the session, overriding `durability`. `off` keeps every
   * commit safe from a killed worker but may lose the last fraction of a second if the
   * PostgreSQL server itself crashes; for benchmarks and users who choose that trade.
   */
  synchronousCommit?: "on" | "off";
  /** Create the schema and tables when missing (default true). Inspection passes false. */
  create?: boolean;
  /** Schema the store lives in (default `loom`): lower-case letters, digits and `_`. */
  schema?: string;
  /** Connection pool size (default 4). */
  maxConnections?: number;
}

/** A `npm:postgres` connection pool. */
export type Sql = postgres.Sql;
type Param = string | number | boolean | null;

/** Schema migrations: index i brings a schema from version i to i+1. */
const MIGRATIONS: string[] = [
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
];

const RUN_COLUMNS = `run_id AS "runId", agent_name AS "agentName",
  agent_version AS "agentVersion", agent_hash AS "agentHash", status,
  parent_run_id AS "parentRunId", parent_step AS "parentStep", fork_of_run_id AS "forkOfRunId",
  fork_of_step AS "forkOfStep", first_step AS "firstStep", initial_state AS "initialState", input,
  result, error, error_category AS "errorCategory", waiting, policy, patched_step AS "patchedStep",
  patched_state AS "patchedState", lease_owner AS "leaseOwner", lease_expires AS "leaseExpires",
  retry_step AS "retryStep", retry_base AS "retryBase", created_at AS "createdAt",
  updated_at AS "updatedAt"`;
const STEP_COLUMNS = `run_id AS "runId", step, attempt, started_at AS "startedAt",
  duration_ms AS "durationMs", state`;
const ATTEMPT_COLUMNS = `run_id AS "runId", step, scope, attempt, error,
  error_type AS "errorType", category, started_at AS "startedAt", duration_ms AS "durationMs",
  retry_at AS "retryAt"`;
const CALL_COLUMNS = `run_id AS "runId", key, step, kind, name, args, args_hash AS "argsHash",
  status, result, result_bytes AS "resultBytes", result_hash AS "resultHash", capped, error,
  category, attempts, started_at AS "startedAt", duration_ms AS "durationMs", deadline`;
const SIGNAL_COLUMNS = `run_id AS "runId", seq, name, data, sent_at AS "sentAt",
  consumed_by AS "consumedBy", rejected`;

const PATCH_COLUMNS: Record<keyof RunPatch, string> = {
  status: "status",
  result: "result",
  error: "error",
  errorCategory: "error_category",
  waiting: "waiting",
  agentVersion: "agent_version",
  agentHash: "agent_hash",
  patchedStep: "patched_step",
  patchedState: "patched_state",
  leaseOwner: "lease_owner",
  leaseExpires: "lease_expires",
  retryStep: "retry_step",
  retryBase: "retry_base",
};

/** The guarded insert of one transition: only while `owner` holds the lease of a running run. */
const COMMIT_STEP = `INSERT INTO steps (run_id, step, attempt, started_at, duration_ms, state)
  SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS
    (SELECT 1 FROM runs WHERE run_id = $1 AND lease_owner = $7 AND status = 'running' FOR SHARE)
  ON CONFLICT DO NOTHING`;

/** SQL for a list of texts passed as JSON text in parameter `$n` (no array type lookups needed). */
function textList(n: number): string {
  return `SELECT jsonb_array_elements_text($${n}::text::jsonb)`;
}

/** Top-level runs a worker may take: unleased (or lease expired), unclaimed, and not waiting on. */
const RUNNABLE = `parent_run_id IS NULL AND agent_name IN (${textList(1)})
  AND status IN ('queued', 'paused', 'running', 'waiting')
  AND (lease_owner IS NULL OR lease_expires < $2)
  AND (claimed_until IS NULL OR claimed_until < $2)
  AND (status <> 'waiting' OR loom_wait_over(run_id, waiting, $2, 0))`;

// int8 (counts, ms timestamps) as JS numbers: every value stored here fits in 2^53.
const INT8_AS_NUMBER = {
  to: 20,
  from: [20],
  serialize: (x: number) => String(x),
  parse: (x: string) => Number(x),
};

function limitClause(page: Page | undefined): string {
  const limit = page?.limit;
  const offset = Math.max(0, Math.floor(page?.offset ?? 0));
  return `${
    limit === undefined || limit < 0 ? "" : ` LIMIT ${Math.floor(limit)}`
  } OFFSET ${offset}`;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ":***@");
  }
}

function describe(e: unknown): string {
  const err = e as { message?: string; code?: string };
  return err?.message ?? err?.code ?? String(e);
}

/** The PostgreSQL implementation of `Store` (and of the worker's `WorkQueue`). */
export class PostgresStore implements Store, WorkQueue {
  /** The URL (password redacted) and schema, for messages. */
  readonly location: string;
  /** Schema the store lives in. */
  readonly schema: string;
  /** The connection pool (for tests and benchmarks). */
  readonly sql: Sql;
  #closed = false;

  private constructor(sql: Sql, location: string, schema: string) {
    this.sql = sql;
    this.location = location;
    this.schema = schema;
  }

  /** Connects, checks the schema is a Loom store (or creates it) and migrates it. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = options.schema ?? DEFAULT_PG_SCHEMA;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new RunnerError(
        `invalid schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`,
      );
    }
    const location = `${redactUrl(url)} (schema ${schema})`;
    const connection: Record<string, string> = {
      search_path: schema,
      application_name: `loom-runner ${schema}`,
    };
    const syncCommit = options.synchronousCommit ?? (options.durability === "fsync" ? "on" : null);
    if (syncCommit) connection.synchronous_commit = syncCommit;
    let sql: Sql;
    try {
      sql = postgres(url, {
        max: options.maxConnections ?? 4,
        onnotice: () => {},
        connection,
        types: { int8: INT8_AS_NUMBER },
        connect_timeout: 10,
        fetch_types: false,
      });
    } catch (e) {
      throw new RunnerError(`invalid PostgreSQL URL ${redactUrl(url)}: ${describe(e)}`);
    }
    const store = new PostgresStore(sql, location, schema);
    try {
      await store.#checkAndMigrate(options.create !== false);
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      if (e instanceof RunnerError) throw e;
      throw new RunnerError(`cannot open PostgreSQL store ${location}: ${describe(e)}`);
    }
    return store;
  }

  async #checkAndMigrate(create: boolean): Promise<void> {
    const sql = this.sql;
    const where = this.location;
    await sql.begin(async (tx) => {
      // A lost migration is redone at the next open: no need to wait for its flush to disk.
      await tx.unsafe("SET LOCAL synchronous_commit = off");
      // Two workers starting at once must not both create the tables.
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [
        `loom-migrate:${this.schema}`,
      ]);
      const [{ exists }] = await tx.unsafe(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists",
        [this.schema],
      );
      if (!exists) {
        if (!create) throw new RunnerError(`no Loom store at ${where}`);
        await tx.unsafe(`CREATE SCHEMA ${this.schema}`);
      }
      const tables = await tx.unsafe(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1",
        [this.schema],
      );
      const names = new Set(tables.map((t) => t.name as string));
      let version = 0;
      if (names.has("loom_meta")) {
        const rows = await tx.unsafe("SELECT key, value FROM loom_meta");
        const meta = new Map(rows.map((r) => [r.key as string, r.value as string]));
        if (meta.get("application") !== "loom") {
          throw new RunnerError(`${where} is not a Loom store`);
        }
        version = Number(meta.get("schema_version") ?? 0);
      } else if (names.size > 0) {
        throw new RunnerError(`${where} is not a Loom store (the schema holds other tables)`);
      } else if (!create) {
        throw new RunnerError(`no Loom store at ${where}`);
      }
      if (version > PG_SCHEMA_VERSION) {
        throw new RunnerError(
          `${where} has schema version ${version}, newer than this runner supports (${PG_SCHEMA_VERSION}); upgrade @loom/runner`,
        );
      }
      if (version === PG_SCHEMA_VERSION) return;
      for (let v = version; v < PG_SCHEMA_VERSION; v++) await tx.unsafe(MIGRATIONS[v]);
      await tx.unsafe(
        `INSERT INTO loom_meta (key, value) VALUES ('application', 'loom'), ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [String(PG_SCHEMA_VERSION)],
      );
    });
  }

  #q<T>(text: string, params: Param[] = [], on: Sql | postgres.TransactionSql = this.sql) {
    return on.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<
      T[] & { count: number }
    >;
  }

  async #all<T>(text: string, params: Param[] = []): Promise<T[]> {
    return Array.from(await this.#q<T>(text, params));
  }

  async #one<T>(text: string, params: Param[] = [], on?: Sql): Promise<T | undefined> {
    const rows = await this.#q<T>(text, params, on);
    return rows[0];
  }

  /** Closes the pool (waits up to 5 s for queries in flight). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.sql.end({ timeout: 5 });
  }

  /** Creates a run. */
  async createRun(r: RunRecord): Promise<void> {
    const rows = await this.#q(
      `INSERT INTO runs (run_id, agent_name, agent_version, agent_hash, status, parent_run_id,
        parent_step, fork_of_run_id, fork_of_step, first_step, initial_state, input, result, error,
        error_category, waiting, policy, patched_step, patched_state, lease_owner, lease_expires,
        retry_step, retry_base, created_at, updated_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,
        $24,$25)
       ON CONFLICT (run_id) DO NOTHING`,
      [
        r.runId,
        r.agentName,
        r.agentVersion,
        r.agentHash,
        r.status,
        r.parentRunId,
        r.parentStep,
        r.forkOfRunId,
        r.forkOfStep,
        r.firstStep,
        r.initialState,
        r.input,
        r.result,
        r.error,
        r.errorCategory,
        r.waiting,
        r.policy,
        r.patchedStep,
        r.patchedState,
        r.leaseOwner,
        r.leaseExpires,
        r.retryStep,
        r.retryBase,
        r.createdAt,
        r.updatedAt,
      ],
    );
    if (rows.count === 0) {
      throw new RunnerError(`run ${r.runId} already exists in ${this.location}`);
    }
  }

  /** One run. */
  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.#one<RunRecord>(`SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = $1`, [runId]);
  }

  /** Runs, newest first. */
  listRuns(
    filter: Page & { status?: RunStatus; parentRunId?: string; updatedBefore?: number } = {},
  ): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    if (filter.parentRunId !== undefined) {
      params.push(filter.parentRunId);
      where.push(`parent_run_id = $${params.length}`);
    }
    if (filter.updatedBefore !== undefined) {
      params.push(filter.updatedBefore);
      where.push(`updated_at < $${params.length}`);
    }
    return this.#all<RunRecord>(
      `SELECT ${RUN_COLUMNS} FROM runs${
        where.length ? ` WHERE ${where.join(" AND ")}` : ""
      } ORDER BY updated_at DESC, run_id${limitClause(filter)}`,
      params,
    );
  }

  /**
   * Takes the lease (see `Store.acquireLease`). Fast path, one statement: the lease is free,
   * ours or expired and the status allowed. Otherwise a transaction locks the row and decides
   * with `isStale` (e.g. the holder's process is gone) or fails with the reason.
   */
  async acquireLease(
    runId: string,
    owner: string,
    ttlMs: number,
    isStale: (owner: string, expires: number) => boolean,
    allowedStatuses: readonly RunStatus[],
  ): Promise<LeaseResult> {
    const now = Date.now();
    const [fast] = await this.#q<{ previousOwner: string | null; expires: number | null }>(
      `UPDATE runs r SET lease_owner = $2, lease_expires = $3, status = 'running', updated_at = $4
       FROM (SELECT lease_owner, lease_expires, status FROM runs WHERE run_id = $1 FOR UPDATE) old
       WHERE r.run_id = $1 AND old.status IN (${textList(5)})
         AND (old.lease_owner IS NULL OR old.lease_owner = $2 OR old.lease_expires <= $4)
       RETURNING old.lease_owner AS "previousOwner", old.lease_expires AS expires`,
      [runId, owner, now + ttlMs, now, JSON.stringify(allowedStatuses)],
    );
    if (fast) {
      const prev = fast.previousOwner;
      return { ok: true, previousOwner: prev, tookOver: prev !== null && prev !== owner };
    }
    return (await this.sql.begin(async (tx) => {
      const [row] = await this.#q<
        { owner: string | null; expires: number | null; status: RunStatus }
      >(
        `SELECT lease_owner AS owner, lease_expires AS expires, status FROM runs
         WHERE run_id = $1 FOR UPDATE`,
        [runId],
        tx,
      );
      if (!row) throw new RunnerError(`run ${runId} does not exist in ${this.location}`);
      const now = Date.now();
      const held = row.owner !== null && row.owner !== owner;
      if (held && (row.expires ?? 0) > now && !isStale(row.owner!, row.expires ?? 0)) {
        return { ok: false as const, owner: row.owner!, expires: row.expires ?? 0 };
      }
      if (!allowedStatuses.includes(row.status)) {
        throw new RunnerError(`run ${runId} is ${row.status} and cannot be resumed`);
      }
      await this.#q(
        `UPDATE runs SET lease_owner = $1, lease_expires = $2, status = 'running', updated_at = $3
         WHERE run_id = $4`,
        [owner, now + ttlMs, now, runId],
        tx,
      );
      return { ok: true as const, previousOwner: row.owner, tookOver: held };
    })) as LeaseResult;
  }

  /** Extends the lease. */
  async renewLease(runId: string, owner: string, ttlMs: number): Promise<RunStatus | null> {
    const row = await this.#one<{ status: RunStatus }>(
      `UPDATE runs SET lease_expires = $1 WHERE run_id = $2 AND lease_owner = $3 RETURNING status`,
      [Date.now() + ttlMs, runId, owner],
    );
    return row?.status ?? null;
  }

  #patch(patch: RunPatch, params: Param[]): string {
    params.push(Date.now());
    const sets: string[] = [`updated_at = $${params.length}`];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      params.push(v as Param);
      sets.push(`${PATCH_COLUMNS[k as keyof RunPatch]} = $${params.length}`);
    }
    return sets.join(", ");
  }

  /** Patches an owned, running run. */
  async updateOwnedRun(runId: string, owner: string, patch: RunPatch): Promise<boolean> {
    const params: Param[] = [runId, owner];
    const sets = this.#patch(patch, params);
    const rows = await this.#q(
      `UPDATE runs SET ${sets} WHERE run_id = $1 AND lease_owner = $2 AND status = 'running'`,
      params,
    );
    return rows.count === 1;
  }

  /** Patches a run in one of the given statuses. */
  async updateRunIf(runId: string, from: readonly RunStatus[], patch: RunPatch): Promise<boolean> {
    const params: Param[] = [runId, JSON.stringify(from)];
    const sets = this.#patch(patch, params);
    const rows = await this.#q(
      `UPDATE runs SET ${sets} WHERE run_id = $1 AND status IN (${textList(2)})`,
      params,
    );
    return rows.count === 1;
  }

  #stepParams(s: StepRecord, owner: string): Param[] {
    return [s.runId, s.step, s.attempt, s.startedAt, s.durationMs, s.state, owner];
  }

  /** Hot path: one guarded INSERT, i.e. one implicit transaction (one round trip). */
  async commitStep(s: StepRecord, owner: string): Promise<boolean> {
    const rows = await this.#q(COMMIT_STEP, this.#stepParams(s, owner));
    return rows.count === 1;
  }

  /** Final step row and completion in one statement (so one transaction, one round trip). */
  async commitFinal(s: StepRecord, owner: string, result: string): Promise<boolean> {
    const rows = await this.#q(
      `WITH step AS (${COMMIT_STEP} RETURNING 1)
       UPDATE runs SET status = 'completed', result = $8, waiting = NULL, error = NULL,
         error_category = NULL, lease_owner = NULL, lease_expires = NULL, updated_at = $9
       WHERE run_id = $1 AND EXISTS (SELECT 1 FROM step)`,
      [...this.#stepParams(s, owner), result, Date.now()],
    );
    return rows.count === 1;
  }

  /** Drops states that the compact policy does not keep. */
  async compactSteps(runId: string, from: number, to: number, every: number): Promise<void> {
    await this.#q(
      `UPDATE steps SET state = NULL WHERE run_id = $1 AND step BETWEEN $2 AND $3
         AND (step + 1) % $4 <> 0 AND state IS NOT NULL`,
      [runId, from, to, every],
    );
  }

  /** Latest step row. */
  lastStep(runId: string): Promise<StepRecord | undefined> {
    return this.#one<StepRecord>(
      `SELECT ${STEP_COLUMNS} FROM steps WHERE run_id = $1 ORDER BY step DESC LIMIT 1`,
      [runId],
    );
  }

  /** One step row. */
  getStep(runId: string, step: number): Promise<StepRecord | undefined> {
    return this.#one<StepRecord>(
      `SELECT ${STEP_COLUMNS} FROM steps WHERE run_id = $1 AND step = $2`,
      [runId, step],
    );
  }

  /** Step rows. */
  listSteps(runId: string, page: Page & { fromStep?: number } = {}): Promise<StepRecord[]> {
    return this.#all<StepRecord>(
      `SELECT ${STEP_COLUMNS} FROM steps WHERE run_id = $1 AND step >= $2 ORDER BY step${
        limitClause(page)
      }`,
      [runId, page.fromStep ?? -1],
    );
  }

  /** Step summary. */
  async stepStats(runId: string): Promise<StepStats> {
    const r = await this.#one<StepStats>(
      `SELECT count(*) AS count, min(step) AS first, max(step) AS last,
         coalesce(sum(duration_ms), 0) AS "totalMs", count(state) AS "withState",
         coalesce(max(attempt), 0) AS "maxAttempt"
       FROM steps WHERE run_id = $1`,
      [runId],
    );
    return r!;
  }

  /** Records a failed attempt. */
  async recordAttempt(a: AttemptRecord): Promise<void> {
    await this.#q(
      `INSERT INTO attempts (run_id, step, scope, attempt, error, error_type, category,
         started_at, duration_ms, retry_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
       ON CONFLICT (run_id, step, scope, attempt) DO UPDATE SET error = EXCLUDED.error,
         error_type = EXCLUDED.error_type, category = EXCLUDED.category,
         started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
         retry_at = EXCLUDED.retry_at`,
      [
        a.runId,
        a.step,
        a.scope,
        a.attempt,
        a.error,
        a.errorType,
        a.category,
        a.startedAt,
        a.durationMs,
        a.retryAt,
      ],
    );
  }

  /** Highest recorded attempt of a scope. */
  lastAttempt(runId: string, step: number, scope: string): Promise<AttemptRecord | undefined> {
    return this.#one<AttemptRecord>(
      `SELECT ${ATTEMPT_COLUMNS} FROM attempts WHERE run_id = $1 AND step = $2 AND scope = $3
       ORDER BY attempt DESC LIMIT 1`,
      [runId, step, scope],
    );
  }

  /** Failed attempts. */
  listAttempts(
    runId: string,
    page: Page & { step?: number; scope?: string } = {},
  ): Promise<AttemptRecord[]> {
    const where = ["run_id = $1"];
    const params: Param[] = [runId];
    if (page.step !== undefined) {
      params.push(page.step);
      where.push(`step = $${params.length}`);
    }
    if (page.scope !== undefined) {
      params.push(page.scope);
      where.push(`scope = $${params.length}`);
    }
    return this.#all<AttemptRecord>(
      `SELECT ${ATTEMPT_COLUMNS} FROM attempts WHERE ${
        where.join(" AND ")
      } ORDER BY step, started_at, scope, attempt${limitClause(page)}`,
      params,
    );
  }

  /** Number of failed attempts. */
  async countAttempts(runId: string): Promise<number> {
    const r = await this.#one<{ n: number }>(
      "SELECT count(*) AS n FROM attempts WHERE run_id = $1",
      [runId],
    );
    return r!.n;
  }

  /** One durable call. */
  getCall(runId: string, key: string): Promise<CallRecord | undefined> {
    return this.#one<CallRecord>(
      `SELECT ${CALL_COLUMNS} FROM tool_calls WHERE run_id = $1 AND key = $2`,
      [runId, key],
    );
  }

  #putCall(c: CallRecord, on?: postgres.TransactionSql): Promise<unknown> {
    return this.#q(
      `INSERT INTO tool_calls (run_id, key, step, kind, name, args, args_hash, status, result,
         result_bytes, result_hash, capped, error, category, attempts, started_at, duration_ms,
         deadline) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
       ON CONFLICT (run_id, key) DO UPDATE SET step = EXCLUDED.step, kind = EXCLUDED.kind,
         name = EXCLUDED.name, args = EXCLUDED.args, args_hash = EXCLUDED.args_hash,
         status = EXCLUDED.status, result = EXCLUDED.result,
         result_bytes = EXCLUDED.result_bytes, result_hash = EXCLUDED.result_hash,
         capped = EXCLUDED.capped, error = EXCLUDED.error, category = EXCLUDED.category,
         attempts = EXCLUDED.attempts, started_at = EXCLUDED.started_at,
         duration_ms = EXCLUDED.duration_ms, deadline = EXCLUDED.deadline`,
      [
        c.runId,
        c.key,
        c.step,
        c.kind,
        c.name,
        c.args,
        c.argsHash,
        c.status,
        c.result,
        c.resultBytes,
        c.resultHash,
        c.capped,
        c.error,
        c.category,
        c.attempts,
        c.startedAt,
        c.durationMs,
        c.deadline,
      ],
      on,
    );
  }

  /** Upserts a durable call. */
  async putCall(c: CallRecord): Promise<void> {
    await this.#putCall(c);
  }

  /** Calls in order. */
  listCalls(
    runId: string,
    page: Page & { step?: number; kind?: string } = {},
  ): Promise<CallRecord[]> {
    const where = ["run_id = $1"];
    const params: Param[] = [runId];
    if (page.step !== undefined) {
      params.push(page.step);
      where.push(`step = $${params.length}`);
    }
    if (page.kind !== undefined) {
      params.push(page.kind);
      where.push(`kind = $${params.length}`);
    }
    return this.#all<CallRecord>(
      `SELECT ${CALL_COLUMNS} FROM tool_calls WHERE ${
        where.join(" AND ")
      } ORDER BY step, started_at, key${limitClause(page)}`,
      params,
    );
  }

  /** Call counts. */
  countCalls(runId: string): Promise<{ kind: string; name: string; status: string; n: number }[]> {
    return this.#all(
      `SELECT kind, name, status, count(*) AS n FROM tool_calls WHERE run_id = $1
       GROUP BY kind, name, status ORDER BY kind, name, status`,
      [runId],
    );
  }

  /** Adds a signal; the next sequence number is taken in the INSERT itself (see `#nextSeq`). */
  addSignal(runId: string, name: string, data: string, at: number): Promise<number> {
    return this.#nextSeq(async () => {
      const [{ seq }] = await this.#q<{ seq: number }>(
        `INSERT INTO signals (run_id, seq, name, data, sent_at)
         SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM signals WHERE run_id = $1
         RETURNING seq`,
        [runId, name, data, at],
      );
      return seq;
    });
  }

  /**
   * Runs a `max(seq) + 1` insert, again when a concurrent writer took the same number (unique
   * violation): two processes may add events or signals to one run at the same moment.
   */
  async #nextSeq<T>(insert: () => Promise<T>): Promise<T> {
    for (let i = 0;; i++) {
      try {
        return await insert();
      } catch (e) {
        if ((e as { code?: string }).code !== "23505" || i >= 20) throw e;
      }
    }
  }

  /** Oldest unconsumed signal of a name. */
  nextSignal(runId: string, name: string): Promise<SignalRecord | undefined> {
    return this.#one<SignalRecord>(
      `SELECT ${SIGNAL_COLUMNS} FROM signals WHERE run_id = $1 AND name = $2
         AND consumed_by IS NULL AND rejected IS NULL ORDER BY seq LIMIT 1`,
      [runId, name],
    );
  }

  /** Consumes or rejects a signal. */
  async consumeSignal(
    runId: string,
    seq: number,
    consumer: { call: CallRecord } | { rejected: string },
  ): Promise<void> {
    await this.sql.begin(async (tx) => {
      if ("call" in consumer) {
        await this.#q(
          "UPDATE signals SET consumed_by = $1 WHERE run_id = $2 AND seq = $3",
          [consumer.call.key, runId, seq],
          tx,
        );
        await this.#putCall(consumer.call, tx);
      } else {
        await this.#q(
          "UPDATE signals SET rejected = $1 WHERE run_id = $2 AND seq = $3",
          [consumer.rejected, runId, seq],
          tx,
        );
      }
    });
  }

  /** Signals. */
  listSignals(runId: string, page: Page = {}): Promise<SignalRecord[]> {
    return this.#all<SignalRecord>(
      `SELECT ${SIGNAL_COLUMNS} FROM signals WHERE run_id = $1 ORDER BY seq${limitClause(page)}`,
      [runId],
    );
  }

  /** Appends an event. */
  async addEvent(
    runId: string,
    kind: string,
    message: string,
    data: string | null = null,
  ): Promise<void> {
    await this.#nextSeq(() =>
      this.#q(
        `INSERT INTO events (run_id, seq, at, kind, message, data)
         SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5 FROM events WHERE run_id = $1`,
        [runId, Date.now(), kind, message, data],
      )
    );
  }

  /** Events. */
  listEvents(runId: string, page: Page = {}): Promise<EventRecord[]> {
    return this.#all<EventRecord>(
      `SELECT run_id AS "runId", seq, at, kind, message, data FROM events WHERE run_id = $1
       ORDER BY seq${limitClause(page)}`,
      [runId],
    );
  }

  /** Deletes a run's rows. */
  deleteRun(runId: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      for (const t of ["steps", "attempts", "tool_calls", "signals", "events"]) {
        await this.#q(`DELETE FROM ${t} WHERE run_id = $1`, [runId], tx);
      }
      const rows = await this.#q("DELETE FROM runs WHERE run_id = $1", [runId], tx);
      return rows.count === 1;
    }) as Promise<boolean>;
  }

  /**
   * Consistency checks PostgreSQL does not do itself (it checksums pages on its own): rows whose
   * run is missing, and finished runs that still hold a lease.
   */
  async integrityCheck(): Promise<string[]> {
    const out: string[] = [];
    for (const t of ["steps", "attempts", "tool_calls", "signals", "events"]) {
      const [{ n }] = await this.#q<{ n: number }>(
        `SELECT count(*) AS n FROM ${t} x WHERE NOT EXISTS
           (SELECT 1 FROM runs r WHERE r.run_id = x.run_id)`,
      );
      if (n > 0) out.push(`${n} row(s) in ${t} belong to no run`);
    }
    const [{ n }] = await this.#q<{ n: number }>(
      `SELECT count(*) AS n FROM runs WHERE status IN ('completed', 'failed', 'cancelled')
         AND lease_owner IS NOT NULL`,
    );
    if (n > 0) out.push(`${n} finished run(s) still hold a lease`);
    return out;
  }

  /** Bytes used by the schema's tables and indexes. */
  async sizeBytes(): Promise<number> {
    const [{ n }] = await this.#q<{ n: number }>(
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS n
       FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
       WHERE ns.nspname = $1 AND c.relkind = 'r'`,
      [this.schema],
    );
    return n;
  }

  // ---- WorkQueue: what workers use to share the runs ----

  /**
   * Claims up to `limit` runnable top-level runs of the given agents for `claimMs` (a short
   * reservation so other workers skip them; the lease taken by `resumeRun` is the real guard).
   * `FOR UPDATE SKIP LOCKED`: concurrent workers never wait on each other's candidates.
   */
  claimRunnable(
    agentNames: readonly string[],
    limit: number,
    claimMs: number,
    exclude: readonly string[] = [],
  ): Promise<ClaimedRun[]> {
    const now = Date.now();
    return this.#all<ClaimedRun>(
      `UPDATE runs SET claimed_until = $3 WHERE run_id IN (
         SELECT run_id FROM runs WHERE ${RUNNABLE} AND run_id NOT IN (${textList(5)})
         ORDER BY updated_at LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING run_id AS "runId", agent_name AS "agentName", status`,
      [
        JSON.stringify(agentNames),
        now,
        now + claimMs,
        Math.max(0, Math.floor(limit)),
        JSON.stringify(exclude),
      ],
    );
  }

  /** Ends a claim (after the worker's invocation of the run returned). */
  async releaseClaim(runId: string): Promise<void> {
    await this.#q("UPDATE runs SET claimed_until = NULL WHERE run_id = $1", [runId]);
  }

  /**
   * Earliest future time something may become runnable without a notification: a lease or claim
   * expiring, a timer due, a signal wait timing out. Null when nothing is scheduled.
   */
  async nextWakeAt(agentNames: readonly string[]): Promise<number | null> {
    const [{ t }] = await this.#q<{ t: number | null }>(
      `SELECT min(t) AS t FROM (
         SELECT least(
           CASE WHEN lease_owner IS NOT NULL THEN lease_expires END,
           claimed_until,
           CASE WHEN status = 'waiting' THEN
             coalesce((waiting::jsonb->>'wakeAt')::bigint, (waiting::jsonb->>'deadline')::bigint)
           END) AS t
         FROM runs WHERE parent_run_id IS NULL AND agent_name IN (${textList(1)})
           AND status IN ('queued', 'paused', 'running', 'waiting')) x
       WHERE t > $2`,
      [JSON.stringify(agentNames), Date.now()],
    );
    return t;
  }

  /**
   * Top-level runs of these agents that still need a worker: queued, paused, running, or waiting
   * on a timer (waits for signals need someone outside, and do not count).
   */
  async pendingRuns(
    agentNames: readonly string[],
    exclude: readonly string[] = [],
  ): Promise<number> {
    const [{ n }] = await this.#q<{ n: number }>(
      `SELECT count(*) AS n FROM runs WHERE parent_run_id IS NULL
         AND agent_name IN (${textList(1)}) AND run_id NOT IN (${
        textList(3)
      }) AND (status IN ('queued', 'paused', 'running')
           OR (status = 'waiting' AND (waiting::jsonb->>'kind' = 'timer'
                                       OR loom_wait_over(run_id, waiting, $2, 0))))`,
      [JSON.stringify(agentNames), Date.now(), JSON.stringify(exclude)],
    );
    return n;
  }

  /**
   * Calls `onWork` whenever this store's runs may have become runnable (LISTEN/NOTIFY), and after
   * the listening connection was re-established (notifications sent meanwhile are lost).
   */
  async listenForWork(onWork: () => void): Promise<() => Promise<void>> {
    const sub = await this.sql.listen(
      WORK_CHANNEL,
      (payload) => {
        if (payload === this.schema) onWork();
      },
      onWork,
    );
    return () => sub.unlisten();
  }
}

/** A plain connection to a PostgreSQL server, for tooling and tests (e.g. dropping a schema). */
export interface PostgresAdmin {
  /** Runs one SQL statement. */
  exec(sql: string, params?: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  /** Drops a schema and everything in it. */
  dropSchema(schema: string): Promise<void>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** Opens a `PostgresAdmin` connection. */
export function connectPostgresAdmin(url: string): PostgresAdmin {
  const sql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
  return {
    exec: async (text, params = []) => Array.from(await sql.unsafe(text, params as never[])),
    dropSchema: async (schema) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
        throw new RunnerError(`invalid schema name ${schema}`);
      }
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Opens (and when allowed creates and migrates) a Loom store in a PostgreSQL schema. */
export function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  return PostgresStore.open(url, options);
}

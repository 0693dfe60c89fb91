/**
 * `PostgresStore`: the `Store` on PostgreSQL, for many worker processes on many machines sharing
 * one durable store. Same semantics as SQLite (`contract_test.ts` runs the same cases on both):
 * one transaction per transition, every write of an advancing run guarded by its lease.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";
import {
  CALL_COLUMNS,
  CALL_INSERT_COLUMNS,
  callParams,
  CHAIN_COLUMNS,
  DOLLAR_MARK,
  EVENT_COLUMNS,
  FAILED_ATTEMPT_COLUMNS,
  FAILED_ATTEMPT_INSERT_COLUMNS,
  failedAttemptParams,
  marks,
  patchSql,
  RUN_COLUMNS,
  RUN_INSERT_COLUMNS,
  runParams,
  SIGNAL_COLUMNS,
  STEP_ROW_COLUMNS,
  stepStatsSql,
} from "../_sql.ts";
import type {
  CallRecord,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  Page,
  RunFilter,
  RunPatch,
  RunRecord,
  RunStatus,
  SignalRecord,
  StepRecord,
  StepStats,
  Store,
} from "../store.ts";
import type { ClaimedRun, ListenOptions, WorkQueue } from "../work_queue.ts";
import {
  all,
  connect,
  describe,
  limitClause,
  one,
  type PgParam,
  query,
  sharesServerSessions,
  type Sql,
  textList,
  type Tx,
} from "./_db.ts";
import {
  basesNeeded,
  type ChainRow,
  chainWhere,
  rebuildChain,
  resolveRows,
  type StepRow,
} from "../_steps.ts";
import { DEFAULT_PG_SCHEMA, migrateSchema, SCHEMA_NAME, type Tables, tablesOf } from "./schema.ts";
import * as queue from "./work_queue.ts";
import { PostgresSpace } from "./space.ts";
import type { StoreSpace } from "../space.ts";

export type { Sql } from "./_db.ts";

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions {
  /**
   * Commit durability. `normal`: the server's `synchronous_commit`, normally `on` (a commit is
   * on disk before it returns); Loom never weakens it. `fsync`: forces `on` for the session even
   * when the server's default is lower.
   * @default "normal"
   */
  durability?: "normal" | "fsync";
  /**
   * Explicit `synchronous_commit` for the session, overriding `durability`. `off` keeps every
   * commit safe from a killed worker but may lose the last fraction of a second if the
   * PostgreSQL server itself crashes; for benchmarks and users who choose that trade.
   */
  synchronousCommit?: "on" | "off";
  /**
   * Create the schema and tables when missing. Inspection passes false.
   * @default true
   */
  create?: boolean;
  /** Schema the store lives in: lower-case letters, digits and `_`. @default "loom" */
  schema?: string;
  /** Connection pool size. @default 4 */
  maxConnections?: number;
  /**
   * Whether the URL reaches PostgreSQL through a transaction pooler (pgbouncer with
   * `pool_mode = transaction`, or any pooler that gives each transaction whichever server
   * session is free). Behind one the store prepares no named statements, and `listenForWork`
   * does not LISTEN (notifications do not reach a pooled client): workers wake at their poll
   * interval. Undefined: detected when the store opens (a few `pg_backend_pid()` round trips).
   * @default undefined
   */
  transactionPooler?: boolean;
}

/** The guarded insert of one transition: only while `owner` holds the lease of a running run. */
function commitStepSql(t: Tables): string {
  return `INSERT INTO ${t.steps} (run_id, step, attempt, started_at, duration_ms, state, delta)
  SELECT $1, $2, $3, $4, $5, $6, $8 WHERE EXISTS
    (SELECT 1 FROM ${t.runs} WHERE run_id = $1 AND lease_owner = $7 AND status = 'running'
     FOR SHARE)
  ON CONFLICT DO NOTHING`;
}

/** A failed open, in words; a startup parameter a pooler refuses gets the fix. */
function openError(e: unknown): string {
  const message = describe(e);
  const refused = /unsupported startup parameter:?\s*(\S+)/i.exec(message)?.[1];
  if (!refused) return message;
  return `${message} (a connection pooler such as pgbouncer refuses startup parameters it does not know: add ${refused} to its ignore_startup_parameters, or connect directly)`;
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

/** The PostgreSQL implementation of `Store` (and of the worker's `WorkQueue`). */
export class PostgresStore implements Store, WorkQueue {
  /** The URL (password redacted) and schema, for messages. */
  readonly location: string;
  /** Schema the store lives in. */
  readonly schema: string;
  /** The connection pool (for tests and benchmarks). */
  readonly sql: Sql;
  #closed = false;
  /** The tables, named with the schema. */
  readonly #t: Tables;
  readonly #commitStep: string;
  /**
   * True when the store reaches PostgreSQL through a transaction pooler (see
   * `PostgresStoreOptions.transactionPooler`): no LISTEN/NOTIFY wake-ups for workers.
   */
  readonly transactionPooler: boolean;

  private constructor(sql: Sql, location: string, schema: string, transactionPooler: boolean) {
    this.sql = sql;
    this.location = location;
    this.schema = schema;
    this.transactionPooler = transactionPooler;
    this.#t = tablesOf(schema);
    this.#commitStep = commitStepSql(this.#t);
  }

  /** Connects, checks the schema is a Loom store (or creates it) and migrates it. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = options.schema ?? DEFAULT_PG_SCHEMA;
    if (!SCHEMA_NAME.test(schema)) {
      throw new RunnerError(
        `invalid schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`,
      );
    }
    const location = `${redactUrl(url)} (schema ${schema})`;
    const settings = {
      schema,
      synchronousCommit: options.synchronousCommit ??
        (options.durability === "fsync" ? "on" as const : null),
      maxConnections: options.maxConnections ?? 4,
    };
    let sql: Sql;
    try {
      sql = connect(url, settings);
    } catch (e) {
      throw new RunnerError(`invalid PostgreSQL URL ${redactUrl(url)}: ${describe(e)}`);
    }
    let pooled: boolean;
    try {
      await migrateSchema(sql, schema, location, options.create !== false);
      pooled = options.transactionPooler ?? await sharesServerSessions(url, settings);
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      if (e instanceof RunnerError) throw e;
      throw new RunnerError(`cannot open PostgreSQL store ${location}: ${openError(e)}`);
    }
    if (pooled) {
      // A named statement prepared in one server session is unknown to the next one.
      await sql.end({ timeout: 5 });
      sql = connect(url, { ...settings, prepare: false });
    }
    return new PostgresStore(sql, location, schema, pooled);
  }

  /** Closes the pool (waits up to 5 s for queries in flight). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.sql.end({ timeout: 5 });
  }

  /** Creates a run. */
  async createRun(r: RunRecord): Promise<void> {
    const params = runParams(r);
    const rows = await query(
      this.sql,
      `INSERT INTO ${this.#t.runs} (${RUN_INSERT_COLUMNS}) VALUES (${
        marks(params.length, DOLLAR_MARK)
      })
       ON CONFLICT (run_id) DO NOTHING`,
      params,
    );
    if (rows.count === 0) {
      throw new RunnerError(`run ${r.runId} already exists in ${this.location}`);
    }
  }

  /** One run. */
  getRun(runId: string): Promise<RunRecord | undefined> {
    return one<RunRecord>(
      this.sql,
      `SELECT ${RUN_COLUMNS} FROM ${this.#t.runs} WHERE run_id = $1`,
      [runId],
    );
  }

  /** Runs, last changed first. */
  listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: PgParam[] = [];
    const add = (condition: string, value: PgParam) => {
      params.push(value);
      where.push(`${condition} $${params.length}`);
    };
    if (filter.status) add("status =", filter.status);
    if (filter.parentRunId !== undefined) add("parent_run_id =", filter.parentRunId);
    if (filter.updatedBefore !== undefined) add("updated_at <", filter.updatedBefore);
    if (filter.endedBefore !== undefined) add("ended_at <", filter.endedBefore);
    return all<RunRecord>(
      this.sql,
      `SELECT ${RUN_COLUMNS} FROM ${this.#t.runs}${
        where.length ? ` WHERE ${where.join(" AND ")}` : ""
      } ORDER BY updated_at DESC, run_id${limitClause(filter)}`,
      params,
    );
  }

  /** Compare-and-set of the lease (see `Store.takeLease`): one guarded UPDATE, one round trip. */
  async takeLease(
    runId: string,
    expected: LeaseState,
    owner: string,
    expires: number,
  ): Promise<boolean> {
    const rows = await query(
      this.sql,
      `UPDATE ${this.#t.runs} SET lease_owner = $2, lease_expires = $3, status = 'running', updated_at = $4
       WHERE run_id = $1 AND lease_owner IS NOT DISTINCT FROM $5
         AND lease_expires IS NOT DISTINCT FROM $6 AND status = $7`,
      [runId, owner, expires, Date.now(), expected.owner, expected.expires, expected.status],
    );
    return rows.count === 1;
  }

  /** Extends the lease. */
  async renewLease(runId: string, owner: string, ttlMs: number): Promise<RunStatus | null> {
    const row = await one<{ status: RunStatus }>(
      this.sql,
      `UPDATE ${this.#t.runs} SET lease_expires = $1 WHERE run_id = $2 AND lease_owner = $3 RETURNING status`,
      [Date.now() + ttlMs, runId, owner],
    );
    return row?.status ?? null;
  }

  /** Patches an owned, running run. */
  async updateOwnedRun(runId: string, owner: string, patch: RunPatch): Promise<boolean> {
    const params: PgParam[] = [runId, owner];
    const sets = patchSql(patch, params, DOLLAR_MARK);
    const rows = await query(
      this.sql,
      `UPDATE ${this.#t.runs} SET ${sets} WHERE run_id = $1 AND lease_owner = $2 AND status = 'running'`,
      params,
    );
    return rows.count === 1;
  }

  /** Patches a run in one of the given statuses. */
  async updateRunIf(runId: string, from: readonly RunStatus[], patch: RunPatch): Promise<boolean> {
    const params: PgParam[] = [runId, JSON.stringify(from)];
    const sets = patchSql(patch, params, DOLLAR_MARK);
    const rows = await query(
      this.sql,
      `UPDATE ${this.#t.runs} SET ${sets} WHERE run_id = $1 AND status IN (${textList(2)})`,
      params,
    );
    return rows.count === 1;
  }

  #stepParams(s: StepRecord, owner: string): PgParam[] {
    return [s.runId, s.step, s.attempt, s.startedAt, s.durationMs, s.state, owner, s.delta ?? null];
  }

  /** Hot path: one guarded INSERT, i.e. one implicit transaction (one round trip). */
  async commitStep(s: StepRecord, owner: string): Promise<boolean> {
    const rows = await query(this.sql, this.#commitStep, this.#stepParams(s, owner));
    return rows.count === 1;
  }

  /** Final step row and the run's patch in one statement (so one transaction, one round trip). */
  async commitFinal(s: StepRecord, owner: string, patch: RunPatch): Promise<boolean> {
    const params = this.#stepParams(s, owner);
    const sets = patchSql(patch, params, DOLLAR_MARK);
    const rows = await query(
      this.sql,
      `WITH step AS (${this.#commitStep} RETURNING 1)
       UPDATE ${this.#t.runs} SET ${sets} WHERE run_id = $1 AND EXISTS (SELECT 1 FROM step)`,
      params,
    );
    return rows.count === 1;
  }

  /**
   * Drops checkpoints that the compact policy does not keep. A kept delta whose base is dropped
   * (a kept step's, and the one after `to`) is first stored whole, so no delta chain breaks.
   */
  async compactSteps(runId: string, from: number, to: number, every: number): Promise<void> {
    const t = this.#t;
    await this.sql.begin(async (tx) => {
      const rebase = await all<{ step: number }>(
        tx,
        `SELECT step FROM ${t.steps} WHERE run_id = $1 AND step BETWEEN $2 AND $3
           AND delta IS NOT NULL AND step % $4 <> 0 AND (step = $3 OR (step + 1) % $4 = 0)
         ORDER BY step FOR UPDATE`,
        [runId, from + 1, to + 1, every],
      );
      for (const { step } of rebase) {
        await query(
          tx,
          `UPDATE ${t.steps} SET state = $1, delta = NULL WHERE run_id = $2 AND step = $3`,
          [await this.#stateAt(runId, step, tx), runId, step],
        );
      }
      await query(
        tx,
        `UPDATE ${t.steps} SET state = NULL, delta = NULL WHERE run_id = $1
           AND step BETWEEN $2 AND $3 AND (step + 1) % $4 <> 0
           AND (state IS NOT NULL OR delta IS NOT NULL)`,
        [runId, from, to, every],
      );
    });
  }

  /** The checkpoint after `step`, rebuilt from the snapshot before it and the deltas since. */
  async #stateAt(runId: string, step: number, on: Sql | Tx = this.sql): Promise<string> {
    const rows = await all<ChainRow>(
      on,
      `SELECT ${CHAIN_COLUMNS} FROM ${this.#t.steps}
       WHERE ${chainWhere(this.#t.steps, (n) => `$${n}`)} ORDER BY step`,
      [runId, step],
    );
    return rebuildChain(runId, step, rows);
  }

  /** Records of stored rows: every delta applied (see `_steps.ts`). */
  async #records(runId: string, rows: StepRow[]): Promise<StepRecord[]> {
    const bases = new Map<number, string>();
    for (const step of basesNeeded(rows)) bases.set(step, await this.#stateAt(runId, step));
    return resolveRows(runId, rows, bases);
  }

  async #record(row: StepRow | undefined): Promise<StepRecord | undefined> {
    if (row === undefined) return undefined;
    const { delta, ...record } = row;
    if (delta !== null) record.state = await this.#stateAt(row.runId, row.step);
    return record;
  }

  /** Latest step row. */
  async lastStep(runId: string): Promise<StepRecord | undefined> {
    return await this.#record(
      await one<StepRow>(
        this.sql,
        `SELECT ${STEP_ROW_COLUMNS} FROM ${this.#t.steps} WHERE run_id = $1
         ORDER BY step DESC LIMIT 1`,
        [runId],
      ),
    );
  }

  /** One step row. */
  async getStep(runId: string, step: number): Promise<StepRecord | undefined> {
    return await this.#record(
      await one<StepRow>(
        this.sql,
        `SELECT ${STEP_ROW_COLUMNS} FROM ${this.#t.steps} WHERE run_id = $1 AND step = $2`,
        [runId, step],
      ),
    );
  }

  /** Step rows. */
  async listSteps(runId: string, page: Page & { fromStep?: number } = {}): Promise<StepRecord[]> {
    return await this.#records(
      runId,
      await all<StepRow>(
        this.sql,
        `SELECT ${STEP_ROW_COLUMNS} FROM ${this.#t.steps} WHERE run_id = $1 AND step >= $2
         ORDER BY step${limitClause(page)}`,
        [runId, page.fromStep ?? -1],
      ),
    );
  }

  /** Step summary. */
  async stepStats(runId: string): Promise<StepStats> {
    return (await one<StepStats>(this.sql, `${stepStatsSql(this.#t.steps)} WHERE run_id = $1`, [
      runId,
    ]))!;
  }

  /** Records a failed attempt. */
  async recordFailedAttempt(a: FailedAttemptRecord): Promise<void> {
    const params = failedAttemptParams(a);
    await query(
      this.sql,
      `INSERT INTO ${this.#t.failedAttempts} (${FAILED_ATTEMPT_INSERT_COLUMNS}) VALUES (${
        marks(params.length, DOLLAR_MARK)
      })
       ON CONFLICT (run_id, step, scope, attempt) DO UPDATE SET error = EXCLUDED.error,
         error_type = EXCLUDED.error_type, error_category = EXCLUDED.error_category,
         started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
         retry_at = EXCLUDED.retry_at`,
      params,
    );
  }

  /** The failed attempt with the highest number in a scope. */
  lastFailedAttempt(
    runId: string,
    step: number,
    scope: string,
  ): Promise<FailedAttemptRecord | undefined> {
    return one<FailedAttemptRecord>(
      this.sql,
      `SELECT ${FAILED_ATTEMPT_COLUMNS} FROM ${this.#t.failedAttempts}
       WHERE run_id = $1 AND step = $2 AND scope = $3
       ORDER BY attempt DESC LIMIT 1`,
      [runId, step, scope],
    );
  }

  /** Failed attempts. */
  listFailedAttempts(
    runId: string,
    page: Page & { step?: number; scope?: string } = {},
  ): Promise<FailedAttemptRecord[]> {
    const where = ["run_id = $1"];
    const params: PgParam[] = [runId];
    if (page.step !== undefined) {
      params.push(page.step);
      where.push(`step = $${params.length}`);
    }
    if (page.scope !== undefined) {
      params.push(page.scope);
      where.push(`scope = $${params.length}`);
    }
    return all<FailedAttemptRecord>(
      this.sql,
      `SELECT ${FAILED_ATTEMPT_COLUMNS} FROM ${this.#t.failedAttempts} WHERE ${
        where.join(" AND ")
      } ORDER BY step, started_at, scope, attempt${limitClause(page)}`,
      params,
    );
  }

  /** Number of failed attempts. */
  async countFailedAttempts(runId: string): Promise<number> {
    const r = await one<{ n: number }>(
      this.sql,
      `SELECT count(*) AS n FROM ${this.#t.failedAttempts} WHERE run_id = $1`,
      [runId],
    );
    return r!.n;
  }

  /** One call. */
  getCall(runId: string, key: string): Promise<CallRecord | undefined> {
    return one<CallRecord>(
      this.sql,
      `SELECT ${CALL_COLUMNS} FROM ${this.#t.calls} WHERE run_id = $1 AND key = $2`,
      [runId, key],
    );
  }

  #putCall(c: CallRecord, on: Sql | Tx = this.sql): Promise<unknown> {
    const params = callParams(c, (capped) => capped);
    return query(
      on,
      `INSERT INTO ${this.#t.calls} (${CALL_INSERT_COLUMNS}) VALUES (${
        marks(params.length, DOLLAR_MARK)
      })
       ON CONFLICT (run_id, key) DO UPDATE SET step = EXCLUDED.step, kind = EXCLUDED.kind,
         name = EXCLUDED.name, args = EXCLUDED.args, args_hash = EXCLUDED.args_hash,
         status = EXCLUDED.status, result = EXCLUDED.result,
         result_bytes = EXCLUDED.result_bytes, result_hash = EXCLUDED.result_hash,
         capped = EXCLUDED.capped, error = EXCLUDED.error,
         error_category = EXCLUDED.error_category,
         attempts = EXCLUDED.attempts, started_at = EXCLUDED.started_at,
         duration_ms = EXCLUDED.duration_ms, deadline = EXCLUDED.deadline`,
      params,
    );
  }

  /** Inserts or replaces a call. */
  async putCall(c: CallRecord): Promise<void> {
    await this.#putCall(c);
  }

  /** Calls in order. */
  listCalls(
    runId: string,
    page: Page & { step?: number; kind?: string } = {},
  ): Promise<CallRecord[]> {
    const where = ["run_id = $1"];
    const params: PgParam[] = [runId];
    if (page.step !== undefined) {
      params.push(page.step);
      where.push(`step = $${params.length}`);
    }
    if (page.kind !== undefined) {
      params.push(page.kind);
      where.push(`kind = $${params.length}`);
    }
    return all<CallRecord>(
      this.sql,
      `SELECT ${CALL_COLUMNS} FROM ${this.#t.calls} WHERE ${
        where.join(" AND ")
      } ORDER BY step, started_at, key${limitClause(page)}`,
      params,
    );
  }

  /** Call counts. */
  countCalls(runId: string): Promise<{ kind: string; name: string; status: string; n: number }[]> {
    return all(
      this.sql,
      `SELECT kind, name, status, count(*) AS n FROM ${this.#t.calls} WHERE run_id = $1
       GROUP BY kind, name, status ORDER BY kind, name, status`,
      [runId],
    );
  }

  /** Adds a signal; the next sequence number is taken in the INSERT itself (see `#nextSeq`). */
  addSignal(runId: string, name: string, data: string, at: number): Promise<number> {
    return this.#nextSeq(async () => {
      const [{ seq }] = await query<{ seq: number }>(
        this.sql,
        `INSERT INTO ${this.#t.signals} (run_id, seq, name, data, sent_at)
         SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM ${this.#t.signals}
         WHERE run_id = $1
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
    return one<SignalRecord>(
      this.sql,
      `SELECT ${SIGNAL_COLUMNS} FROM ${this.#t.signals} WHERE run_id = $1 AND name = $2
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
        await query(
          tx,
          `UPDATE ${this.#t.signals} SET consumed_by = $1 WHERE run_id = $2 AND seq = $3`,
          [consumer.call.key, runId, seq],
        );
        await this.#putCall(consumer.call, tx);
      } else {
        await query(
          tx,
          `UPDATE ${this.#t.signals} SET rejected = $1 WHERE run_id = $2 AND seq = $3`,
          [consumer.rejected, runId, seq],
        );
      }
    });
  }

  /** Signals. */
  listSignals(runId: string, page: Page = {}): Promise<SignalRecord[]> {
    return all<SignalRecord>(
      this.sql,
      `SELECT ${SIGNAL_COLUMNS} FROM ${this.#t.signals} WHERE run_id = $1 ORDER BY seq${
        limitClause(page)
      }`,
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
      query(
        this.sql,
        `INSERT INTO ${this.#t.events} (run_id, seq, at, kind, message, data)
         SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5 FROM ${this.#t.events}
         WHERE run_id = $1`,
        [runId, Date.now(), kind, message, data],
      )
    );
  }

  /** Events. */
  listEvents(runId: string, page: Page = {}): Promise<EventRecord[]> {
    return all<EventRecord>(
      this.sql,
      `SELECT ${EVENT_COLUMNS} FROM ${this.#t.events} WHERE run_id = $1 ORDER BY seq${
        limitClause(page)
      }`,
      [runId],
    );
  }

  /** Deletes a run's rows. */
  deleteRun(runId: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const t = this.#t;
      for (const table of [t.steps, t.failedAttempts, t.calls, t.signals, t.events]) {
        await query(tx, `DELETE FROM ${table} WHERE run_id = $1`, [runId]);
      }
      const rows = await query(tx, `DELETE FROM ${t.runs} WHERE run_id = $1`, [runId]);
      return rows.count === 1;
    }) as Promise<boolean>;
  }

  /**
   * Consistency checks PostgreSQL does not do itself (it checksums pages on its own): rows whose
   * run is missing, and finished runs that still hold a lease.
   */
  async integrityCheck(): Promise<string[]> {
    const out: string[] = [];
    const t = this.#t;
    for (const name of ["steps", "failed_attempts", "calls", "signals", "events"]) {
      const [{ n }] = await query<{ n: number }>(
        this.sql,
        `SELECT count(*) AS n FROM ${t.schema}.${name} x WHERE NOT EXISTS
           (SELECT 1 FROM ${t.runs} r WHERE r.run_id = x.run_id)`,
      );
      if (n > 0) out.push(`${n} row(s) in ${name} belong to no run`);
    }
    const [{ n }] = await query<{ n: number }>(
      this.sql,
      `SELECT count(*) AS n FROM ${t.runs} WHERE status IN ('completed', 'failed', 'cancelled')
         AND lease_owner IS NOT NULL`,
    );
    if (n > 0) out.push(`${n} finished run(s) still hold a lease`);
    return out;
  }

  /** Bytes used by the schema's tables and indexes. */
  async sizeBytes(): Promise<number> {
    const [{ n }] = await query<{ n: number }>(
      this.sql,
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS n
       FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
       WHERE ns.nspname = $1 AND c.relkind = 'r'`,
      [this.schema],
    );
    return n;
  }

  /** Space of the schema's tables and runs, and `VACUUM` (`space.ts`). */
  space(): StoreSpace {
    return new PostgresSpace(this.sql, this.schema);
  }

  // ---- WorkQueue (see work_queue.ts): what workers use to share the runs ----

  /** Claims runnable runs for a worker (see `WorkQueue.claimRunnable`). */
  claimRunnable(
    agentNames: readonly string[],
    limit: number,
    claimMs: number,
    exclude: readonly string[] = [],
  ): Promise<ClaimedRun[]> {
    return queue.claimRunnable(this.sql, this.#t, agentNames, limit, claimMs, exclude);
  }

  /** Ends a claim (see `WorkQueue.releaseClaim`). */
  releaseClaim(runId: string): Promise<void> {
    return queue.releaseClaim(this.sql, this.#t, runId);
  }

  /** When a run may next become runnable without a notification (see `WorkQueue.nextWakeAt`). */
  nextWakeAt(agentNames: readonly string[]): Promise<number | null> {
    return queue.nextWakeAt(this.sql, this.#t, agentNames);
  }

  /** Runs that still need a worker (see `WorkQueue.pendingRuns`). */
  pendingRuns(agentNames: readonly string[], exclude: readonly string[] = []): Promise<number> {
    return queue.pendingRuns(this.sql, this.#t, agentNames, exclude);
  }

  /**
   * Calls `onWork` when this store's runs may have become runnable (LISTEN/NOTIFY). Behind a
   * transaction pooler notifications do not reach a client: it says so through `onWarning` and
   * listens to nothing, so a worker wakes at its poll interval and known deadlines.
   */
  async listenForWork(
    onWork: () => void,
    options: ListenOptions = {},
  ): Promise<() => Promise<void>> {
    if (!this.transactionPooler) return await queue.listenForWork(this.sql, this.schema, onWork);
    options.onWarning?.(
      `${this.location} is reached through a transaction pooler (such as pgbouncer with pool_mode = transaction), which does not deliver LISTEN/NOTIFY: workers wake only at their poll interval and known deadlines; connect workers directly (or through a session pooler) for prompt wake-ups`,
    );
    return async () => {};
  }
}

/** Opens (and when allowed creates and migrates) a Loom store in a PostgreSQL schema. */
export function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  return PostgresStore.open(url, options);
}

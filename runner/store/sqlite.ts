/**
 * The SQLite store (`node:sqlite`). WAL mode; `synchronous=NORMAL` by default (a committed
 * transition survives a killed process) or `FULL` with `durability: "fsync"` (survives power loss).
 * Schema version in `user_version`, Loom marker in `application_id`. All SQLite SQL of the runner
 * is here (what it shares with the PostgreSQL store in `_sql.ts`).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { CorruptDatabaseError, ReadOnlyDatabaseError, RunnerError } from "../errors.ts";
import {
  CALL_COLUMNS,
  CALL_INSERT_COLUMNS,
  callParams,
  EVENT_COLUMNS,
  FAILED_ATTEMPT_COLUMNS,
  FAILED_ATTEMPT_INSERT_COLUMNS,
  failedAttemptParams,
  limitClause as sqlLimit,
  marks,
  type Param,
  patchSql,
  QUESTION_MARK,
  RUN_COLUMNS,
  RUN_INSERT_COLUMNS,
  runParams,
  SIGNAL_COLUMNS,
  STEP_STATS,
} from "./_sql.ts";
import { utf8Length } from "../json.ts";
import { basesNeeded, type ChainRow, rebuildChain, resolveRows, type StepRow } from "./_steps.ts";
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
} from "./store.ts";

/** `application_id` of a Loom database ("LOOM"). */
export const LOOM_APPLICATION_ID = 0x4c4f4f4d;
/** Current schema version (in `user_version`). */
export const SCHEMA_VERSION = 3;

/** Options of `openStore`. */
export interface OpenStoreOptions {
  /**
   * `normal`: WAL and `synchronous=NORMAL` (a commit survives a killed process). `fsync`:
   * `synchronous=FULL` (a commit survives power loss).
   * @default "normal"
   */
  durability?: "normal" | "fsync";
  /**
   * Create the file when missing. Inspection passes false, so a mistyped path is an error.
   * @default true
   */
  create?: boolean;
  /** How long to wait for a lock held by another connection, ms. @default 5000 */
  busyTimeoutMs?: number;
  /**
   * Open the file read-only: never create, migrate or write it. A file in a read-only directory
   * (where SQLite cannot create its `-wal`/`-shm` files) is opened as immutable. An older schema
   * version is an error (it must be upgraded by a writable open first). Writes throw.
   * @default false
   */
  readOnly?: boolean;
  /**
   * Check an existing file with SQLite's `PRAGMA quick_check` before the first write, so a corrupt
   * file is refused (`CorruptDatabaseError`) instead of written to. It reads every page: about
   * 0.1 s per 100 MB from the page cache, as long as reading the file takes from disk. `"none"`
   * skips it. Not done for read-only opens.
   * @default "quick"
   */
  integrityCheck?: "quick" | "none";
  /**
   * Page size of a new database file (bytes, a power of two from 512 to 65536); ignored for an
   * existing file. Smaller pages mean less written per commit of a small transition.
   * @default 4096
   */
  pageSize?: number;
  /**
   * Size the WAL file is cut back to after a checkpoint (`PRAGMA journal_size_limit`, bytes), so
   * a long run's WAL does not keep the largest size it ever reached; -1 keeps it.
   * @default 67108864 (64 MiB)
   */
  walSizeLimit?: number;
}

/** Largest checkpoint kept in its step row (UTF-8 bytes): the row then fits in its page. */
const INLINE_STATE_BYTES = 900;

/** Whether a whole checkpoint is kept in its step row (else in `checkpoints`). */
function inline(state: string | null): boolean {
  if (state === null || state.length <= INLINE_STATE_BYTES / 3) return true;
  return state.length <= INLINE_STATE_BYTES && utf8Length(state) <= INLINE_STATE_BYTES;
}

/** A step row with its checkpoint, whole or as a delta, from either place it is kept. */
const STEP_ROWS = `SELECT s.run_id AS "runId", s.step, s.attempt, s.started_at AS "startedAt",
  s.duration_ms AS "durationMs", coalesce(s.state, c.state) AS state, c.delta
  FROM steps s LEFT JOIN checkpoints c ON c.id = s.checkpoint`;

/** The rows of the delta chain of the checkpoint after step ?2 of run ?1 (see `_steps.ts`). */
const CHAIN_ROWS = `SELECT s.step, coalesce(s.state, c.state) AS state, c.delta
  FROM steps s LEFT JOIN checkpoints c ON c.id = s.checkpoint
  WHERE s.run_id = ?1 AND s.step BETWEEN (
    SELECT x.step FROM steps x LEFT JOIN checkpoints y ON y.id = x.checkpoint
    WHERE x.run_id = ?1 AND x.step <= ?2 AND (x.state IS NOT NULL OR y.state IS NOT NULL)
    ORDER BY x.step DESC LIMIT 1) AND ?2
  ORDER BY s.step`;

/** Thrown inside a transaction to roll it back when a guarded insert inserted nothing. */
const NOT_COMMITTED = Symbol("not committed");

/** Schema migrations: index i brings a database from version i to i+1. */
const MIGRATIONS: string[] = [
  // 0 -> 1: the first schema.
  `
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
    lease_expires INTEGER,
    retry_step INTEGER,
    retry_base INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX runs_by_status ON runs(status, updated_at);
  CREATE INDEX runs_by_updated ON runs(updated_at);
  CREATE INDEX runs_by_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
  CREATE TABLE steps (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    state TEXT,
    PRIMARY KEY (run_id, step)
  ) WITHOUT ROWID;
  CREATE TABLE attempts (
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    scope TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    error TEXT NOT NULL,
    error_type TEXT NOT NULL,
    category TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    retry_at INTEGER,
    PRIMARY KEY (run_id, step, scope, attempt)
  ) WITHOUT ROWID;
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
    capped INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    category TEXT,
    attempts INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms REAL,
    deadline INTEGER,
    PRIMARY KEY (run_id, key)
  );
  CREATE INDEX tool_calls_by_step ON tool_calls(run_id, step);
  CREATE TABLE signals (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    consumed_by TEXT,
    rejected TEXT,
    PRIMARY KEY (run_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (run_id, seq)
  ) WITHOUT ROWID;
  `,
  // 1 -> 2, one vocabulary (issue 12): "calls" (tool calls, signal waits, timers, child runs),
  // "failed attempts", "error_category" everywhere, and when a run ended.
  `
  ALTER TABLE tool_calls RENAME TO calls;
  ALTER TABLE calls RENAME COLUMN category TO error_category;
  DROP INDEX tool_calls_by_step;
  CREATE INDEX calls_by_step ON calls(run_id, step);
  ALTER TABLE attempts RENAME TO failed_attempts;
  ALTER TABLE failed_attempts RENAME COLUMN category TO error_category;
  ALTER TABLE runs ADD COLUMN ended_at INTEGER;
  UPDATE runs SET ended_at = updated_at WHERE status IN ('completed', 'failed', 'cancelled');
  `,
  // 2 -> 3, delta checkpoints (issue 13): a step's checkpoint is kept whole in steps.state when
  // small, else in a row of checkpoints (whole, or as a delta against the checkpoint of the step
  // before) that steps.checkpoint names. A rowid table holds a kilobyte-sized row in its page,
  // where steps (WITHOUT ROWID) would give it an overflow page of its own. Existing rows stay.
  // Also an index by agent for Loom Studio's agent filter (issue 17): a scan of 100,000 runs
  // without it.
  `
  ALTER TABLE steps ADD COLUMN checkpoint INTEGER;
  CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, state TEXT, delta TEXT);
  CREATE INDEX runs_by_agent ON runs(agent_name, updated_at);
  `,
];

/** `OpenStoreOptions.walSizeLimit`, checked. */
function walSizeLimit(bytes = 64 * 1024 * 1024): number {
  if (!Number.isInteger(bytes) || bytes < -1) {
    throw new RunnerError(`walSizeLimit must be a byte count or -1, got ${bytes}`);
  }
  return bytes;
}

function limitClause(page: Page | undefined): string {
  return sqlLimit(page, "-1");
}

function fileExists(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new RunnerError(`cannot read database file ${path}: ${(e as Error).message}`);
  }
}

/**
 * Database files this process has open (resolved path -> connections). Closing any descriptor of
 * a file drops every POSIX lock the process holds on it, SQLite's included, so `writable` must
 * not open a file this process already has open: another process could then delete the WAL (or
 * checkpoint) under a live connection.
 */
const openHere = new Map<string, number>();

/** Whether this process may write the file (checked without changing it). */
function writable(path: string): boolean {
  if (openHere.has(resolve(path))) return true; // a descriptor must not be closed; SQLite will tell
  try {
    Deno.openSync(path, { write: true }).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) return false;
    // EROFS (a read-only file system) has no class of its own.
    if (/read-only file system/i.test((e as Error).message)) return false;
    return true; // e.g. no --allow-write: let SQLite decide
  }
}

/** SQLITE_READONLY and its extended codes (a read-only file, directory or file system). */
function isReadOnlyError(e: unknown): boolean {
  const code = (e as { errcode?: number })?.errcode;
  if (typeof code === "number") return (code & 0xff) === 8;
  return /attempt to write a readonly database/.test((e as Error)?.message ?? "");
}

function openDatabase(path: string, options?: { readOnly: boolean }): DatabaseSync {
  try {
    return new DatabaseSync(path, options);
  } catch (e) {
    throw new RunnerError(`cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Opens `path` read-only. In WAL mode SQLite needs a `-shm` file beside the database; in a
 * read-only directory without one it cannot read, so the file is then opened as immutable (no
 * other process can be writing it: a writer would have created the `-wal` file).
 */
function openReadOnly(path: string): DatabaseSync {
  const db = openDatabase(path, { readOnly: true });
  try {
    db.prepare("PRAGMA application_id").get();
    return db;
  } catch (e) {
    if (!isReadOnlyError(e) && !/unable to open/.test((e as Error).message)) return db;
    if (fileExists(`${path}-wal`)) return db; // the first statement reports what is wrong
    db.close();
    const url = new URL(`${pathToFileURL(resolve(path)).href}?immutable=1`);
    try {
      return new DatabaseSync(url, { readOnly: true });
    } catch (e2) {
      throw new RunnerError(`cannot open database ${path}: ${(e2 as Error).message}`, {
        cause: e2,
      });
    }
  }
}

/** The SQLite implementation of `Store`. Create it with `openStore`. */
export class SqliteStore implements Store {
  /** File path or `:memory:`. */
  readonly location: string;
  /** The underlying connection (for tests and benchmarks). */
  readonly db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  #commitStep: StatementSync;
  #commitStepRef: StatementSync;
  #insertCheckpoint: StatementSync;

  /** Opens (and when allowed creates) a Loom database. */
  constructor(path: string, options: OpenStoreOptions = {}) {
    this.location = path;
    const memory = path === ":memory:" || path === "";
    const readOnly = !memory && options.readOnly === true;
    const info = memory ? undefined : fileExists(path);
    if (!memory && !info && (options.create === false || readOnly)) {
      throw new RunnerError(`database file ${path} does not exist`);
    }
    if (info?.isDirectory) throw new RunnerError(`${path} is a directory, not a database file`);
    const isNewFile = memory || !info || info.size === 0;
    if (!memory && info && info.size === 0 && (options.create === false || readOnly)) {
      throw new RunnerError(`${path} is an empty file, not a Loom database`);
    }
    if (!memory && !isNewFile && !readOnly && !writable(path)) {
      throw new ReadOnlyDatabaseError(path);
    }
    this.db = readOnly ? openReadOnly(path) : openDatabase(path);
    if (!memory) this.#register(1);
    try {
      this.db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      if (readOnly) this.#checkHeader(false, true);
      else this.#prepareForWriting(isNewFile, memory, options);
      this.db.exec("PRAGMA foreign_keys = OFF");
    } catch (e) {
      try {
        this.db.close();
      } catch { /* already unusable */ }
      if (!memory) this.#register(-1);
      if (e instanceof RunnerError) throw e;
      if (isReadOnlyError(e)) throw new ReadOnlyDatabaseError(path, { cause: e });
      throw new RunnerError(
        `${path} is not a Loom database or is corrupt (SQLite: ${(e as Error).message})`,
        { cause: e },
      );
    }
    const guard = `WHERE EXISTS
         (SELECT 1 FROM runs WHERE run_id = ? AND lease_owner = ? AND status = 'running')
       ON CONFLICT DO NOTHING`;
    this.#commitStep = this.db.prepare(
      `INSERT INTO steps (run_id, step, attempt, started_at, duration_ms, state)
       SELECT ?, ?, ?, ?, ?, ? ${guard}`,
    );
    this.#commitStepRef = this.db.prepare(
      `INSERT INTO steps (run_id, step, attempt, started_at, duration_ms, checkpoint)
       SELECT ?, ?, ?, ?, ?, ? ${guard}`,
    );
    this.#insertCheckpoint = this.db.prepare(
      "INSERT INTO checkpoints (state, delta) VALUES (?, ?)",
    );
  }

  /** Header, integrity check, then the first writes: page size, migrations, WAL, durability. */
  #prepareForWriting(isNewFile: boolean, memory: boolean, options: OpenStoreOptions): void {
    if (isNewFile && options.pageSize !== undefined) {
      const ps = options.pageSize;
      if (!Number.isInteger(ps) || ps < 512 || ps > 65536 || (ps & (ps - 1)) !== 0) {
        throw new RunnerError(`page size must be a power of two from 512 to 65536, got ${ps}`);
      }
      this.db.exec(`PRAGMA page_size = ${ps}`);
    }
    const version = this.#checkHeader(isNewFile, false);
    if (!isNewFile && (options.integrityCheck ?? "quick") === "quick") this.#quickCheck();
    // Before the first table: deleted runs' pages can be freed in short transactions (space.ts).
    if (isNewFile) this.db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    this.#migrate(version);
    if (!memory) this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec(`PRAGMA journal_size_limit = ${walSizeLimit(options.walSizeLimit)}`);
    this.db.exec(`PRAGMA synchronous = ${options.durability === "fsync" ? "FULL" : "NORMAL"}`);
  }

  /** Checks the Loom marker and the schema version; returns the version. */
  #checkHeader(isNewFile: boolean, readOnly: boolean): number {
    const appId = (this.db.prepare("PRAGMA application_id").get() as { application_id: number })
      .application_id;
    const version = (this.db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    const tables = (this.db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as {
      n: number;
    }).n;
    if (appId !== LOOM_APPLICATION_ID) {
      if (readOnly || tables > 0 || appId !== 0 || !isNewFile && version !== 0) {
        throw new RunnerError(`${this.location} is not a Loom database`);
      }
    }
    if (version > SCHEMA_VERSION) {
      throw new RunnerError(
        `${this.location} has schema version ${version}, newer than this runner supports (${SCHEMA_VERSION}); upgrade @loom/runner`,
      );
    }
    if (readOnly && version < SCHEMA_VERSION) {
      throw new RunnerError(
        `${this.location} has schema version ${version} and is opened read-only; open it once with write access to upgrade it to version ${SCHEMA_VERSION}`,
      );
    }
    return version;
  }

  /** `PRAGMA quick_check`: refuses a corrupt file before anything is written to it. */
  #quickCheck(): void {
    const rows = this.db.prepare("PRAGMA quick_check(1)").all() as { quick_check: string }[];
    const first = rows[0]?.quick_check ?? "no answer";
    if (first === "ok") return;
    const detail = first.replace(/\*\*\* in database \w+ \*\*\*/, "").replace(/\s+/g, " ").trim();
    throw new CorruptDatabaseError(this.location, detail);
  }

  /** Brings the schema from `version` to the current one, in one transaction. */
  #migrate(version: number): void {
    if (version === SCHEMA_VERSION) return;
    this.db.exec("BEGIN IMMEDIATE");
    try {
      // Read again under the write lock: another process opening the same new file may have
      // migrated it between our first read and the lock.
      const from = (this.db.prepare("PRAGMA user_version").get() as { user_version: number })
        .user_version;
      for (let v = Math.max(from, version); v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]);
      this.db.exec(`PRAGMA application_id = ${LOOM_APPLICATION_ID}`);
      this.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  #stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  #run(sql: string, ...params: Param[]): number {
    return Number(this.#stmt(sql).run(...params).changes);
  }

  #get<T>(sql: string, ...params: Param[]): T | undefined {
    return this.#stmt(sql).get(...params) as T | undefined;
  }

  #all<T>(sql: string, ...params: Param[]): T[] {
    return this.#stmt(sql).all(...params) as T[];
  }

  #tx<T>(fn: () => T): T {
    this.#stmt("BEGIN IMMEDIATE").run();
    try {
      const out = fn();
      this.#stmt("COMMIT").run();
      return out;
    } catch (e) {
      if (this.db.isTransaction) this.#stmt("ROLLBACK").run();
      throw e;
    }
  }

  /** Closes the connection. */
  close(): void {
    if (!this.db.isOpen) return;
    this.db.close();
    if (this.location !== ":memory:" && this.location !== "") this.#register(-1);
  }

  /** Counts this connection in `openHere`. */
  #register(delta: 1 | -1): void {
    const key = resolve(this.location);
    const n = (openHere.get(key) ?? 0) + delta;
    if (n > 0) openHere.set(key, n);
    else openHere.delete(key);
  }

  /** Creates a run. */
  createRun(r: RunRecord): void {
    const exists = () => new RunnerError(`run ${r.runId} already exists in ${this.location}`);
    if (this.#get("SELECT 1 FROM runs WHERE run_id = ?", r.runId)) throw exists();
    try {
      this.#insertRun(r);
    } catch (e) {
      // Another process created the same run between the check and the insert.
      if (/UNIQUE constraint failed/.test((e as Error).message)) throw exists();
      throw e;
    }
  }

  #insertRun(r: RunRecord): void {
    const params = runParams(r);
    this.#run(
      `INSERT INTO runs (${RUN_INSERT_COLUMNS}) VALUES (${marks(params.length, QUESTION_MARK)})`,
      ...params,
    );
  }

  /** One run. */
  getRun(runId: string): RunRecord | undefined {
    return this.#get<RunRecord>(`SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ?`, runId);
  }

  /** Runs, last changed first. */
  listRuns(filter: RunFilter = {}): RunRecord[] {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) {
      where.push("status = ?");
      params.push(filter.status);
    }
    if (filter.parentRunId !== undefined) {
      where.push("parent_run_id = ?");
      params.push(filter.parentRunId);
    }
    if (filter.updatedBefore !== undefined) {
      where.push("updated_at < ?");
      params.push(filter.updatedBefore);
    }
    if (filter.endedBefore !== undefined) {
      where.push("ended_at < ?");
      params.push(filter.endedBefore);
    }
    const sql = `SELECT ${RUN_COLUMNS} FROM runs${
      where.length ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY updated_at DESC, run_id${limitClause(filter)}`;
    return this.#all<RunRecord>(sql, ...params);
  }

  /** Compare-and-set of the lease (see `Store.takeLease`): one guarded UPDATE. */
  takeLease(runId: string, expected: LeaseState, owner: string, expires: number): boolean {
    return this.#run(
      `UPDATE runs SET lease_owner = ?, lease_expires = ?, status = 'running', updated_at = ?
       WHERE run_id = ? AND lease_owner IS ? AND lease_expires IS ? AND status = ?`,
      owner,
      expires,
      Date.now(),
      runId,
      expected.owner,
      expected.expires,
      expected.status,
    ) === 1;
  }

  /** Extends the lease. */
  renewLease(runId: string, owner: string, ttlMs: number): RunStatus | null {
    const changed = this.#run(
      "UPDATE runs SET lease_expires = ? WHERE run_id = ? AND lease_owner = ?",
      Date.now() + ttlMs,
      runId,
      owner,
    );
    if (changed === 0) return null;
    return this.#get<{ status: RunStatus }>("SELECT status FROM runs WHERE run_id = ?", runId)
      ?.status ?? null;
  }

  /** Patches an owned, running run. */
  updateOwnedRun(runId: string, owner: string, patch: RunPatch): boolean {
    const params: Param[] = [];
    const sets = patchSql(patch, params, QUESTION_MARK);
    return this.#run(
      `UPDATE runs SET ${sets} WHERE run_id = ? AND lease_owner = ? AND status = 'running'`,
      ...params,
      runId,
      owner,
    ) === 1;
  }

  /** Patches a run in one of the given statuses. */
  updateRunIf(runId: string, from: readonly RunStatus[], patch: RunPatch): boolean {
    const params: Param[] = [];
    const sets = patchSql(patch, params, QUESTION_MARK);
    return this.#run(
      `UPDATE runs SET ${sets} WHERE run_id = ? AND status IN (${
        marks(from.length, QUESTION_MARK)
      })`,
      ...params,
      runId,
      ...from,
    ) === 1;
  }

  /**
   * Hot path: one guarded INSERT, i.e. one implicit transaction. A delta or a large checkpoint
   * goes to `checkpoints` first, in the same transaction.
   */
  commitStep(s: StepRecord, owner: string): boolean {
    const delta = s.delta ?? null;
    if (delta === null && inline(s.state)) {
      return this.#commitStep.run(
        s.runId,
        s.step,
        s.attempt,
        s.startedAt,
        s.durationMs,
        s.state,
        s.runId,
        owner,
      ).changes === 1;
    }
    const commit = () => {
      const id = this.#insertCheckpoint.run(s.state, delta).lastInsertRowid;
      const { runId, step, attempt, startedAt, durationMs } = s;
      const row = [runId, step, attempt, startedAt, durationMs, id, runId, owner] as const;
      if (this.#commitStepRef.run(...row).changes !== 1) throw NOT_COMMITTED;
      return true;
    };
    try {
      return this.db.isTransaction ? commit() : this.#tx(commit);
    } catch (e) {
      if (e === NOT_COMMITTED) return false;
      throw e;
    }
  }

  /** Final step row and the run's patch in one transaction. */
  commitFinal(s: StepRecord, owner: string, patch: RunPatch): boolean {
    return this.#tx(() => {
      if (!this.commitStep(s, owner)) return false;
      const params: Param[] = [];
      const sets = patchSql(patch, params, QUESTION_MARK);
      this.#run(`UPDATE runs SET ${sets} WHERE run_id = ?`, ...params, s.runId);
      return true;
    });
  }

  /**
   * Drops checkpoints that the compact policy does not keep. A kept delta whose base is dropped
   * (a kept step's, and the one after `to`) is first stored whole, so no delta chain breaks.
   */
  compactSteps(runId: string, from: number, to: number, every: number): void {
    this.#tx(() => {
      const rebase = this.#all<{ step: number; id: number }>(
        `SELECT s.step, s.checkpoint AS id FROM steps s JOIN checkpoints c ON c.id = s.checkpoint
         WHERE s.run_id = ? AND s.step BETWEEN ? AND ? AND c.delta IS NOT NULL
           AND s.step % ? != 0 AND (s.step = ? OR (s.step + 1) % ? = 0) ORDER BY s.step`,
        runId,
        from + 1,
        to + 1,
        every,
        to + 1,
        every,
      );
      for (const { step, id } of rebase) {
        this.#run(
          "UPDATE checkpoints SET state = ?, delta = NULL WHERE id = ?",
          this.#stateAt(runId, step),
          id,
        );
      }
      const dropped =
        `FROM steps WHERE run_id = ? AND step BETWEEN ? AND ? AND (step + 1) % ? != 0`;
      this.#run(
        `DELETE FROM checkpoints WHERE id IN (SELECT checkpoint ${dropped})`,
        runId,
        from,
        to,
        every,
      );
      this.#run(
        `UPDATE steps SET state = NULL, checkpoint = NULL WHERE run_id = ? AND step BETWEEN ? AND ?
           AND (step + 1) % ? != 0 AND (state IS NOT NULL OR checkpoint IS NOT NULL)`,
        runId,
        from,
        to,
        every,
      );
    });
  }

  /** The checkpoint after `step`, rebuilt from the snapshot before it and the deltas since. */
  #stateAt(runId: string, step: number): string {
    return rebuildChain(runId, step, this.#all<ChainRow>(CHAIN_ROWS, runId, step));
  }

  /** Records of stored rows: every delta applied (see `_steps.ts`). */
  #records(runId: string, rows: StepRow[]): StepRecord[] {
    const bases = new Map<number, string>();
    for (const step of basesNeeded(rows)) bases.set(step, this.#stateAt(runId, step));
    return resolveRows(runId, rows, bases);
  }

  #record(row: StepRow | undefined): StepRecord | undefined {
    if (row === undefined) return undefined;
    const { delta, ...record } = row;
    if (delta !== null) record.state = this.#stateAt(row.runId, row.step);
    return record;
  }

  /** Latest step row. */
  lastStep(runId: string): StepRecord | undefined {
    return this.#record(this.#get<StepRow>(
      `${STEP_ROWS} WHERE s.run_id = ? ORDER BY s.step DESC LIMIT 1`,
      runId,
    ));
  }

  /** One step row. */
  getStep(runId: string, step: number): StepRecord | undefined {
    return this.#record(this.#get<StepRow>(
      `${STEP_ROWS} WHERE s.run_id = ? AND s.step = ?`,
      runId,
      step,
    ));
  }

  /** Step rows. */
  listSteps(runId: string, page: Page & { fromStep?: number } = {}): StepRecord[] {
    return this.#records(
      runId,
      this.#all<StepRow>(
        `${STEP_ROWS} WHERE s.run_id = ? AND s.step >= ? ORDER BY s.step${limitClause(page)}`,
        runId,
        page.fromStep ?? -1,
      ),
    );
  }

  /** Step summary. */
  stepStats(runId: string): StepStats {
    return this.#get<StepStats>(`${STEP_STATS} WHERE run_id = ?`, runId)!;
  }

  /** Records a failed attempt. */
  recordFailedAttempt(a: FailedAttemptRecord): void {
    const params = failedAttemptParams(a);
    this.#run(
      `INSERT OR REPLACE INTO failed_attempts (${FAILED_ATTEMPT_INSERT_COLUMNS})
       VALUES (${marks(params.length, QUESTION_MARK)})`,
      ...params,
    );
  }

  /** The failed attempt with the highest number in a scope. */
  lastFailedAttempt(runId: string, step: number, scope: string): FailedAttemptRecord | undefined {
    return this.#get<FailedAttemptRecord>(
      `SELECT ${FAILED_ATTEMPT_COLUMNS} FROM failed_attempts
       WHERE run_id = ? AND step = ? AND scope = ?
       ORDER BY attempt DESC LIMIT 1`,
      runId,
      step,
      scope,
    );
  }

  /** Failed attempts. */
  listFailedAttempts(
    runId: string,
    page: Page & { step?: number; scope?: string } = {},
  ): FailedAttemptRecord[] {
    const where = ["run_id = ?"];
    const params: Param[] = [runId];
    if (page.step !== undefined) {
      where.push("step = ?");
      params.push(page.step);
    }
    if (page.scope !== undefined) {
      where.push("scope = ?");
      params.push(page.scope);
    }
    return this.#all<FailedAttemptRecord>(
      `SELECT ${FAILED_ATTEMPT_COLUMNS} FROM failed_attempts WHERE ${
        where.join(" AND ")
      } ORDER BY step, started_at, scope, attempt${limitClause(page)}`,
      ...params,
    );
  }

  /** Number of failed attempts. */
  countFailedAttempts(runId: string): number {
    return this.#get<{ n: number }>(
      "SELECT count(*) AS n FROM failed_attempts WHERE run_id = ?",
      runId,
    )!.n;
  }

  #call(row: CallRecord | undefined): CallRecord | undefined {
    if (row) row.capped = Boolean(row.capped);
    return row;
  }

  /** One call. */
  getCall(runId: string, key: string): CallRecord | undefined {
    return this.#call(
      this.#get<CallRecord>(
        `SELECT ${CALL_COLUMNS} FROM calls WHERE run_id = ? AND key = ?`,
        runId,
        key,
      ),
    );
  }

  #putCall(c: CallRecord): void {
    const params = callParams(c, (capped) => capped ? 1 : 0);
    this.#run(
      `INSERT OR REPLACE INTO calls (${CALL_INSERT_COLUMNS})
       VALUES (${marks(params.length, QUESTION_MARK)})`,
      ...params,
    );
  }

  /** Inserts or replaces a call. */
  putCall(c: CallRecord): void {
    this.#putCall(c);
  }

  /** Calls in order. */
  listCalls(runId: string, page: Page & { step?: number; kind?: string } = {}): CallRecord[] {
    const where = ["run_id = ?"];
    const params: Param[] = [runId];
    if (page.step !== undefined) {
      where.push("step = ?");
      params.push(page.step);
    }
    if (page.kind !== undefined) {
      where.push("kind = ?");
      params.push(page.kind);
    }
    return this.#all<CallRecord>(
      `SELECT ${CALL_COLUMNS} FROM calls WHERE ${
        where.join(" AND ")
      } ORDER BY step, started_at, key${limitClause(page)}`,
      ...params,
    ).map((c) => this.#call(c)!);
  }

  /** Call counts. */
  countCalls(runId: string): { kind: string; name: string; status: string; n: number }[] {
    return this.#all(
      `SELECT kind, name, status, count(*) AS n FROM calls WHERE run_id = ?
       GROUP BY kind, name, status ORDER BY kind, name, status`,
      runId,
    );
  }

  /** Adds a signal. */
  addSignal(runId: string, name: string, data: string, at: number): number {
    return this.#tx(() => {
      const seq = this.#get<{ n: number }>(
        "SELECT coalesce(max(seq), 0) + 1 AS n FROM signals WHERE run_id = ?",
        runId,
      )!.n;
      this.#run(
        "INSERT INTO signals (run_id, seq, name, data, sent_at) VALUES (?,?,?,?,?)",
        runId,
        seq,
        name,
        data,
        at,
      );
      return seq;
    });
  }

  /** Oldest unconsumed signal of a name. */
  nextSignal(runId: string, name: string): SignalRecord | undefined {
    return this.#get<SignalRecord>(
      `SELECT ${SIGNAL_COLUMNS} FROM signals WHERE run_id = ? AND name = ?
         AND consumed_by IS NULL AND rejected IS NULL ORDER BY seq LIMIT 1`,
      runId,
      name,
    );
  }

  /** Consumes or rejects a signal. */
  consumeSignal(
    runId: string,
    seq: number,
    consumer: { call: CallRecord } | { rejected: string },
  ): void {
    this.#tx(() => {
      if ("call" in consumer) {
        this.#run(
          "UPDATE signals SET consumed_by = ? WHERE run_id = ? AND seq = ?",
          consumer.call.key,
          runId,
          seq,
        );
        this.#putCall(consumer.call);
      } else {
        this.#run(
          "UPDATE signals SET rejected = ? WHERE run_id = ? AND seq = ?",
          consumer.rejected,
          runId,
          seq,
        );
      }
    });
  }

  /** Signals. */
  listSignals(runId: string, page: Page = {}): SignalRecord[] {
    return this.#all<SignalRecord>(
      `SELECT ${SIGNAL_COLUMNS} FROM signals WHERE run_id = ? ORDER BY seq${limitClause(page)}`,
      runId,
    );
  }

  /** Appends an event. */
  addEvent(runId: string, kind: string, message: string, data: string | null = null): void {
    this.#run(
      `INSERT INTO events (run_id, seq, at, kind, message, data)
       SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ? FROM events WHERE run_id = ?`,
      runId,
      Date.now(),
      kind,
      message,
      data,
      runId,
    );
  }

  /** Events. */
  listEvents(runId: string, page: Page = {}): EventRecord[] {
    return this.#all<EventRecord>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq${limitClause(page)}`,
      runId,
    );
  }

  /** Deletes a run's rows. */
  deleteRun(runId: string): boolean {
    return this.#tx(() => {
      this.#run(
        "DELETE FROM checkpoints WHERE id IN (SELECT checkpoint FROM steps WHERE run_id = ?)",
        runId,
      );
      for (const t of ["steps", "failed_attempts", "calls", "signals", "events"]) {
        this.#run(`DELETE FROM ${t} WHERE run_id = ?`, runId);
      }
      return this.#run("DELETE FROM runs WHERE run_id = ?", runId) === 1;
    });
  }

  /** `PRAGMA integrity_check`; empty when ok. */
  integrityCheck(): string[] {
    const rows = this.db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    const msgs = rows.map((r) => r.integrity_check);
    return msgs.length === 1 && msgs[0] === "ok" ? [] : msgs;
  }

  /** Database size in bytes (pages in use, WAL excluded). */
  sizeBytes(): number {
    const pc = this.db.prepare("PRAGMA page_count").get() as { page_count: number };
    const fc = this.db.prepare("PRAGMA freelist_count").get() as { freelist_count: number };
    const ps = this.db.prepare("PRAGMA page_size").get() as { page_size: number };
    return (pc.page_count - fc.freelist_count) * ps.page_size;
  }

  /** Runs `VACUUM` (after deletes). */
  vacuum(): void {
    this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    this.db.exec("VACUUM");
  }
}

/**
 * Opens a store. A path (or `:memory:`) opens SQLite. A file that is not a Loom database, or is
 * corrupt, fails with one clear `RunnerError`.
 *
 * @param path The SQLite file (created when missing, unless `create: false`), or `:memory:`.
 * @param options Durability, and whether a missing file may be created.
 * @returns The open store; `close()` it when done.
 * @throws {RunnerError} When the file is not a Loom database, is corrupt, or cannot be opened.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { defineAgent, openStore, startRun } from "@loom/runner";
 *
 * const dir = await Deno.makeTempDir();
 * const store = openStore(`${dir}/runs.sqlite`); // or { durability: "fsync" }
 * const hello = defineAgent({ name: "hello", initialState: () => ({}), step: () => "hi" });
 * await startRun(hello, { store, runId: "r1" });
 * equal((await store.getRun("r1"))?.status, "completed");
 * store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openStore(path: string, options: OpenStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

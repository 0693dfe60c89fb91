/**
 * Space a store takes: on disk, per run, and how deleted rows give it back to the file system.
 * Each store has an implementation of `StoreSpace` (`sqlite_space.ts`, `postgres/space.ts`, the
 * latter returned by `PostgresStore.space()`); `spaceOf(store)` finds it for any `Store`. `deleteRun`, `pruneRuns` and
 * `verifyRun` (in `inspect/`) use it.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { SqliteStore } from "./sqlite.ts";
import { SqliteSpace } from "./sqlite_space.ts";
import type { MaybePromise, Store } from "./store.ts";

/** Rows and bytes of one run in one table. */
export interface TableSize {
  /** The run's rows in the table. */
  rows: number;
  /**
   * Bytes of those rows' values as stored (SQLite: the bytes of each text and blob, 8 per number;
   * PostgreSQL: `pg_column_size` of each row, compressed values counted compressed), without the
   * B-tree's own overhead.
   */
  bytes: number;
}

/** What one run takes in the store: its rows in every table that holds rows of runs. */
export interface RunSize {
  /** Sum of `bytes` over the tables. */
  bytes: number;
  /** Per table (`runs`, `steps`, `calls`, `events`, `signals`, `failed_attempts`, ...). */
  tables: Record<string, TableSize>;
}

/** How `StoreSpace.reclaim` gave space back. */
export type ReclaimMethod =
  /** SQLite `PRAGMA incremental_vacuum`, a bounded number of pages per transaction. */
  | "incremental-vacuum"
  /** SQLite `VACUUM` (rewrites the file; also turns on incremental vacuum for later). */
  | "vacuum"
  /** PostgreSQL `VACUUM` of the store's tables (frees the rows; returns trailing pages). */
  | "pg-vacuum"
  /** PostgreSQL `VACUUM FULL` (rewrites the tables, returning all free space). */
  | "pg-vacuum-full"
  /** Nothing was done (asked not to). */
  | "none";

/** Bytes before and after giving space back. */
export interface SpaceReport {
  /** Bytes on disk before the rows were deleted (see `StoreSpace.diskBytes`). */
  bytesBefore: number;
  /** Bytes on disk afterwards. */
  bytesAfter: number;
  /** `bytesBefore - bytesAfter` (0 when the store did not shrink). */
  reclaimedBytes: number;
  /** How the space was given back. */
  method: ReclaimMethod;
  /**
   * SQLite: whether the WAL file was truncated to zero bytes (false when another connection was
   * still reading an older snapshot; the WAL is then reused and cut to the WAL size limit later).
   * Always true for PostgreSQL, which has no such file per store.
   */
  walTruncated: boolean;
}

/** Options of `StoreSpace.reclaim`. */
export interface ReclaimOptions {
  /**
   * Rewrite everything: SQLite `VACUUM` (holds the write lock while it copies the file),
   * PostgreSQL `VACUUM FULL` (locks each table while it rewrites it). Otherwise SQLite frees pages
   * in short transactions (`incremental_vacuum`; a file written before incremental vacuum was
   * turned on gets one `VACUUM` first), and PostgreSQL runs a plain `VACUUM`.
   * @default false
   */
  full?: boolean;
}

/** Options of `StoreSpace.trimRun`. */
export interface TrimOptions {
  /** Rows deleted per transaction at most. @default 500 */
  batchRows?: number;
  /** Called after each committed batch (progress; tests check the lock is free then). */
  onBatch?: (batch: { table: string; rows: number }) => MaybePromise<void>;
}

/** The space operations of a store. */
export interface StoreSpace {
  /**
   * True when one write transaction blocks every other writer (SQLite): long deletes then pause
   * between their transactions so a running run keeps committing.
   */
  readonly singleWriter: boolean;
  /**
   * Bytes the store takes on disk: SQLite the database file and its WAL (`-wal`); PostgreSQL the
   * `pg_total_relation_size` of the store's tables (with their indexes and TOAST).
   */
  diskBytes(): MaybePromise<number>;
  /** What one run's rows take, per table. */
  runBytes(runId: string): MaybePromise<RunSize>;
  /**
   * Deletes a large run's rows (never its `runs` row) in transactions of at most `batchRows` rows,
   * pausing between them so that other writers get the lock, until fewer than `batchRows` are
   * left in each table; `Store.deleteRun` then removes the rest at once. A run with fewer rows
   * than `batchRows` in all is left as it is. Returns the batches committed (0 for PostgreSQL,
   * where a delete locks only the run's own rows and never delays another run's commits).
   */
  trimRun(runId: string, options?: TrimOptions): Promise<number>;
  /** Gives free space back to the file system (see `ReclaimOptions`). */
  reclaim(bytesBefore: number, options?: ReclaimOptions): Promise<SpaceReport>;
}

/**
 * The space operations of `store`: `SqliteSpace` for a `SqliteStore`, else the store's own
 * `space()` method (`PostgresStore`, or a wrapper that forwards it).
 *
 * @throws {RunnerError} When the store has neither.
 */
export function spaceOf(store: Store): StoreSpace {
  if (store instanceof SqliteStore) return new SqliteSpace(store);
  const space = (store as { space?: () => StoreSpace }).space;
  if (typeof space !== "function") {
    throw new RunnerError(`the store ${store.location} cannot report or give back its space`);
  }
  return space.call(store);
}

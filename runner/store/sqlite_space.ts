/**
 * Space of a SQLite store (see `space.ts`): the file and its WAL on disk, a run's rows, deleting a
 * large run in short transactions, and giving freed pages back to the file system.
 *
 * New files use `auto_vacuum = INCREMENTAL` (set by `sqlite.ts` before the first table), so
 * `reclaim` frees pages with `PRAGMA incremental_vacuum` in short transactions, and other writers
 * (a running run) get the lock in between. A file created before that setting existed gets one
 * `VACUUM` on its first reclaim, which also turns incremental vacuum on for it. The WAL is then
 * cut with `PRAGMA wal_checkpoint(TRUNCATE)`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type {
  ReclaimOptions,
  RunSize,
  SpaceReport,
  StoreSpace,
  TableSize,
  TrimOptions,
} from "./space.ts";

/** Pages freed per `incremental_vacuum` transaction (4 MiB with 4 KiB pages). */
const VACUUM_PAGES = 1024;
/** Rows deleted per transaction by `trimRun` unless told otherwise. */
const BATCH_ROWS = 500;
/** Longest pause between two batches, ms (each pause lasts as long as the batch did). */
const MAX_PAUSE_MS = 50;

/** A table without `run_id` whose rows belong to a run through a column of a run's table. */
interface OwnedTable {
  /** The table. */
  name: string;
  columns: string[];
  /** Its key column. */
  key: string;
  /** The column of the run's table that holds that key. */
  ref: string;
}

/**
 * Tables whose rows a run owns without a `run_id` of their own (used when the schema has them):
 * `checkpoints` (schema 3), the large checkpoints and deltas a `steps` row names.
 */
const OWNED: { owner: string; name: string; key: string; ref: string }[] = [
  { owner: "steps", name: "checkpoints", key: "id", ref: "checkpoint" },
];

/** A table holding rows of runs: its name, columns, and the key to delete its rows by. */
interface RunTable {
  name: string;
  columns: string[];
  /** Key columns after `run_id` (WITHOUT ROWID tables), or `["rowid"]`. */
  key: string[];
  /** Tables whose rows its rows own (deleted with them). */
  owned: OwnedTable[];
}

/** What `SqliteSpace` needs of a store: its connection and where it lives. */
export interface SqliteSpaceTarget {
  /** The connection. */
  readonly db: DatabaseSync;
  /** File path or `:memory:`. */
  readonly location: string;
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** SQL: the bytes of a row's values (texts and blobs as stored, 8 per number). */
function valueBytes(columns: string[]): string {
  return columns.map((c) =>
    `CASE typeof(${quote(c)}) WHEN 'null' THEN 0 WHEN 'integer' THEN 8 WHEN 'real' THEN 8
       ELSE length(CAST(${quote(c)} AS BLOB)) END`
  ).join(" + ");
}

/** SQL: the keys of `o`'s rows owned by the rows of `t` that match `where`. */
function ownedKeys(t: RunTable, o: OwnedTable, where: string): string {
  return `SELECT ${quote(o.ref)} FROM ${quote(t.name)} WHERE ${where} AND ${
    quote(o.ref)
  } IS NOT NULL`;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(MAX_PAUSE_MS, Math.max(1, ms))));
}

/** The SQLite implementation of `StoreSpace`. */
export class SqliteSpace implements StoreSpace {
  /** One writer at a time. */
  readonly singleWriter = true;
  readonly #db: DatabaseSync;
  readonly #location: string;
  #tables: RunTable[] | undefined;

  /** Space operations on `store`'s connection. */
  constructor(store: SqliteSpaceTarget) {
    this.#db = store.db;
    this.#location = store.location;
  }

  #pragma(name: string): number {
    return Number(Object.values(this.#db.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
  }

  #inMemory(): boolean {
    return this.#location === ":memory:" || this.#location === "";
  }

  /** The database file plus its WAL, in bytes (pages in use for an in-memory database). */
  diskBytes(): number {
    if (this.#inMemory()) return this.#pragma("page_count") * this.#pragma("page_size");
    return fileSize(this.#location) + fileSize(`${this.#location}-wal`);
  }

  #columns(table: string): { name: string; pk: number }[] {
    return this.#db.prepare(`PRAGMA table_info(${quote(table)})`).all() as {
      name: string;
      pk: number;
    }[];
  }

  /**
   * Tables with a `run_id` column, found in the schema (so new tables are counted too), with the
   * tables their rows own (`OWNED`).
   */
  #runTables(): RunTable[] {
    if (this.#tables) return this.#tables;
    const tables = this.#db.prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
       ORDER BY name`,
    ).all() as { name: string; sql: string }[];
    const names = new Set(tables.map((t) => t.name));
    const out: RunTable[] = [];
    for (const t of tables) {
      const info = this.#columns(t.name);
      if (!info.some((c) => c.name === "run_id")) continue;
      const owned = OWNED.filter((o) =>
        o.owner === t.name && names.has(o.name) && info.some((c) => c.name === o.ref)
      ).map((o) => ({ ...o, columns: this.#columns(o.name).map((c) => c.name) }));
      const withoutRowid = /WITHOUT\s+ROWID/i.test(t.sql);
      const key = withoutRowid
        ? info.filter((c) => c.pk > 0 && c.name !== "run_id").sort((a, b) => a.pk - b.pk).map((
          c,
        ) => c.name)
        : ["rowid"];
      out.push({ name: t.name, columns: info.map((c) => c.name), key, owned });
    }
    return this.#tables = out;
  }

  /** Bytes of the run's values in every table that holds rows of runs. */
  runBytes(runId: string): RunSize {
    const tables: Record<string, TableSize> = {};
    let bytes = 0;
    const add = (name: string, columns: string[], where: string) => {
      const row = this.#db.prepare(
        `SELECT count(*) AS rows, coalesce(sum(${valueBytes(columns)}), 0) AS bytes
         FROM ${quote(name)} WHERE ${where}`,
      ).get(runId) as { rows: number; bytes: number };
      tables[name] = { rows: Number(row.rows), bytes: Number(row.bytes) };
      bytes += Number(row.bytes);
    };
    for (const t of this.#runTables()) {
      add(t.name, t.columns, "run_id = ?");
      for (const o of t.owned) {
        add(o.name, o.columns, `${quote(o.key)} IN (${ownedKeys(t, o, "run_id = ?")})`);
      }
    }
    return { bytes, tables };
  }

  /** Deletes a large run's rows in short transactions (see `StoreSpace.trimRun`). */
  async trimRun(runId: string, options: TrimOptions = {}): Promise<number> {
    const { batchRows = BATCH_ROWS, onBatch } = options;
    if (!Number.isInteger(batchRows) || batchRows < 1) {
      throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
    }
    const tables = this.#runTables().filter((t) => t.name !== "runs");
    const count = (t: RunTable) =>
      Number(
        (this.#db.prepare(`SELECT count(*) AS n FROM ${quote(t.name)} WHERE run_id = ?`).get(
          runId,
        ) as { n: number }).n,
      );
    const counts = tables.map(count);
    if (counts.reduce((a, b) => a + b, 0) <= batchRows) return 0;
    let batches = 0;
    for (const [i, t] of tables.entries()) {
      // The highest keys first: what is left of steps stays a readable prefix of the run.
      const keys = t.key.map(quote).join(", ");
      const batch = `run_id = ? AND (${keys}) IN (SELECT ${keys} FROM ${
        quote(t.name)
      } WHERE run_id = ? ORDER BY ${t.key.map((k) => `${quote(k)} DESC`).join(", ")} LIMIT ?)`;
      // Owned rows first (their keys are read from the rows about to go), in the same transaction.
      const dels = [
        ...t.owned.map((o) =>
          this.#db.prepare(
            `DELETE FROM ${quote(o.name)} WHERE ${quote(o.key)} IN (${ownedKeys(t, o, batch)})`,
          )
        ),
        this.#db.prepare(`DELETE FROM ${quote(t.name)} WHERE ${batch}`),
      ];
      for (let left = counts[i]; left >= batchRows;) {
        const t0 = performance.now();
        this.#db.exec("BEGIN IMMEDIATE");
        let rows: number;
        try {
          rows = 0;
          for (const del of dels) rows = Number(del.run(runId, runId, batchRows).changes);
          this.#db.exec("COMMIT");
        } catch (e) {
          if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
          throw e;
        }
        batches++;
        left -= rows;
        await onBatch?.({ table: t.name, rows });
        await pause(performance.now() - t0);
        if (rows === 0) break;
      }
    }
    return batches;
  }

  /**
   * `wal_checkpoint(TRUNCATE)` without waiting: a connection reading an older snapshot (a viewer,
   * an inspection command) would otherwise hold it for the whole busy timeout. False when it
   * could not truncate; the WAL size limit then cuts the file after a later checkpoint.
   */
  #truncateWal(): boolean {
    const timeout = this.#pragma("busy_timeout");
    this.#db.exec("PRAGMA busy_timeout = 0");
    try {
      const cp = this.#db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number };
      return Number(cp.busy) === 0;
    } finally {
      this.#db.exec(`PRAGMA busy_timeout = ${timeout}`);
    }
  }

  /** Frees pages and truncates the WAL (see `ReclaimOptions`). */
  async reclaim(bytesBefore: number, options: ReclaimOptions = {}): Promise<SpaceReport> {
    const incremental = this.#pragma("auto_vacuum") === 2;
    let method: SpaceReport["method"];
    if (options.full || !incremental) {
      // Turning incremental vacuum on takes effect with this VACUUM.
      if (!incremental) this.#db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      this.#db.exec("VACUUM");
      method = "vacuum";
    } else {
      method = "incremental-vacuum";
      for (let free = this.#pragma("freelist_count"); free > 0;) {
        const t0 = performance.now();
        this.#db.prepare(`PRAGMA incremental_vacuum(${VACUUM_PAGES})`).all();
        const left = this.#pragma("freelist_count");
        if (left >= free) break; // nothing more can be freed now
        free = left;
        if (free > 0) await pause(performance.now() - t0);
      }
    }
    const walTruncated = this.#inMemory() || this.#truncateWal();
    const bytesAfter = this.diskBytes();
    return {
      bytesBefore,
      bytesAfter,
      reclaimedBytes: Math.max(0, bytesBefore - bytesAfter),
      method,
      walTruncated,
    };
  }
}

/**
 * Space of a PostgreSQL store (see `../space.ts`): `pg_total_relation_size` of the store's tables,
 * `pg_column_size` of a run's rows, and `VACUUM` (outside any transaction) after deletes.
 *
 * A plain `VACUUM` makes deleted rows' space reusable by new rows and returns empty pages at the
 * end of a table to the file system, without blocking reads or writes; `VACUUM FULL` rewrites each
 * table and returns all free space, but locks the table while it does. Rows deleted while an older
 * transaction of the same database is still open stay until that transaction ends.
 *
 * @module
 */
import { all, one, type Sql } from "./_db.ts";
import type { ReclaimOptions, RunSize, SpaceReport, StoreSpace, TableSize } from "../space.ts";

/** The PostgreSQL implementation of `StoreSpace`, for the store in `schema`. */
export class PostgresSpace implements StoreSpace {
  /** Writers lock rows, not the store. */
  readonly singleWriter = false;
  readonly #sql: Sql;
  readonly #schema: string;

  /** Space operations on the store of `schema` (a name `tablesOf` accepted), over `sql`. */
  constructor(sql: Sql, schema: string) {
    this.#sql = sql;
    this.#schema = schema;
  }

  /** The store's tables (ordinary tables of its schema). */
  async #tables(): Promise<string[]> {
    const rows = await all<{ name: string }>(
      this.#sql,
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
       WHERE ns.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname`,
      [this.#schema],
    );
    return rows.map((r) => r.name);
  }

  /** `pg_total_relation_size` of the store's tables (indexes and TOAST included). */
  async diskBytes(): Promise<number> {
    const row = await one<{ n: number }>(
      this.#sql,
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS n
       FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
       WHERE ns.nspname = $1 AND c.relkind = 'r'`,
      [this.#schema],
    );
    return Number(row?.n ?? 0);
  }

  /** `pg_column_size` of the run's rows in every table with a `run_id` column. */
  async runBytes(runId: string): Promise<RunSize> {
    const names = await all<{ name: string }>(
      this.#sql,
      `SELECT table_name AS name FROM information_schema.columns
       WHERE table_schema = $1 AND column_name = 'run_id' ORDER BY table_name`,
      [this.#schema],
    );
    const tables: Record<string, TableSize> = {};
    let bytes = 0;
    for (const { name } of names) {
      const row = await one<{ rows: number; bytes: number }>(
        this.#sql,
        `SELECT count(*)::bigint AS rows, coalesce(sum(pg_column_size(t.*)), 0)::bigint AS bytes
         FROM ${this.#schema}."${name.replaceAll('"', '""')}" t WHERE run_id = $1`,
        [runId],
      );
      tables[name] = { rows: Number(row?.rows ?? 0), bytes: Number(row?.bytes ?? 0) };
      bytes += tables[name].bytes;
    }
    return { bytes, tables };
  }

  /**
   * Nothing to do: a PostgreSQL delete locks only the deleted rows, so a large run is deleted in
   * one transaction without delaying other runs' commits.
   */
  trimRun(): Promise<number> {
    return Promise.resolve(0);
  }

  /** `VACUUM` (or `VACUUM FULL`) of each of the store's tables, each in its own statement. */
  async reclaim(bytesBefore: number, options: ReclaimOptions = {}): Promise<SpaceReport> {
    const verb = options.full ? "VACUUM FULL" : "VACUUM";
    for (const name of await this.#tables()) {
      // Not prepared, not in a transaction: VACUUM refuses both.
      await this.#sql.unsafe(`${verb} ${this.#schema}."${name.replaceAll('"', '""')}"`);
    }
    const bytesAfter = await this.diskBytes();
    return {
      bytesBefore,
      bytesAfter,
      reclaimedBytes: Math.max(0, bytesBefore - bytesAfter),
      method: options.full ? "pg-vacuum-full" : "pg-vacuum",
      walTruncated: true,
    };
  }
}

/**
 * The PostgreSQL client (`npm:postgres`) behind the store: opening a pool with Loom's settings,
 * running one parameterised, prepared statement, and small SQL helpers shared by the store and
 * its work queue.
 *
 * @module
 */
import postgres from "npm:postgres@^3.4.9";
import { limitClause as sqlLimit, type Param } from "../_sql.ts";
import type { Page } from "../store.ts";

/** A `npm:postgres` connection pool. */
export type Sql = postgres.Sql;
/** A transaction of a pool. */
export type Tx = postgres.TransactionSql;
/** A statement parameter (PostgreSQL has real booleans). */
export type PgParam = Param | boolean;
/** Rows of a statement, with the number of rows it changed. */
export type Rows<T> = T[] & { count: number };

// int8 (counts, ms timestamps) as JS numbers: every value stored here fits in 2^53.
const INT8_AS_NUMBER = {
  to: 20,
  from: [20],
  serialize: (x: number) => String(x),
  parse: (x: string) => Number(x),
};

/** Options of `connect`. */
export interface ConnectOptions {
  /** Schema on the search path. */
  schema: string;
  /** `synchronous_commit` for the session, or null for the server's. */
  synchronousCommit: "on" | "off" | null;
  /** Pool size. */
  maxConnections: number;
}

/** A pool whose sessions live in `schema`, reading int8 as numbers. */
export function connect(url: string, options: ConnectOptions): Sql {
  const connection: Record<string, string> = {
    search_path: options.schema,
    application_name: `loom-runner ${options.schema}`,
  };
  if (options.synchronousCommit) connection.synchronous_commit = options.synchronousCommit;
  return postgres(url, {
    max: options.maxConnections,
    onnotice: () => {},
    connection,
    types: { int8: INT8_AS_NUMBER },
    connect_timeout: 10,
    fetch_types: false,
  });
}

/** A plain pool of one connection (no schema, no type settings), for tooling. */
export function connectPlain(url: string): Sql {
  return postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
}

/** Runs one statement as a prepared statement on the pool or a transaction. */
export function query<T>(on: Sql | Tx, text: string, params: PgParam[] = []): Promise<Rows<T>> {
  return on.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<Rows<T>>;
}

/** The rows of a statement as a plain array. */
export async function all<T>(on: Sql | Tx, text: string, params: PgParam[] = []): Promise<T[]> {
  return Array.from(await query<T>(on, text, params));
}

/** The first row of a statement, or undefined. */
export async function one<T>(
  on: Sql | Tx,
  text: string,
  params: PgParam[] = [],
): Promise<T | undefined> {
  return (await query<T>(on, text, params))[0];
}

/** SQL for a list of texts passed as JSON text in parameter `$n` (no array type lookups needed). */
export function textList(n: number): string {
  return `SELECT jsonb_array_elements_text($${n}::text::jsonb)`;
}

/** ` LIMIT … OFFSET …` of a page (see `_sql.ts`). */
export function limitClause(page: Page | undefined): string {
  return sqlLimit(page, "ALL");
}

/** The message of a client or server error. */
export function describe(e: unknown): string {
  const err = e as { message?: string; code?: string };
  return err?.message ?? err?.code ?? String(e);
}

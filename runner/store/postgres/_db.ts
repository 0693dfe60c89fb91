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
  /** Schema of the store (named in `application_name`; every statement names it itself). */
  schema: string;
  /** `synchronous_commit` for the session, or null for the server's. */
  synchronousCommit: "on" | "off" | null;
  /** Pool size. */
  maxConnections: number;
  /**
   * Named prepared statements (parsed once per connection). Off behind a transaction pooler,
   * where the next statement may reach another server session.
   * @default true
   */
  prepare?: boolean;
}

/**
 * A pool for the store of `schema`, reading int8 as numbers. No `search_path` is sent: every
 * statement names its schema, so a pooler that refuses or ignores the startup parameter
 * (pgbouncer) changes nothing.
 */
export function connect(url: string, options: ConnectOptions): Sql {
  const connection: Record<string, string> = {
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
    prepare: options.prepare ?? true,
  });
}

/**
 * Whether `url` reaches PostgreSQL through a transaction (or statement) pooler such as pgbouncer
 * with `pool_mode = transaction`: two client connections answered by one server process, or one
 * client connection by two, shows it (a direct connection or a session pooler never does). Opens
 * two connections of its own, closed before it returns.
 */
export async function sharesServerSessions(url: string, options: ConnectOptions): Promise<boolean> {
  const a = connect(url, { ...options, maxConnections: 1, prepare: false });
  const b = connect(url, { ...options, maxConnections: 1, prepare: false });
  const pid = async (c: Sql) => Number((await c.unsafe("SELECT pg_backend_pid() AS pid"))[0].pid);
  try {
    // A pooler hands a released server session to the next statement (last in, first out by
    // default), so one round shows it; a busy pool may not, hence three.
    for (let round = 0; round < 3; round++) {
      const a1 = await pid(a);
      const b1 = await pid(b);
      const a2 = await pid(a);
      if (a1 === b1 || a1 !== a2) return true;
    }
    return false;
  } finally {
    await Promise.all([a.end({ timeout: 1 }), b.end({ timeout: 1 })]).catch(() => {});
  }
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

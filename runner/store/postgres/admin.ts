/**
 * A plain connection to a PostgreSQL server for tooling, tests and benchmarks: run a statement,
 * drop a store's schema. Not a `Store`.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";
import { connectPlain } from "./_db.ts";
import { SCHEMA_NAME } from "./schema.ts";

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
  const sql = connectPlain(url);
  return {
    exec: async (text, params = []) => Array.from(await sql.unsafe(text, params as never[])),
    dropSchema: async (schema) => {
      if (!SCHEMA_NAME.test(schema)) throw new RunnerError(`invalid schema name ${schema}`);
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

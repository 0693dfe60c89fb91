/**
 * Test helper: the store backends every backend-neutral runner test runs against. SQLite gets a
 * fresh file in a temporary directory; PostgreSQL a fresh schema with a random name in the test
 * database (`LOOM_TEST_PG_URL`, default the project machines' trust-auth server), dropped after.
 *
 * @module
 */
import type { Store } from "../store/store.ts";
import { openStore } from "../store/sqlite.ts";
import { openPostgresStore, type PostgresStore } from "../store/postgres/mod.ts";

/** PostgreSQL server the tests use. */
export const PG_TEST_URL: string = Deno.env.get("LOOM_TEST_PG_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";

/** A store opened for one test, with where a subprocess finds it and how to clean up. */
export interface TestStore {
  /** The open store. */
  store: Store;
  /** `--db` value for a subprocess (file path or URL). */
  db: string;
  /** PostgreSQL schema, when the backend is PostgreSQL. */
  schema?: string;
  /** Opens another connection to the same store (as another process would). */
  reopen(): Promise<Store>;
  /** Closes the store and deletes its file or schema. */
  cleanup(): Promise<void>;
}

/** A store backend under test. */
export interface StoreBackend {
  /** `sqlite` or `postgres`. */
  name: "sqlite" | "postgres";
  /** Opens a fresh, empty store. */
  open(): Promise<TestStore>;
}

/** A random schema name for one test. */
export function randomSchema(prefix = "loomtest"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `${prefix}_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Drops a schema and everything in it. */
export async function dropSchema(store: PostgresStore, schema: string): Promise<void> {
  await store.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** SQLite in a temporary file. */
export const SQLITE_BACKEND: StoreBackend = {
  name: "sqlite",
  async open(): Promise<TestStore> {
    const dir = await Deno.makeTempDir({ prefix: "loom-store-" });
    const db = `${dir}/runs.db`;
    const store = openStore(db);
    const others: Store[] = [];
    return {
      store,
      db,
      reopen: () => {
        const s = openStore(db);
        others.push(s);
        return Promise.resolve(s);
      },
      async cleanup() {
        for (const s of [store, ...others]) s.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
};

/** PostgreSQL in a fresh schema. */
export const POSTGRES_BACKEND: StoreBackend = {
  name: "postgres",
  async open(): Promise<TestStore> {
    const schema = randomSchema();
    const store = await openPostgresStore(PG_TEST_URL, { schema, synchronousCommit: "off" });
    const others: PostgresStore[] = [];
    return {
      store,
      db: PG_TEST_URL,
      schema,
      async reopen() {
        const s = await openPostgresStore(PG_TEST_URL, {
          schema,
          create: false,
          synchronousCommit: "off",
        });
        others.push(s);
        return s;
      },
      async cleanup() {
        for (const s of others) await s.close();
        try {
          await dropSchema(store, schema);
        } finally {
          await store.close();
        }
      },
    };
  },
};

/** Both backends, SQLite first. */
export const STORE_BACKENDS: readonly StoreBackend[] = [SQLITE_BACKEND, POSTGRES_BACKEND];

/** The backend chosen by `LOOM_TEST_STORE` (`sqlite`, the default, or `postgres`). */
export function testBackend(): StoreBackend {
  const name = Deno.env.get("LOOM_TEST_STORE") ?? "sqlite";
  const backend = STORE_BACKENDS.find((b) => b.name === name);
  if (!backend) throw new Error(`LOOM_TEST_STORE must be sqlite or postgres, not ${name}`);
  return backend;
}

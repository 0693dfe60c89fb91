/**
 * Opens the store a `--db` value (or `LOOM_DB_URL`) names: a `postgres://` or `postgresql://` URL
 * opens the PostgreSQL store, anything else is a SQLite file path. The PostgreSQL module (and its
 * npm client) is imported only when a URL asks for it, so SQLite users load nothing extra.
 *
 * @module
 */
import type { Store } from "./store.ts";
import { openStore, type OpenStoreOptions } from "./sqlite.ts";

/** Options of `openAnyStore`. */
export interface OpenAnyStoreOptions extends OpenStoreOptions {
  /**
   * PostgreSQL schema the store lives in; ignored for SQLite.
   * @default `LOOM_DB_SCHEMA`, else `"loom"`
   */
  schema?: string;
}

/** True for `postgres://` and `postgresql://` URLs. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

function envSchema(): string | undefined {
  try {
    return Deno.env.get("LOOM_DB_SCHEMA") || undefined;
  } catch {
    return undefined; // no env permission: the default schema
  }
}

/** Opens a SQLite file or a PostgreSQL URL as a `Store`. */
export async function openAnyStore(
  location: string,
  options: OpenAnyStoreOptions = {},
): Promise<Store> {
  if (!isPostgresUrl(location)) return openStore(location, options);
  const { openPostgresStore } = await import("./postgres/mod.ts");
  return await openPostgresStore(location, {
    durability: options.durability,
    create: options.create,
    schema: options.schema ?? envSchema(),
  });
}

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type {
  CallKind,
  CallRecord,
  ErrorCategory,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  MaybePromise,
  OpenStoreOptions,
  Page,
  RunFilter,
  RunPatch,
  RunRecord,
  RunStatus,
  SignalRecord,
  StepRecord,
  StepStats,
  Store,
} from "../mod.ts";

/**
 * `@loom/runner/postgres`: the PostgreSQL store (`npm:postgres`), for many worker processes on
 * many machines sharing one durable store, and the work queue the workers claim runs from. This
 * folder is the only place that imports the PostgreSQL client; `store/open.ts` loads it
 * dynamically, so SQLite users load nothing extra.
 *
 * - `store.ts`: `PostgresStore` (the `Store`) and `openPostgresStore`.
 * - `schema.ts`: the tables, triggers and migrations (schema version in `loom_meta`).
 * - `work_queue.ts`: claiming runnable runs (`FOR UPDATE SKIP LOCKED`), `LISTEN`/`NOTIFY`.
 * - `admin.ts`: a plain connection for tooling and tests (dropping a schema).
 *
 * Each store lives in one PostgreSQL schema (default `loom`; every statement names it, so no
 * `search_path` is needed and a connection pooler such as pgbouncer changes nothing), so tests
 * and several deployments can share one database. Triggers send
 * `NOTIFY loom_work` (payload: the schema name) when a run may have become runnable, so idle
 * workers `LISTEN` instead of polling.
 *
 * @example
 * ```ts ignore
 * import { openPostgresStore } from "@loom/runner/postgres";
 * import { startRun } from "@loom/runner";
 * import counter from "./counter_agent.ts";
 *
 * const store = await openPostgresStore("postgres://loom@db.internal/loom");
 * await startRun(counter, { store, runId: "order-42" });
 * await store.close();
 * ```
 *
 * @module
 */
export {
  openPostgresStore,
  PostgresStore,
  type PostgresStoreOptions,
  redactUrl,
  type Sql,
} from "./store.ts";
export { DEFAULT_PG_SCHEMA, PG_SCHEMA_VERSION, WORK_CHANNEL } from "./schema.ts";
export { connectPostgresAdmin, type PostgresAdmin } from "./admin.ts";
export type { ClaimedRun, ListenOptions, WorkQueue } from "../work_queue.ts";

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
  Page,
  ReclaimMethod,
  ReclaimOptions,
  RunFilter,
  RunPatch,
  RunRecord,
  RunSize,
  RunStatus,
  SignalRecord,
  SpaceReport,
  StepRecord,
  StepStats,
  Store,
  StoreSpace,
  TableSize,
  TrimOptions,
} from "../../mod.ts";

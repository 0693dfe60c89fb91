/**
 * Loom: durable async agent loops. Re-exports the three libraries:
 *
 * - `@loom/tailcalls`: stack-safe async loops (`tailrec`, `recur`, `tailcall`, `tailstream`).
 * - `@loom/runner`: durable runs on SQLite or PostgreSQL (`defineAgent`, `startRun`, ...).
 * - `@loom/xray`: traces and the offline HTML viewer (`Recorder`, `toHtml`, `summarize`, ...).
 *
 * @module
 */
export * from "@loom/tailcalls";
export * from "@loom/runner";
export * from "@loom/xray";

/**
 * Loom: durable async agent loops. Re-exports the three libraries.
 *
 * @module
 */
export * from "@loom/tailcalls";

/**
 * `@loom/tailcalls`: stack-safe async loops. (Being built; see issue 2.)
 *
 * @module
 */
export * from "./recur.ts";
export * from "./tailrec.ts";
export * from "./errors.ts";
export type * from "./options.ts";
export * from "./tailstream.ts";
export * from "./explain.ts";

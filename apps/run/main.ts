/**
 * `@loom/run` (being built).
 *
 * @module
 */
export {};

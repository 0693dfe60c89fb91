/**
 * `@loom/ops` (being built).
 *
 * @module
 */
export {};

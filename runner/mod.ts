/**
 * `@loom/runner` (being built).
 *
 * @module
 */
export {};

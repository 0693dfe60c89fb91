/**
 * `@loom/xray` (being built).
 *
 * @module
 */
export {};

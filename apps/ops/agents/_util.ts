/**
 * Private helpers of the loom-ops agents.
 *
 * @module
 */

/**
 * The retry policy of every agent and command: one attempt. A failed command is a verdict for
 * the verifier (and the step's own `retry`), not something the runner repeats behind its back.
 */
export const NO_RETRY = { maxAttempts: 1 };

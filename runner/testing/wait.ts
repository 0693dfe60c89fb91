/**
 * Waiting on an event in a test, not on time: `waitFor` checks a condition (a committed row, a
 * status, a log line) until it holds, with a deadline generous enough for a saturated machine,
 * and fails with what never happened.
 *
 * @module
 */

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /**
   * How long to keep checking before failing. Generous on purpose: the deadline only matters
   * when the event never comes, so a slow machine must never reach it.
   * @default {60000}
   */
  timeoutMs?: number;
  /**
   * Pause between two checks.
   * @default {10}
   */
  intervalMs?: number;
}

/**
 * Resolves once `check` returns true (or a promise of true); rejects with
 * "timed out after N ms waiting for <what>" when it never does.
 *
 * @param what What is awaited, in words, for the failure message ("step 3 committed").
 * @param check The condition; may be async.
 * @param options Deadline and interval.
 * @throws {Error} When the deadline passes first; the last error `check` threw is its `cause`.
 *
 * @example
 * ```ts
 * import { waitFor } from "@loom/runner/testing";
 *
 * let ready = false;
 * setTimeout(() => ready = true, 5);
 * await waitFor("the flag to be set", () => ready);
 * ```
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const { timeoutMs = 60_000, intervalMs = 10 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

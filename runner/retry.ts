/**
 * Retry policies: how many attempts, how long to wait between them (exponential backoff with
 * jitter), and which error categories are retried.
 *
 * @module
 */
import type { ErrorCategory } from "./errors.ts";

/** Retry policy for a step (per agent) or a tool (per call). */
export interface RetryPolicy {
  /** Attempts in total, including the first. Default 3. */
  maxAttempts?: number;
  /** Delay before the second attempt, ms. Default 100. */
  initialDelayMs?: number;
  /** Upper bound of a delay, ms. Default 30 000. */
  maxDelayMs?: number;
  /** Growth factor per attempt. Default 2. */
  multiplier?: number;
  /** Fraction of each delay that is randomised (0..1). Default 0.2. */
  jitter?: number;
  /** Categories that are retried. Default `["transient"]`. */
  retryOn?: ErrorCategory[];
  /** Maps an error to a category before the built-in rules; `undefined` falls through. */
  classify?: (error: unknown) => ErrorCategory | undefined;
}

/** A policy with every field filled in. */
export type ResolvedRetryPolicy = Required<Omit<RetryPolicy, "classify">> & {
  classify?: (error: unknown) => ErrorCategory | undefined;
};

/** The defaults used where a policy leaves a field out. */
export const DEFAULT_RETRY: ResolvedRetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
  retryOn: ["transient"],
};

/** Fills a policy's gaps from `base` (later arguments win). */
export function resolveRetry(...policies: (RetryPolicy | undefined)[]): ResolvedRetryPolicy {
  const out: ResolvedRetryPolicy = { ...DEFAULT_RETRY };
  for (const p of policies) {
    if (!p) continue;
    for (const [k, v] of Object.entries(p)) {
      if (v !== undefined) (out as Record<string, unknown>)[k] = v;
    }
  }
  out.maxAttempts = Math.max(1, Math.floor(out.maxAttempts));
  out.jitter = Math.min(1, Math.max(0, out.jitter));
  return out;
}

/** True when an attempt that failed with `category` as attempt number `attempt` may be retried. */
export function shouldRetry(
  policy: ResolvedRetryPolicy,
  category: ErrorCategory,
  attempt: number,
): boolean {
  return attempt < policy.maxAttempts && policy.retryOn.includes(category);
}

/**
 * Delay before the attempt after `failedAttempt` (1-based):
 * `min(maxDelay, initial * multiplier^(failedAttempt-1))`, of which a `jitter` fraction is random.
 */
export function backoffDelay(
  policy: ResolvedRetryPolicy,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** Math.max(0, failedAttempt - 1),
  );
  return Math.round(base * (1 - policy.jitter) + base * policy.jitter * random());
}

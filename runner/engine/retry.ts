/**
 * Retry policies: how many attempts, how long to wait between them (exponential backoff with
 * jitter), and which error categories are retried.
 *
 * @module
 */
import {
  classifyError,
  type ErrorCategory,
  errorMessage,
  errorType,
  NotSerializableError,
} from "../errors.ts";
import { notify, type RunObserver } from "./observer.ts";
import type { Store } from "../store/store.ts";

/** Retry policy for a step (per agent) or a tool call (per call). */
export interface RetryPolicy {
  /** Attempts in total, including the first. @default 3 */
  maxAttempts?: number;
  /** Delay before the second attempt, ms. @default 100 */
  initialDelayMs?: number;
  /** Upper bound of a delay, ms. @default 30_000 */
  maxDelayMs?: number;
  /** Growth factor of the delay per failed attempt. @default 2 */
  multiplier?: number;
  /** Fraction of each delay that is random (0..1). @default 0.2 */
  jitter?: number;
  /** Error categories that are retried. @default ["transient"] */
  retryOn?: ErrorCategory[];
  /**
   * Maps an error to its category before the built-in rules; `undefined` falls through to them.
   * @default none
   */
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

/** `DEFAULT_RETRY`, overridden by the defined fields of each policy in turn (later ones win). */
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

/** One failed attempt of a step (`toolName` undefined) or of a tool call (its key as `scope`). */
export interface FailedAttempt {
  runId: string;
  step: number;
  /** `""` for the step itself, else the tool call's key. */
  scope: string;
  /** The tool's name, for tool attempts. */
  toolName?: string;
  /** The attempt's number, from 1. */
  attempt: number;
  /** Attempts that count against the budget, this one included. */
  used: number;
  /** What was thrown. */
  error: unknown;
  /** Start, ms since epoch. */
  startedAt: number;
  durationMs: number;
}

/**
 * The one place a failed attempt is handled, for steps and tools alike: classifies the error,
 * decides on a retry and its backoff, records the failed attempt and tells the observer.
 *
 * @returns The category and the delay before the next attempt (`null`: no retry follows).
 */
export async function handleFailedAttempt(
  store: Store,
  observer: RunObserver | undefined,
  retry: ResolvedRetryPolicy,
  a: FailedAttempt,
): Promise<{ category: ErrorCategory; wait: number | null }> {
  const category = a.error instanceof NotSerializableError
    ? "validation"
    : classifyError(a.error, retry.classify);
  const wait = shouldRetry(retry, category, a.used) ? backoffDelay(retry, a.used) : null;
  await store.recordFailedAttempt({
    runId: a.runId,
    step: a.step,
    scope: a.scope,
    attempt: a.attempt,
    error: errorMessage(a.error),
    errorType: errorType(a.error),
    errorCategory: category,
    startedAt: a.startedAt,
    durationMs: a.durationMs,
    retryAt: wait === null ? null : Date.now() + wait,
  });
  notify(observer, "onAttemptError", {
    runId: a.runId,
    step: a.step,
    attempt: a.attempt,
    scope: a.toolName === undefined ? "step" : "tool",
    ...(a.toolName === undefined ? {} : { toolName: a.toolName }),
    error: a.error,
    message: errorMessage(a.error),
    errorCategory: category,
    retryInMs: wait,
  });
  return { category, wait };
}

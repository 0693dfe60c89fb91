/**
 * Options shared by `tailrec` and `tailstream` (budget, step hooks, abort signal), and the check
 * both run between two steps.
 *
 * @module
 */

import { LoopAbortedError, StepBudgetExceededError } from "./errors.ts";

/** Passed to `onStep` just before a step's body runs. */
export interface BeforeStepEvent {
  /** Which hook this is. */
  readonly phase: "before";
  /** 1-based number of the step about to run. */
  readonly step: number;
  /** The loop whose body runs this step (differs from the entry loop after a `tailcall`). */
  readonly loop: (...args: never) => unknown;
  /** The arguments the step runs with. */
  readonly args: readonly unknown[];
}

/** Passed to `onStep` just after a step's body settled without throwing. */
export interface AfterStepEvent {
  /** Which hook this is. */
  readonly phase: "after";
  /** 1-based number of the step that ran. */
  readonly step: number;
  /** The loop whose body ran this step. */
  readonly loop: (...args: never) => unknown;
  /** The arguments the step ran with. */
  readonly args: readonly unknown[];
  /** What the step returned: a tail-call marker, or the loop's final value. */
  readonly result: unknown;
  /** `true` when the step finished the loop (its result is not a tail call). */
  readonly done: boolean;
}

/** The argument of an `onStep` hook: before or after one step. */
export type StepEvent = BeforeStepEvent | AfterStepEvent;

/** Options for `tailrec` and `tailstream`. All are optional and cost nothing when unused. */
export interface LoopOptions {
  /**
   * Most steps one call may run (counting steps of loops reached through `tailcall`). When a
   * step asks for one more, the call rejects with `StepBudgetExceededError`, which carries the
   * arguments to resume with. Default: unlimited.
   */
  readonly maxSteps?: number;
  /**
   * Called before and after every step (`event.phase`). If it returns a promise the loop waits
   * for it; if it throws, the loop stops with that error.
   */
  readonly onStep?: (event: StepEvent) => void | PromiseLike<void>;
  /** Checked between steps: once aborted, the loop stops with a `LoopAbortedError` (an AbortError). */
  readonly signal?: AbortSignal;
  /** Name of the loop in errors and stack traces. Default: the step function's name. */
  readonly name?: string;
}

/** Options after validation, with the flag that lets the hot path skip all checks. */
export interface ResolvedOptions {
  /** True when any of budget, hooks or signal is in use. */
  readonly guarded: boolean;
  /** The budget (`Infinity` when unlimited). */
  readonly maxSteps: number;
  /** The hook, if any. */
  readonly onStep: ((event: StepEvent) => void | PromiseLike<void>) | undefined;
  /** The signal, if any. */
  readonly signal: AbortSignal | undefined;
}

/** Validates options once, when the loop is made, so a bad budget fails early and clearly. */
export function resolveOptions(options: LoopOptions | undefined): ResolvedOptions {
  const maxSteps = options?.maxSteps ?? Infinity;
  if (!(maxSteps >= 0) || (maxSteps !== Infinity && !Number.isInteger(maxSteps))) {
    throw new RangeError(`maxSteps must be a non-negative integer, got ${String(maxSteps)}`);
  }
  const onStep = options?.onStep;
  const signal = options?.signal;
  return {
    guarded: onStep !== undefined || signal !== undefined || maxSteps !== Infinity,
    maxSteps,
    onStep,
    signal,
  };
}

/**
 * Runs between two steps of a guarded loop: stops it on abort or an exhausted budget, with what
 * is needed to resume.
 */
export function checkBeforeStep(
  options: ResolvedOptions,
  loop: (...args: never) => unknown,
  args: unknown[],
  done: number,
): void {
  const signal = options.signal;
  if (signal !== undefined && signal.aborted) {
    throw new LoopAbortedError(loop, args, done, signal.reason);
  }
  if (done >= options.maxSteps) {
    throw new StepBudgetExceededError(loop, args, options.maxSteps);
  }
}

/**
 * True when `value` is a thenable that is not a native promise (callers test `instanceof Promise`
 * first, the common case). Markers and plain values fail the `then` lookup cheaply.
 */
export function isForeignThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

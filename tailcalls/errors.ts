/**
 * The errors a loop raises on its own (a step's own errors pass through unchanged). Both carry
 * where the loop stopped, so a caller can resume with `err.loop(...err.args)`.
 *
 * @module
 */

/** Base of the errors that stop a loop between two steps; holds what is needed to resume. */
export class LoopInterruptedError extends Error {
  /** The arguments the next step would have run with. */
  readonly args: unknown[];
  /** The loop (a `tailrec` or `tailstream` function) that would have run next. */
  readonly loop: (...args: never) => unknown;
  /** How many steps had completed when the loop stopped. */
  readonly steps: number;

  /** Makes the error; `loop` and `args` say where to resume. */
  constructor(
    message: string,
    loop: (...args: never) => unknown,
    args: unknown[],
    steps: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "LoopInterruptedError";
    this.loop = loop;
    this.args = args;
    this.steps = steps;
  }
}

/**
 * The loop used up its `maxSteps` budget. Resume it with `err.loop(...err.args)` (with a fresh
 * budget) or give up.
 */
export class StepBudgetExceededError extends LoopInterruptedError {
  /** The budget that was exceeded. */
  readonly maxSteps: number;

  /** Makes the error for a loop that ran `maxSteps` steps and still wanted another. */
  constructor(loop: (...args: never) => unknown, args: unknown[], maxSteps: number) {
    super(
      `loop "${loop.name}" exceeded its budget of ${maxSteps} steps; ` +
        "resume with err.loop(...err.args)",
      loop,
      args,
      maxSteps,
    );
    this.name = "StepBudgetExceededError";
    this.maxSteps = maxSteps;
  }
}

/**
 * The loop's `AbortSignal` fired; the loop stopped before starting its next step. Its `name` is
 * `"AbortError"`, like `fetch` and other web APIs, and `reason` is the signal's reason.
 */
export class LoopAbortedError extends LoopInterruptedError {
  /** `signal.reason` at the time the loop stopped. */
  readonly reason: unknown;

  /** Makes the error for a loop stopped by a signal after `steps` steps. */
  constructor(
    loop: (...args: never) => unknown,
    args: unknown[],
    steps: number,
    reason: unknown,
  ) {
    super(`loop "${loop.name}" was aborted after ${steps} steps`, loop, args, steps, {
      cause: reason,
    });
    this.name = "AbortError";
    this.reason = reason;
  }
}

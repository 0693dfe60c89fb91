/**
 * One invocation of a run in this process: from its last committed checkpoint, step after step,
 * until the run completes, fails, waits (signal, timer, child), pauses (step limit, interrupt),
 * is cancelled or loses its lease. Every `recur` is committed (`Store.commitStep`, one guarded
 * write) before the next step starts: `Invocation.#loop` is that hot loop, kept in one piece.
 *
 * @module
 */
import { isTailCall, type TailCall } from "@loom/tailcalls";
import { type ErrorCategory, errorMessage, RunnerError } from "../errors.ts";
import { encodeJson } from "../json.ts";
import type { RunRecord, RunStatus, Store, StoredPolicy, WaitInfo } from "../store/store.ts";
import { crashIfRequested } from "./_fault_hook.ts";
import type { Agent } from "./agent.ts";
import { CheckpointWriter, loadCheckpoint, type StoredCheckpoint } from "./checkpoint.ts";
import {
  abortableDelay,
  type ChildRunner,
  describeWait,
  StepContextImpl,
  type StepLogger,
  Suspend,
} from "./context.ts";
import type { RunOptions, RunResult } from "./engine.ts";
import { keepLease, type LeaseKeeper } from "./lease.ts";
import { notify, type RunObserver } from "./observer.ts";
import { handleFailedAttempt, type ResolvedRetryPolicy, resolveRetry } from "./retry.ts";

type AnyAgent = Agent<unknown, unknown, unknown>;

/** What a step returned, serialised: the next state (`recur`) or the final result. */
type Outcome =
  | { next: unknown; checkpoint: StoredCheckpoint; marker: TailCall }
  | { final: unknown; json: string };

/** Timing of one step attempt. */
interface AttemptTiming {
  attempt: number;
  startedAt: number;
  durationMs: number;
}

/** The lease fields a run gives up when it stops advancing. */
const RELEASE = { leaseOwner: null, leaseExpires: null } as const;

/**
 * Advances a run whose lease `owner` holds, until it stops; the lease is released then (or left
 * to expire when the store is unusable). `runChild` runs the run's child runs, aborted with it.
 */
export async function advance(
  agent: AnyAgent,
  options: RunOptions,
  run: RunRecord,
  owner: string,
  ttl: number,
  resumed: boolean,
  runChild: (abortSignal: AbortSignal) => ChildRunner,
): Promise<RunResult> {
  const invocation = new Invocation(agent, options, run, owner, ttl);
  try {
    return await invocation.run(resumed, runChild(invocation.abortSignal));
  } catch (e) {
    invocation.stop();
    // Leave the run resumable: drop our lease so a resume does not have to wait for expiry.
    try {
      await options.store.updateOwnedRun(run.runId, owner, { status: "paused", ...RELEASE });
    } catch { /* store unusable: the lease will expire */ }
    throw e;
  }
}

const defaultLogger = (runId: string, step: () => number): StepLogger => {
  const line = (level: string, msg: string, data?: unknown) =>
    console.error(
      `[${runId} step ${step()}] ${level}: ${msg}${data === undefined ? "" : ` ${safeJson(data)}`}`,
    );
  return {
    info: (m, d) => line("info", m, d),
    warn: (m, d) => line("warn", m, d),
    error: (m, d) => line("error", m, d),
  };
};

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

function cancelError(run: RunRecord): { message: string; category: ErrorCategory } {
  return { message: run.error ?? "cancelled", category: run.errorCategory ?? "business" };
}

/** One invocation: its settings, its lease keeper and abort controller, and where it is. */
class Invocation {
  readonly store: Store;
  readonly runId: string;
  readonly observer: RunObserver | undefined;
  readonly policy: StoredPolicy;
  readonly maxSteps: number;
  readonly maxInProcessSleepMs: number;
  readonly retry: ResolvedRetryPolicy;
  /** Where `ctx.log` lines go: the caller's logger, else stderr. */
  readonly logger: StepLogger;
  /** `logger`, with every line also handed to the observers. */
  readonly log: StepLogger;
  /** One abort controller per invocation: cancellation, lease loss and caller interrupts. */
  readonly #ac = new AbortController();
  readonly #keeper: LeaseKeeper;
  /** The caller's abort signal (`RunOptions.abortSignal`), if any. */
  readonly #outer: AbortSignal | undefined;
  readonly #onOuterAbort: () => void;
  /** Writes each step's checkpoint, whole or as a delta against the one before. */
  readonly #checkpoints: CheckpointWriter;
  /** The step that runs next. */
  step: number;
  stepsThisRun = 0;
  #lostLease = false;
  #cancelled = false;

  constructor(
    readonly agent: AnyAgent,
    readonly options: RunOptions,
    readonly record: RunRecord,
    readonly owner: string,
    ttl: number,
  ) {
    this.store = options.store;
    this.runId = options.runId;
    this.observer = options.observer;
    this.policy = JSON.parse(record.policy) as StoredPolicy;
    this.maxSteps = options.maxSteps ?? agent.maxSteps ?? Infinity;
    this.maxInProcessSleepMs = options.maxInProcessSleepMs ?? 5 * 60_000;
    this.retry = resolveRetry(agent.retry);
    this.#checkpoints = new CheckpointWriter(agent);
    this.step = record.firstStep;
    this.#outer = options.abortSignal ?? options.signal;
    this.#onOuterAbort = () =>
      this.#ac.abort(new RunnerError(`run ${this.runId} was interrupted`, { exitCode: 1 }));
    if (this.#outer?.aborted) this.#onOuterAbort();
    this.#outer?.addEventListener("abort", this.#onOuterAbort, { once: true });
    this.#keeper = keepLease(this.store, this.runId, owner, ttl, {
      lost: () => {
        this.#lostLease = true;
        this.#ac.abort(
          new RunnerError(`run ${this.runId} lost its lease to another process`, { exitCode: 1 }),
        );
      },
      cancelled: () => {
        this.#cancelled = true;
        this.#ac.abort(new RunnerError(`run ${this.runId} was cancelled`, { exitCode: 1 }));
      },
    });
    this.logger = options.logger ?? defaultLogger(this.runId, () => this.step);
    this.log = this.#observedLog();
  }

  /** Aborted when the run is cancelled, interrupted or loses its lease. */
  get abortSignal(): AbortSignal {
    return this.#ac.signal;
  }

  #observedLog(): StepLogger {
    const line = (level: "info" | "warn" | "error") => (message: string, data?: unknown) => {
      notify(this.observer, "onLog", {
        runId: this.runId,
        step: this.step,
        level,
        message,
        data,
      });
      this.logger[level](message, data);
    };
    return { info: line("info"), warn: line("warn"), error: line("error") };
  }

  /** Stops renewing the lease and listening to the caller's abort signal. */
  stop(): void {
    this.#keeper.stop();
    this.#outer?.removeEventListener("abort", this.#onOuterAbort);
  }

  /** Loads the checkpoint, honours a pending retry delay, and runs the steps. */
  async run(resumed: boolean, runChild: ChildRunner): Promise<RunResult> {
    const start = await loadCheckpoint(
      this.agent,
      this.store,
      this.record,
      this.owner,
      resumed,
      this.logger,
    );
    this.step = start.step;
    if (start.lost) return await this.#lost(undefined);
    const lastFailed = await this.store.lastFailedAttempt(this.runId, this.step, "");
    const attempt = (lastFailed?.attempt ?? 0) + 1;
    const budgetBase = this.record.retryStep === this.step ? this.record.retryBase : 0;
    // A retry delay recorded before a crash is honoured after the restart.
    if (lastFailed?.retryAt && lastFailed.retryAt > Date.now()) {
      await abortableDelay(lastFailed.retryAt - Date.now(), this.abortSignal);
    }
    notify(this.observer, "onRunStart", {
      runId: this.runId,
      agentName: this.agent.name,
      agentVersion: this.agent.version,
      resumed,
      step: this.step,
      parentRunId: this.record.parentRunId,
      state: start.state,
    });
    return await this.#loop(start.state, attempt, budgetBase, runChild);
  }

  /** The hot loop: run a step, commit its transition, go on; returns when the run stops. */
  async #loop(
    state: unknown,
    attempt: number,
    budgetBase: number,
    runChild: ChildRunner,
  ): Promise<RunResult> {
    const { agent, store, runId, owner, observer } = this;
    const signal = this.abortSignal;
    const every = this.policy.every;
    const origin = performance.timeOrigin;
    const compact = this.policy.checkpoint === "compact";
    for (;;) {
      if (signal.aborted) break;
      if (this.stepsThisRun >= this.maxSteps) return await this.#pause(state);
      const ctx = this.#context(attempt, runChild);
      const t0 = performance.now();
      const startedAt = Math.round(origin + t0);
      if (observer) this.#stepStarted(attempt, state, startedAt);
      let out: Outcome | undefined;
      let failure: unknown;
      let failed = false;
      try {
        // A synchronous step's value is used as is: no microtask per step on the hot path.
        let value = agent.step(state, ctx);
        if (isThenable(value)) value = await value;
        // Serialise inside the try: a non-JSON state is a failure of the step that produced it.
        if (!ctx.suspended) out = this.#outcome(value);
      } catch (e) {
        failure = e;
        failed = true;
      }
      const durationMs = performance.now() - t0;
      const suspension = ctx.suspended ?? (failure instanceof Suspend ? failure : undefined);
      if (suspension) {
        if (signal.aborted) break;
        return await this.#suspend(suspension.waiting, state);
      }
      if (signal.aborted) break;
      if (failed) {
        const timing = { attempt, startedAt, durationMs };
        const next = await this.#failed(failure, timing, attempt - budgetBase, state);
        if (next === "interrupted") break;
        if (next !== "retry") return next;
        attempt++;
        continue;
      }
      if (!("next" in out!)) {
        return await this.#complete(out!, { attempt, startedAt, durationMs }, state);
      }
      // Sync backends (SQLite) return a boolean: await only real promises (async backends).
      const step = this.step;
      const { state: json, delta } = out.checkpoint;
      const committed = store.commitStep(
        { runId, step, attempt, startedAt, durationMs, state: json, delta },
        owner,
      );
      if (!(typeof committed === "boolean" ? committed : await committed)) {
        return await this.#lost(state);
      }
      crashIfRequested(runId, step); // test-only; a no-op unless LOOM_TEST_CRASH_AFTER_STEP
      if (compact && (step + 1) % every === 0 && step > this.record.firstStep) {
        await this.#compactBefore(step);
      }
      if (observer) this.#stepCommitted(attempt, state, out, durationMs);
      state = out.next;
      this.step++;
      this.stepsThisRun++;
      if (attempt !== 1 || budgetBase !== 0) {
        attempt = 1;
        budgetBase = 0;
      }
    }
    return await this.#interrupted(state);
  }

  #stepStarted(attempt: number, state: unknown, startedAt: number): void {
    const { runId, step } = this;
    notify(this.observer, "onStepStart", { runId, step, attempt, state, startedAt });
  }

  #stepCommitted(
    attempt: number,
    state: unknown,
    out: { next: unknown; marker: TailCall },
    durationMs: number,
  ): void {
    notify(this.observer, "onStepEnd", {
      runId: this.runId,
      step: this.step,
      attempt,
      stateBefore: state,
      stateAfter: out.next,
      final: false,
      marker: out.marker,
      durationMs,
    });
  }

  /** The compact policy: drops the states before `step` that are not kept (the hot loop's share). */
  async #compactBefore(step: number): Promise<void> {
    const { every } = this.policy;
    const from = Math.max(this.record.firstStep, step - 2 * every);
    await this.store.compactSteps(this.runId, from, step - 1, every);
  }

  #context(attempt: number, runChild: ChildRunner): StepContextImpl {
    return new StepContextImpl({
      store: this.store,
      runId: this.runId,
      step: this.step,
      attempt,
      abortSignal: this.abortSignal,
      log: this.log,
      observer: this.observer,
      policy: this.policy,
      maxInProcessSleepMs: this.maxInProcessSleepMs,
      runChild,
    });
  }

  /** Serialises what a step returned (throws for a non-JSON value or a foreign tail call). */
  #outcome(value: unknown): Outcome {
    if (isTailCall(value)) {
      if (value.target !== undefined) {
        throw new TypeError(
          "a runner step must return recur(state), not a tail call to another loop",
        );
      }
      const next = value.args[0];
      return { next, checkpoint: this.#checkpoints.write(next), marker: value };
    }
    return { final: value, json: encodeJson(value === undefined ? null : value, "result") };
  }

  /** The step suspended: the run waits (signal, timer or child) without its lease. */
  async #suspend(waiting: WaitInfo, state: unknown): Promise<RunResult> {
    const ok = await this.store.updateOwnedRun(this.runId, this.owner, {
      status: "waiting",
      waiting: JSON.stringify(waiting),
      ...RELEASE,
    });
    if (!ok) return await this.#lost(state);
    notify(this.observer, "onWaiting", { runId: this.runId, step: this.step, waiting });
    return await this.#finish("waiting", { waitingFor: describeWait(waiting), waiting }, state);
  }

  /**
   * A step attempt failed: it is recorded, then retried after its delay (`retry`), or the run
   * fails. `used` is the attempts that count against the retry budget.
   * @returns `retry`, `interrupted` (aborted during the delay), or the failed run's result.
   */
  async #failed(
    error: unknown,
    timing: AttemptTiming,
    used: number,
    state: unknown,
  ): Promise<"retry" | "interrupted" | RunResult> {
    const { category, wait } = await handleFailedAttempt(this.store, this.observer, this.retry, {
      runId: this.runId,
      step: this.step,
      scope: "",
      attempt: timing.attempt,
      used,
      error,
      startedAt: timing.startedAt,
      durationMs: timing.durationMs,
    });
    if (wait !== null) {
      try {
        await abortableDelay(wait, this.abortSignal);
      } catch {
        return "interrupted";
      }
      return "retry";
    }
    const failure = { message: errorMessage(error), category };
    const ok = await this.store.updateOwnedRun(this.runId, this.owner, {
      status: "failed",
      error: failure.message,
      errorCategory: category,
      waiting: null,
      ...RELEASE,
    });
    if (!ok) return await this.#lost(state);
    await this.store.addEvent(
      this.runId,
      "failed",
      `step ${this.step} failed after ${timing.attempt} attempt(s): ${category}: ${failure.message}`,
    );
    return await this.#finish("failed", { error: failure }, state);
  }

  /** The final step: committed with the run's completion in one transaction. */
  async #complete(
    out: { final: unknown; json: string },
    timing: AttemptTiming,
    state: unknown,
  ): Promise<RunResult> {
    const ok = await this.store.commitFinal(
      { runId: this.runId, step: this.step, ...timing, state: null },
      this.owner,
      {
        status: "completed",
        result: out.json,
        waiting: null,
        error: null,
        errorCategory: null,
        ...RELEASE,
      },
    );
    if (!ok) return await this.#lost(state);
    crashIfRequested(this.runId, this.step);
    notify(this.observer, "onStepEnd", {
      runId: this.runId,
      step: this.step,
      attempt: timing.attempt,
      stateBefore: state,
      stateAfter: undefined,
      final: true,
      result: out.final,
      durationMs: timing.durationMs,
    });
    this.step++;
    this.stepsThisRun++;
    return await this.#finish("completed", { result: out.final }, state);
  }

  /** The step limit of this invocation was reached: the run pauses. */
  async #pause(state: unknown): Promise<RunResult> {
    const ok = await this.store.updateOwnedRun(this.runId, this.owner, {
      status: "paused",
      ...RELEASE,
    });
    if (!ok) return await this.#lost(state);
    return await this.#finish("paused", {}, state);
  }

  /** Interrupted, cancelled or lease lost: nothing of the current step is committed. */
  async #interrupted(state: unknown): Promise<RunResult> {
    if (this.#cancelled) {
      const now = await this.store.getRun(this.runId);
      return await this.#finish("cancelled", { error: now ? cancelError(now) : undefined }, state);
    }
    if (this.#lostLease) return await this.#lost(state);
    const ok = await this.store.updateOwnedRun(this.runId, this.owner, {
      status: "paused",
      ...RELEASE,
    });
    if (!ok) return await this.#lost(state);
    await this.store.addEvent(
      this.runId,
      "interrupted",
      `interrupted during step ${this.step}; paused`,
    );
    return await this.#finish("paused", {}, state);
  }

  /** Whoever made our guarded write fail: cancellation, or another owner. */
  async #lost(state: unknown): Promise<RunResult> {
    const now = await this.store.getRun(this.runId);
    if (now?.status === "cancelled") {
      return await this.#finish("cancelled", { error: cancelError(now) }, state);
    }
    this.stop();
    throw new RunnerError(
      `run ${this.runId} lost its lease to ${
        now?.leaseOwner ?? "another process"
      }; stopped without committing`,
      { exitCode: 1 },
    );
  }

  /** Ends the invocation: compacts what the hot loop left, tells the observers, returns. */
  async #finish(
    status: RunStatus,
    extra: Partial<RunResult>,
    state: unknown,
  ): Promise<RunResult> {
    this.stop();
    // Compact what the hot path left; keep the latest checkpoint (before the final step, if any).
    const { firstStep } = this.record;
    const keepFrom = status === "completed" ? this.step - 2 : this.step - 1;
    if (this.policy.checkpoint === "compact" && keepFrom > firstStep) {
      await this.store.compactSteps(this.runId, firstStep, keepFrom - 1, this.policy.every);
    }
    const { runId, step: steps, stepsThisRun } = this;
    notify(this.observer, "onRunEnd", {
      runId,
      status,
      steps,
      result: extra.result,
      error: extra.error,
    });
    return { runId, status, steps, stepsThisRun, state, ...extra };
  }
}

/**
 * The engine: starts and resumes runs, commits every `recur` as a checkpoint (one transaction),
 * applies retry policies, suspends on signals/timers/children, and holds the run's lease.
 *
 * @module
 */
import { isTailCall, type TailCall } from "@loom/tailcalls";
import { crashIfRequested } from "./_fault_hook.ts";
import { type Agent, agentSourceHash, type CheckpointPolicy, type PayloadPolicy } from "./agent.ts";
import {
  abortableDelay,
  type ChildRunner,
  StepContextImpl,
  type StepLogger,
  Suspend,
} from "./context.ts";
import { type ErrorCategory, errorMessage, NotSerializableError, RunnerError } from "../errors.ts";
import { encodeJson } from "../json.ts";
import { DEFAULT_LEASE_TTL_MS, newOwnerId, takeRunLease } from "./lease.ts";
import { notify, type RunObserver } from "./observer.ts";
import { recordFailedAttempt, resolveRetry } from "./retry.ts";
import type { RunRecord, RunStatus, Store, StoredPolicy, WaitInfo } from "../store/store.ts";

/** Options of `startRun` / `resumeRun`. */
export interface RunOptions {
  /** The store (see `openStore`). */
  store: Store;
  /** Run id. */
  runId: string;
  /** Input for `initialState` (start only). */
  input?: unknown;
  /** Steps to run in this invocation before pausing (status `paused`). */
  maxSteps?: number;
  /** Hooks for tracing and progress. */
  observer?: RunObserver;
  /** Aborting it interrupts the run: the current step is abandoned and the run is `paused`. */
  signal?: AbortSignal;
  /** Where `ctx.log` lines go (default: stderr). */
  logger?: StepLogger;
  /** Lease time-to-live in ms (default 30 000). */
  leaseTtlMs?: number;
  /** Checkpoint policy for a new run (default: the agent's, else `full`). */
  checkpoint?: CheckpointPolicy;
  /** Payload policy for a new run (default: the agent's, else 1 MiB). */
  payload?: PayloadPolicy;
  /** Timers longer than this suspend the run as `waiting` instead of sleeping in-process. Default 5 min. */
  maxInProcessSleepMs?: number;
}

/** What a run invocation returns. */
export interface RunResult<R = unknown> {
  /** Run id. */
  runId: string;
  /** Status after this invocation. */
  status: RunStatus;
  /** Final result when completed. */
  result?: R;
  /** Error when failed. */
  error?: { message: string; category: ErrorCategory };
  /** Index of the next step, i.e. steps committed so far (the final step included when completed). */
  steps: number;
  /** Steps committed by this invocation. */
  stepsThisRun: number;
  /** Latest state (the state the final step received, for completed runs). */
  state: unknown;
  /** For waiting runs: the signal name, `timer`, or `child:<runId>`. */
  waitingFor?: string;
  /** For waiting runs: details. */
  waiting?: WaitInfo;
}

interface ParentLink {
  runId: string;
  step: number;
}

/** Resolves a checkpoint and payload policy to the stored form. */
export function resolvePolicy(
  checkpoint: CheckpointPolicy | undefined,
  payload: PayloadPolicy | undefined,
): StoredPolicy {
  const c = typeof checkpoint === "string" ? { mode: checkpoint } : checkpoint ?? { mode: "full" };
  const every = c.mode === "compact"
    ? Math.max(1, Math.floor((c as { every?: number }).every ?? 100))
    : 1;
  return {
    checkpoint: c.mode === "compact" ? "compact" : "full",
    every,
    maxInlineBytes: payload?.maxInlineBytes ?? 1024 * 1024,
  };
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

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Describes what a waiting run waits for, in a few words. */
export function describeWait(w: WaitInfo): string {
  if (w.kind === "signal") return w.name;
  if (w.kind === "timer") return "timer";
  return `child:${w.childRunId}`;
}

function decodeState(agent: Agent<unknown, unknown, unknown>, json: string): unknown {
  const raw = JSON.parse(json);
  return agent.decode ? agent.decode(raw) : raw;
}

function encodeState(
  agent: Agent<unknown, unknown, unknown>,
  state: unknown,
  path = "state",
): string {
  return encodeJson(agent.encode ? agent.encode(state) : state, path);
}

/** Reads a run or fails with a clear error. */
export async function requireRun(store: Store, runId: string): Promise<RunRecord> {
  const run = await store.getRun(runId);
  if (!run) throw new RunnerError(`run ${runId} does not exist in ${store.location}`);
  return run;
}

/** Starts a new run; fails when the run id exists. */
export function startRun<S, R, I>(
  agent: Agent<S, R, I>,
  options: RunOptions,
): Promise<RunResult<R>> {
  return invoke(agent as Agent<unknown, unknown, unknown>, options, "start") as Promise<
    RunResult<R>
  >;
}

/** Resumes a run from its last committed transition. */
export function resumeRun<S, R, I>(
  agent: Agent<S, R, I>,
  options: RunOptions,
): Promise<RunResult<R>> {
  return invoke(agent as Agent<unknown, unknown, unknown>, options, "resume") as Promise<
    RunResult<R>
  >;
}

/** Starts the run when it does not exist, else resumes it (completed runs return their result). */
export async function startOrResumeRun<S, R, I>(
  agent: Agent<S, R, I>,
  options: RunOptions,
): Promise<RunResult<R>> {
  const run = await options.store.getRun(options.runId);
  if (!run) return startRun(agent, options);
  if (run.status === "completed") return finishedResult(run) as RunResult<R>;
  return resumeRun(agent, options);
}

function finishedResult(run: RunRecord, steps = 0): RunResult {
  return {
    runId: run.runId,
    status: run.status,
    result: run.result === null ? undefined : JSON.parse(run.result),
    error: run.error ? { message: run.error, category: run.errorCategory ?? "unknown" } : undefined,
    steps,
    stepsThisRun: 0,
    state: undefined,
  };
}

function newRunRecord(
  agent: Agent<unknown, unknown, unknown>,
  options: Pick<RunOptions, "runId" | "input" | "checkpoint" | "payload">,
  status: RunStatus,
  owner: string | null,
  ttl: number,
  parent?: ParentLink,
): RunRecord {
  const now = Date.now();
  const input = options.input === undefined ? null : encodeJson(options.input, "input");
  let initialState: string;
  try {
    initialState = encodeState(agent, agent.initialState(options.input as never), "initial state");
  } catch (e) {
    if (e instanceof NotSerializableError) throw new RunnerError(e.message);
    throw e;
  }
  const policy = resolvePolicy(
    options.checkpoint ?? agent.checkpoint,
    options.payload ?? agent.payload,
  );
  return {
    runId: options.runId,
    agentName: agent.name,
    agentVersion: agent.version,
    agentHash: agentSourceHash(agent),
    status,
    parentRunId: parent?.runId ?? null,
    parentStep: parent?.step ?? null,
    forkOfRunId: null,
    forkOfStep: null,
    firstStep: 0,
    initialState,
    input,
    result: null,
    error: null,
    errorCategory: null,
    waiting: null,
    policy: JSON.stringify(policy),
    patchedStep: null,
    patchedState: null,
    leaseOwner: owner,
    leaseExpires: owner === null ? null : now + ttl,
    retryStep: null,
    retryBase: 0,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Creates a run in status `queued` without running a step (no lease taken); `resumeRun` or a
 * worker starts it. Fails when the run id exists.
 */
export async function enqueueRun<S, R, I>(
  agent: Agent<S, R, I>,
  options: Pick<RunOptions, "store" | "runId" | "input" | "checkpoint" | "payload">,
): Promise<RunRecord> {
  const { store, runId } = options;
  if (typeof runId !== "string" || runId === "") throw new RunnerError("a run id is required");
  if (await store.getRun(runId)) {
    throw new RunnerError(`run ${runId} already exists in ${store.location}`);
  }
  const a = agent as Agent<unknown, unknown, unknown>;
  const run = newRunRecord(a, options, "queued", null, 0);
  await store.createRun(run);
  await store.addEvent(runId, "queued", `run queued for agent ${a.name} v${a.version}`);
  return run;
}

async function invoke(
  agent: Agent<unknown, unknown, unknown>,
  options: RunOptions,
  mode: "start" | "resume",
  parent?: ParentLink,
): Promise<RunResult> {
  const { store, runId } = options;
  if (typeof runId !== "string" || runId === "") throw new RunnerError("a run id is required");
  const owner = newOwnerId();
  const ttl = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  if (mode === "start") {
    if (await store.getRun(runId)) {
      throw new RunnerError(`run ${runId} already exists in ${store.location}; resume it instead`);
    }
    const run = newRunRecord(agent, options, "running", owner, ttl, parent);
    await store.createRun(run);
    await store.addEvent(
      runId,
      "started",
      `run started by agent ${agent.name} v${agent.version}${
        parent ? ` as a child of ${parent.runId}` : ""
      }`,
      JSON.stringify({ owner, agentHash: run.agentHash }),
    );
    return await advance(agent, options, run, owner, ttl, false);
  }
  const resume = await leaseForResume(agent, options, owner, ttl);
  if ("result" in resume) return resume.result;
  return await advance(agent, options, resume.run, owner, ttl, true);
}

/**
 * Reads a run to resume, checks that it may resume, and takes its lease; when another process
 * changed the run between the read and the lease, reads it and decides again. A waiting run whose
 * wait cannot be over yet is returned as it is, without its lease being taken.
 */
async function leaseForResume(
  agent: Agent<unknown, unknown, unknown>,
  options: RunOptions,
  owner: string,
  ttl: number,
): Promise<{ run: RunRecord } | { result: RunResult }> {
  const { store, runId } = options;
  for (;;) {
    const run = await requireRun(store, runId);
    assertResumable(run, agent);
    const waiting = await stillWaiting(agent, options, run);
    if (waiting) return { result: waiting };
    const lease = await takeRunLease(store, run, owner, ttl);
    if (lease === undefined) continue; // the run changed since it was read
    if (!lease.ok) {
      throw new RunnerError(
        `run ${runId} is being advanced by another process (lease owner ${lease.owner}, expires in ${
          Math.max(0, Math.ceil((lease.expires - Date.now()) / 1000))
        } s)`,
      );
    }
    if (lease.previousOwner !== null) {
      await store.addEvent(
        runId,
        "lease-takeover",
        `took over the lease from ${lease.previousOwner}${
          lease.tookOver ? " (owner gone or lease expired)" : ""
        }`,
      );
    }
    await store.addEvent(runId, "resumed", `resumed from ${run.status}`, JSON.stringify({ owner }));
    return { run };
  }
}

/** Fails unless `agent` may resume `run`: its own agent, not finished, a version it can read. */
function assertResumable(run: RunRecord, agent: Agent<unknown, unknown, unknown>): void {
  const { runId } = run;
  if (run.agentName !== agent.name) {
    throw new RunnerError(`run ${runId} belongs to agent ${run.agentName}, not ${agent.name}`);
  }
  if (run.status === "completed") {
    throw new RunnerError(`run ${runId} is already completed and cannot be resumed`);
  }
  if (run.status === "failed") {
    throw new RunnerError(
      `run ${runId} failed (${run.errorCategory}: ${run.error}); use retry to continue it from its last checkpoint`,
    );
  }
  if (run.status === "cancelled") {
    throw new RunnerError(`run ${runId} was cancelled and cannot be resumed`);
  }
  if (run.agentVersion !== agent.version && !agent.migrate) {
    throw new RunnerError(
      `run ${runId} was checkpointed by ${agent.name} version ${run.agentVersion}, but this module is version ${agent.version} and has no migrate()`,
    );
  }
}

/**
 * The result for a waiting run whose wait cannot be over yet (no signal, deadline ahead, or a
 * timer too far off to sleep in-process); undefined when the run should advance.
 */
async function stillWaiting(
  agent: Agent<unknown, unknown, unknown>,
  options: RunOptions,
  run: RunRecord,
): Promise<RunResult | undefined> {
  if (run.status !== "waiting" || !run.waiting) return undefined;
  const { store, runId } = options;
  const w = JSON.parse(run.waiting) as WaitInfo;
  const limit = options.maxInProcessSleepMs ?? 5 * 60_000;
  const waiting = (w.kind === "signal" &&
    (w.deadline === null || Date.now() < w.deadline) &&
    !(await store.nextSignal(runId, w.name))) ||
    (w.kind === "timer" && w.wakeAt - Date.now() > limit);
  if (!waiting) return undefined;
  const last = await store.lastStep(runId);
  const next = last ? last.step + 1 : run.firstStep;
  const json = run.patchedStep === next ? run.patchedState : last?.state ?? run.initialState;
  return {
    ...finishedResult(run, next),
    state: json === null ? undefined : decodeState(agent, json),
    waitingFor: describeWait(w),
    waiting: w,
  };
}

async function advance(
  agent: Agent<unknown, unknown, unknown>,
  options: RunOptions,
  run: RunRecord,
  owner: string,
  ttl: number,
  resumed: boolean,
): Promise<RunResult> {
  const { store, runId, observer } = options;
  const policy = JSON.parse(run.policy) as StoredPolicy;
  const maxSteps = options.maxSteps ?? agent.maxSteps ?? Infinity;
  const maxInProcessSleepMs = options.maxInProcessSleepMs ?? 5 * 60_000;
  const retry = resolveRetry(agent.retry);
  let stepIndex = run.firstStep;
  let stepsThisRun = 0;

  // One abort controller per invocation: cancellation, lease loss and caller interrupts.
  const ac = new AbortController();
  const onOuterAbort = () =>
    ac.abort(new RunnerError(`run ${runId} was interrupted`, { exitCode: 1 }));
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  let lostLease = false;
  let cancelled = false;
  const renew = setInterval(async () => {
    try {
      const status = await store.renewLease(runId, owner, ttl);
      if (status === null) {
        lostLease = true;
        ac.abort(
          new RunnerError(`run ${runId} lost its lease to another process`, { exitCode: 1 }),
        );
      } else if (status === "cancelled") {
        cancelled = true;
        ac.abort(new RunnerError(`run ${runId} was cancelled`, { exitCode: 1 }));
      }
    } catch { /* a busy database: try again next tick */ }
  }, Math.max(50, Math.floor(ttl / 3)));
  Deno.unrefTimer(renew);

  const logger = options.logger ?? defaultLogger(runId, () => stepIndex);
  const log: StepLogger = {
    info: (m, d) => {
      notify(observer, "onLog", { runId, stepIndex, level: "info", message: m, data: d });
      logger.info(m, d);
    },
    warn: (m, d) => {
      notify(observer, "onLog", { runId, stepIndex, level: "warn", message: m, data: d });
      logger.warn(m, d);
    },
    error: (m, d) => {
      notify(observer, "onLog", { runId, stepIndex, level: "error", message: m, data: d });
      logger.error(m, d);
    },
  };

  const runChild: ChildRunner = async (childAgent, childId, input, parent) => {
    const existing = await store.getRun(childId);
    const childOptions: RunOptions = {
      store,
      runId: childId,
      input,
      observer,
      signal: ac.signal,
      logger: options.logger,
      leaseTtlMs: options.leaseTtlMs,
      maxInProcessSleepMs: options.maxInProcessSleepMs,
    };
    if (!existing) {
      return await invoke(
        childAgent as Agent<unknown, unknown, unknown>,
        childOptions,
        "start",
        parent,
      );
    }
    if (existing.parentRunId !== parent.runId) {
      throw new RunnerError(`run ${childId} exists and is not a child of run ${parent.runId}`);
    }
    if (
      existing.status === "completed" || existing.status === "failed" ||
      existing.status === "cancelled"
    ) {
      return finishedResult(existing);
    }
    return await invoke(childAgent as Agent<unknown, unknown, unknown>, childOptions, "resume");
  };

  const finish = async (
    status: RunStatus,
    extra: Partial<RunResult>,
    state: unknown,
  ): Promise<RunResult> => {
    clearInterval(renew);
    options.signal?.removeEventListener("abort", onOuterAbort);
    // Compact what the hot path left; keep the latest checkpoint (before the final step, if any).
    const keepFrom = status === "completed" ? stepIndex - 2 : stepIndex - 1;
    if (policy.checkpoint === "compact" && keepFrom > run.firstStep) {
      await store.compactSteps(runId, run.firstStep, keepFrom - 1, policy.every);
    }
    const result: RunResult = { runId, status, steps: stepIndex, stepsThisRun, state, ...extra };
    notify(observer, "onRunEnd", {
      runId,
      status,
      steps: stepIndex,
      result: extra.result,
      error: extra.error,
    });
    return result;
  };

  const release = { leaseOwner: null, leaseExpires: null } as const;
  const success = { error: null, errorCategory: null } as const;

  // Whoever made our guarded write fail: cancellation, or another owner.
  const lost = async (state: unknown): Promise<RunResult> => {
    const now = await store.getRun(runId);
    if (now?.status === "cancelled") {
      return finish("cancelled", { error: cancelError(now) }, state);
    }
    clearInterval(renew);
    options.signal?.removeEventListener("abort", onOuterAbort);
    throw new RunnerError(
      `run ${runId} lost its lease to ${
        now?.leaseOwner ?? "another process"
      }; stopped without committing`,
      { exitCode: 1 },
    );
  };

  try {
    // Load the last committed transition.
    const last = await store.lastStep(runId);
    stepIndex = last ? last.step + 1 : run.firstStep;
    let stateJson: string | null = run.patchedStep === stepIndex
      ? run.patchedState
      : last
      ? last.state
      : run.initialState;
    if (stateJson === null) {
      throw new RunnerError(
        `run ${runId} has no stored checkpoint before step ${stepIndex}; the database is damaged`,
      );
    }
    if (run.agentVersion !== agent.version) {
      const migrated = agent.migrate!(JSON.parse(stateJson), run.agentVersion);
      stateJson = encodeState(agent, migrated, "migrated state");
      const ok = await store.updateOwnedRun(runId, owner, {
        agentVersion: agent.version,
        agentHash: agentSourceHash(agent),
        patchedStep: stepIndex,
        patchedState: stateJson,
      });
      if (!ok) return await lost(undefined);
      await store.addEvent(
        runId,
        "migrated",
        `state migrated from version ${run.agentVersion} to ${agent.version} before step ${stepIndex}`,
      );
    } else if (resumed) {
      const hash = agentSourceHash(agent);
      if (hash !== null && run.agentHash !== null && hash !== run.agentHash) {
        await store.updateOwnedRun(runId, owner, { agentHash: hash });
        await store.addEvent(
          runId,
          "source-changed",
          `warning: the agent's source changed since the last start/resume (hash ${run.agentHash} -> ${hash}); resumed with the same version ${agent.version}`,
        );
        logger.warn(
          `agent ${agent.name} source changed since run ${runId} last ran; resuming (same version)`,
        );
      }
    }
    let state = decodeState(agent, stateJson);
    const lastAttempt = await store.lastAttempt(runId, stepIndex, "");
    let attempt = (lastAttempt?.attempt ?? 0) + 1;
    let budgetBase = run.retryStep === stepIndex ? run.retryBase : 0;
    // A retry delay recorded before a crash is honoured after the restart.
    if (lastAttempt?.retryAt && lastAttempt.retryAt > Date.now()) {
      await abortableDelay(lastAttempt.retryAt - Date.now(), ac.signal);
    }
    notify(observer, "onRunStart", {
      runId,
      agentName: agent.name,
      agentVersion: agent.version,
      resumed,
      stepIndex,
      parentRunId: run.parentRunId,
      state,
    });
    const every = policy.every;
    const origin = performance.timeOrigin;
    const compact = policy.checkpoint === "compact";

    for (;;) {
      if (ac.signal.aborted) break;
      if (stepsThisRun >= maxSteps) {
        if (!(await store.updateOwnedRun(runId, owner, { status: "paused", ...release }))) {
          return await lost(state);
        }
        return await finish("paused", {}, state);
      }
      const ctx = new StepContextImpl({
        store,
        runId,
        stepIndex,
        attempt,
        signal: ac.signal,
        log,
        observer,
        policy,
        maxInProcessSleepMs,
        runChild,
      });
      const t0 = performance.now();
      const startedAt = Math.round(origin + t0);
      if (observer) {
        notify(observer, "onStepStart", { runId, stepIndex, attempt, state, startedAt });
      }
      let out: unknown;
      let failure: unknown;
      let failed = false;
      try {
        // A synchronous step's value is used as is: no microtask per step on the hot path.
        out = agent.step(state, ctx);
        if (isThenable(out)) out = await out;
        // Serialise inside the try: a non-JSON state is a failure of the step that produced it.
        if (!ctx.suspended) {
          if (isTailCall(out)) {
            if (out.target !== undefined) {
              throw new TypeError(
                "a runner step must return recur(state), not a tail call to another loop",
              );
            }
            out = { next: out.args[0], json: encodeState(agent, out.args[0]), marker: out };
          } else {
            out = { final: out, json: encodeJson(out === undefined ? null : out, "result") };
          }
        }
      } catch (e) {
        failure = e;
        failed = true;
      }
      const durationMs = performance.now() - t0;
      const suspension = ctx.suspended ?? (failure instanceof Suspend ? failure : undefined);
      if (suspension) {
        if (ac.signal.aborted) break;
        const waiting = suspension.waiting;
        if (
          !(await store.updateOwnedRun(runId, owner, {
            status: "waiting",
            waiting: JSON.stringify(waiting),
            ...release,
          }))
        ) {
          return await lost(state);
        }
        notify(observer, "onWaiting", { runId, stepIndex, waiting });
        return await finish("waiting", { waitingFor: describeWait(waiting), waiting }, state);
      }
      if (ac.signal.aborted) break;
      if (failed) {
        const e = failure;
        const { category, wait } = await recordFailedAttempt(store, observer, retry, {
          runId,
          stepIndex,
          scope: "",
          attempt,
          used: attempt - budgetBase,
          error: e,
          startedAt,
          durationMs,
        });
        if (wait !== null) {
          try {
            await abortableDelay(wait, ac.signal);
          } catch {
            break;
          }
          attempt++;
          continue;
        }
        const error = { message: errorMessage(e), category };
        if (
          !(await store.updateOwnedRun(runId, owner, {
            status: "failed",
            error: error.message,
            errorCategory: category,
            waiting: null,
            ...release,
          }))
        ) return await lost(state);
        await store.addEvent(
          runId,
          "failed",
          `step ${stepIndex} failed after ${attempt} attempt(s): ${category}: ${error.message}`,
        );
        return await finish("failed", { error }, state);
      }
      const o = out as { next?: unknown; final?: unknown; json: string; marker?: TailCall };
      if ("next" in o) {
        // Sync backends (SQLite) return a boolean: await only real promises (async backends).
        const committed = store.commitStep(
          { runId, step: stepIndex, attempt, startedAt, durationMs, state: o.json },
          owner,
        );
        if (!(typeof committed === "boolean" ? committed : await committed)) {
          return await lost(state);
        }
        crashIfRequested(runId, stepIndex); // test-only; a no-op unless LOOM_TEST_CRASH_AFTER_STEP
        if (compact && (stepIndex + 1) % every === 0 && stepIndex > run.firstStep) {
          await store.compactSteps(
            runId,
            Math.max(run.firstStep, stepIndex - 2 * every),
            stepIndex - 1,
            every,
          );
        }
        if (observer) {
          notify(observer, "onStepEnd", {
            runId,
            stepIndex,
            attempt,
            stateBefore: state,
            stateAfter: o.next,
            final: false,
            marker: o.marker,
            durationMs,
          });
        }
        state = o.next;
        stepIndex++;
        stepsThisRun++;
        if (attempt !== 1 || budgetBase !== 0) {
          attempt = 1;
          budgetBase = 0;
        }
        continue;
      }
      const ok = await store.commitFinal(
        { runId, step: stepIndex, attempt, startedAt, durationMs, state: null },
        owner,
        { status: "completed", result: o.json, waiting: null, ...success, ...release },
      );
      if (!ok) return await lost(state);
      crashIfRequested(runId, stepIndex);
      notify(observer, "onStepEnd", {
        runId,
        stepIndex,
        attempt,
        stateBefore: state,
        stateAfter: undefined,
        final: true,
        result: o.final,
        durationMs,
      });
      stepIndex++;
      stepsThisRun++;
      return await finish("completed", { result: o.final }, state);
    }
    // Interrupted, cancelled or lease lost: nothing of the current step is committed.
    if (cancelled) {
      const now = await store.getRun(runId);
      return await finish("cancelled", { error: now ? cancelError(now) : undefined }, state);
    }
    if (lostLease) return await lost(state);
    if (!(await store.updateOwnedRun(runId, owner, { status: "paused", ...release }))) {
      return await lost(state);
    }
    await store.addEvent(runId, "interrupted", `interrupted during step ${stepIndex}; paused`);
    return await finish("paused", {}, state);
  } catch (e) {
    clearInterval(renew);
    options.signal?.removeEventListener("abort", onOuterAbort);
    // Leave the run resumable: drop our lease so a resume does not have to wait for expiry.
    try {
      await store.updateOwnedRun(runId, owner, { status: "paused", ...release });
    } catch { /* store unusable: the lease will expire */ }
    throw e;
  }
}

function cancelError(run: RunRecord): { message: string; category: ErrorCategory } {
  return { message: run.error ?? "cancelled", category: run.errorCategory ?? "business" };
}

/**
 * The engine: starts and resumes runs (`startRun`, `resumeRun`, `enqueueRun`), takes each run's
 * lease by the rules of `lease.ts`, and hands it to `advance.ts`, which commits every `recur` as
 * a checkpoint (one transaction), applies retry policies and suspends on signals, timers and
 * children. Child runs are started and resumed here too.
 *
 * @module
 */
import { type Agent, agentSourceHash, type CheckpointPolicy, type PayloadPolicy } from "./agent.ts";
import { advance } from "./advance.ts";
import { decodeState, encodeState } from "./checkpoint.ts";
import { type ChildRunner, describeWait, type StepLogger } from "./context.ts";
import {
  type ErrorCategory,
  LeaseHeldError,
  NotSerializableError,
  RunnerError,
} from "../errors.ts";
import { encodeJson } from "../json.ts";
import { DEFAULT_LEASE_TTL_MS, holdOwnerLockFor, newOwnerId, takeRunLease } from "./lease.ts";
import type { RunObserver } from "./observer.ts";
import type { RunRecord, RunStatus, Store, StoredPolicy, WaitInfo } from "../store/store.ts";

/** Options of `startRun` / `resumeRun`. */
export interface RunOptions {
  /** Where the run is stored (see `openStore`, `openAnyStore`). */
  store: Store;
  /** The run to start or resume; chosen by the caller, unique in the store. */
  runId: string;
  /** What `initialState` receives (start only). @default undefined */
  input?: unknown;
  /**
   * Steps this invocation runs before pausing (status `paused`).
   * @default the agent's `maxSteps`, else no limit
   */
  maxSteps?: number;
  /** Hooks for tracing and progress (see `combineObservers` for several). */
  observer?: RunObserver;
  /** Aborting it interrupts the run: the current step is abandoned and the run is `paused`. */
  abortSignal?: AbortSignal;
  /** @deprecated Use `abortSignal` (a "signal" is a durable message sent to a run). */
  signal?: AbortSignal;
  /** Where `ctx.log` lines go. @default stderr */
  logger?: StepLogger;
  /** How long the lease lasts without renewal, ms; renewed every third of it. @default 30_000 */
  leaseTtlMs?: number;
  /** Checkpoint policy of a new run. @default the agent's, else `"full"` */
  checkpoint?: CheckpointPolicy;
  /** Payload policy of a new run. @default the agent's, else 1 MiB inline */
  payload?: PayloadPolicy;
  /**
   * Timers longer than this suspend the run as `waiting` instead of sleeping in-process, ms.
   * @default 300_000 (5 min)
   */
  maxInProcessSleepMs?: number;
}

/** What a run invocation returns. */
export interface RunResult<R = unknown> {
  /** The run that was advanced. */
  runId: string;
  /** Status after this invocation. */
  status: RunStatus;
  /** Final result when completed. */
  result?: R;
  /** The error when failed (or the reason when cancelled). */
  error?: { message: string; category: ErrorCategory };
  /**
   * The step that runs next: the number of steps committed so far over the run's lineage (the
   * final step included when completed).
   */
  steps: number;
  /** Steps committed by this invocation. */
  stepsThisRun: number;
  /** Latest state (the state the final step received, for completed runs). */
  state: unknown;
  /** For waiting runs: the signal name, `timer`, or `child:<runId>`. */
  waitingFor?: string;
  /** For waiting runs: what the run waits for. */
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

/** Reads a run or fails with a clear error. */
export async function requireRun(store: Store, runId: string): Promise<RunRecord> {
  const run = await store.getRun(runId);
  if (!run) throw new RunnerError(`run ${runId} does not exist in ${store.location}`);
  return run;
}

/**
 * Starts a new run and runs it until it completes, fails, waits (for a signal or a timer) or
 * reaches `maxSteps` (status `paused`). Every `recur` is committed to the store before the next
 * step starts, so a killed process loses at most the step it was in.
 *
 * @param agent The agent (`defineAgent`).
 * @param options The store, the run id, the input and limits.
 * @returns How this invocation ended: `status`, and `result` when completed.
 * @throws {RunnerError} When the run id already exists in the store.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { defineAgent, openStore, recur, startRun } from "@loom/runner";
 *
 * const counter = defineAgent({
 *   name: "counter",
 *   initialState: () => ({ n: 0 }),
 *   step: (state) => state.n >= 3 ? { counted: state.n } : recur({ n: state.n + 1 }),
 * });
 * const store = openStore(":memory:");
 * const run = await startRun(counter, { store, runId: "demo" });
 * deepEqual([run.status, run.result], ["completed", { counted: 3 }]);
 * store.close();
 * ```
 */
export function startRun<S, R, I>(
  agent: Agent<S, R, I>,
  options: RunOptions,
): Promise<RunResult<R>> {
  return invoke(agent as Agent<unknown, unknown, unknown>, options, "start") as Promise<
    RunResult<R>
  >;
}

/**
 * Resumes a run from its last committed transition: after a crash, a `paused` invocation, or a
 * wait whose signal has arrived. A completed run returns its stored result without running.
 *
 * @param agent The same agent the run was started with.
 * @param options The store, the run id and limits.
 * @returns How this invocation ended.
 * @throws {RunnerError} When the run does not exist, or its lease is held by a live process.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { defineAgent, openStore, recur, resumeRun, startRun } from "@loom/runner";
 *
 * const counter = defineAgent({
 *   name: "counter",
 *   initialState: () => ({ n: 0 }),
 *   step: (state) => state.n >= 5 ? { counted: state.n } : recur({ n: state.n + 1 }),
 * });
 * const store = openStore(":memory:");
 * const first = await startRun(counter, { store, runId: "demo", maxSteps: 2 });
 * equal(first.status, "paused");
 * const second = await resumeRun(counter, { store, runId: "demo" });
 * deepEqual([second.status, second.result], ["completed", { counted: 5 }]);
 * store.close();
 * ```
 */
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
    endedAt: null,
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
  // Held for the whole invocation, before the lease is taken and until it is given up: while
  // it is held, other processes see this owner alive (its death at once, on a SQLite file).
  const lock = holdOwnerLockFor(store);
  try {
    return await invokeHolding(agent, options, mode, newOwnerId(lock.token), parent);
  } finally {
    lock.release();
  }
}

async function invokeHolding(
  agent: Agent<unknown, unknown, unknown>,
  options: RunOptions,
  mode: "start" | "resume",
  owner: string,
  parent?: ParentLink,
): Promise<RunResult> {
  const { store, runId } = options;
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
    return await advance(agent, options, run, owner, ttl, false, childRunner(options));
  }
  const resume = await leaseForResume(agent, options, owner, ttl);
  if ("result" in resume) return resume.result;
  return await advance(agent, options, resume.run, owner, ttl, true, childRunner(options));
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
    if (!lease.ok) throw new LeaseHeldError(runId, lease);
    if (lease.previousOwner !== null) {
      await store.addEvent(
        runId,
        "lease-takeover",
        `took over the lease from ${lease.previousOwner}${
          lease.tookOver ? (lease.ownerGone ? " (owner gone)" : " (lease expired)") : ""
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

/**
 * How a run's steps start or resume its child runs (`ctx.child`): with the parent's store,
 * observer, logger and limits, aborted with the parent's invocation (`abortSignal`).
 */
function childRunner(options: RunOptions): (abortSignal: AbortSignal) => ChildRunner {
  return (abortSignal) => async (childAgent, childId, input, parent) => {
    const { store } = options;
    const existing = await store.getRun(childId);
    const childOptions: RunOptions = {
      store,
      runId: childId,
      input,
      observer: options.observer,
      abortSignal,
      logger: options.logger,
      leaseTtlMs: options.leaseTtlMs,
      maxInProcessSleepMs: options.maxInProcessSleepMs,
    };
    const agent = childAgent as Agent<unknown, unknown, unknown>;
    if (!existing) return await invoke(agent, childOptions, "start", parent);
    if (existing.parentRunId !== parent.runId) {
      throw new RunnerError(`run ${childId} exists and is not a child of run ${parent.runId}`);
    }
    if (
      existing.status === "completed" || existing.status === "failed" ||
      existing.status === "cancelled"
    ) {
      return finishedResult(existing);
    }
    return await invoke(agent, childOptions, "resume");
  };
}

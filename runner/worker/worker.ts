/**
 * Workers: processes (or parts of a program) that share the runs of one store. A worker claims
 * runnable runs (queued, paused, waiting whose signal arrived or timer is due, running whose
 * owner died or lease expired), advances each with `resumeRun`, and sleeps until there may be
 * work: on PostgreSQL it is woken by LISTEN/NOTIFY, on a SQLite file by a change notification
 * of the file (see `store/sqlite_queue.ts`), and in both by a timer for the next known deadline.
 * Two workers never advance one run: the run's lease (checked by every commit) decides.
 *
 * @module
 */
import type { Agent } from "../engine/agent.ts";
import type { StepLogger } from "../engine/context.ts";
import { resumeRun, type RunResult } from "../engine/engine.ts";
import { ownerIsGone } from "../engine/lease.ts";
import { errorMessage, LeaseHeldError, RunnerError } from "../errors.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { SqliteWorkQueue } from "../store/sqlite_queue.ts";
import { type RunRecord, type Store, TERMINAL_STATUSES } from "../store/store.ts";
import { type ClaimedRun, isWorkQueue, type WorkQueue } from "../store/work_queue.ts";

export type { ClaimedRun, ListenOptions, WorkQueue } from "../store/work_queue.ts";
export { SqliteWorkQueue, type SqliteWorkQueueOptions } from "../store/sqlite_queue.ts";
export type { SqliteStore } from "../store/sqlite.ts";

/** Options of `runWorker`. */
export interface WorkerOptions {
  /**
   * The store whose runs this worker shares: a `SqliteStore` (`openStore`; other processes and
   * workers may use the same file) or a `PostgresStore` (or any `Store` that is a `WorkQueue`).
   */
  store: (Store & WorkQueue) | SqliteStore;
  /**
   * Agents this worker runs; it claims only runs of these agents. Any state, result and input
   * types: `[greet, review]` as `defineAgent` made them.
   */
  // deno-lint-ignore no-explicit-any
  agents: readonly Agent<any, any, any>[];
  /** Runs advanced at once. @default 4 */
  concurrency?: number;
  /** Lease time-to-live, ms: how long a dead worker's runs wait for a takeover. @default 30_000 */
  leaseTtlMs?: number;
  /** Steps per claim before the run is released for any worker. @default until the run stops */
  stepsPerClaim?: number;
  /** Return once no run of these agents needs a worker. @default false: work until aborted */
  drain?: boolean;
  /** Aborting it stops the worker: runs in flight are interrupted (left `paused`). */
  abortSignal?: AbortSignal;
  /** @deprecated Use `abortSignal` (a "signal" is a durable message sent to a run). */
  signal?: AbortSignal;
  /** Longest idle sleep without a notification, ms: a safety net only. @default 10_000 */
  maxIdleMs?: number;
  /** How long a run that failed to resume is left alone by this worker, ms. @default 30_000 */
  errorBackoffMs?: number;
  /** Where steps' `ctx.log` lines go. @default stderr */
  logger?: StepLogger;
  /** Timers longer than this suspend the run and free the worker slot, ms. @default 300_000 */
  maxInProcessSleepMs?: number;
  /** Consecutive failed store round trips tolerated (1 s apart) before the worker fails. @default 30 */
  maxStoreFailures?: number;
  /** Progress: called when a claimed run's invocation ends or fails. */
  onRun?: (event: WorkerRunEvent) => void;
  /**
   * Told (one sentence) when the store cannot wake this worker (e.g. PostgreSQL behind a
   * transaction pooler, a SQLite file whose `-wal` cannot be watched): it then wakes only every
   * `maxIdleMs` and at known deadlines; and, once per run, when a queued run's agent is not one
   * of `agents` (the run stays queued for a worker that has it).
   * @default a `warning: …` line on stderr
   */
  onWarning?: (message: string) => void;
}

/** What happened to one claimed run. */
export interface WorkerRunEvent {
  /** The claimed run. */
  runId: string;
  /** The agent that owns it. */
  agentName: string;
  /** Status after this worker's invocation, or `error`, or `contended` (another took it first). */
  outcome: RunResult["status"] | "error" | "contended";
  /** Steps this worker committed. */
  steps: number;
  /** Error message for `error`. */
  error?: string;
}

/** Totals of one worker's life. */
export interface WorkerSummary {
  /** Claims made (a run claimed twice counts twice). */
  claimed: number;
  /** Invocations by outcome. */
  outcomes: Record<string, number>;
  /** Steps committed by this worker. */
  steps: number;
}

/** A wake-up latch: `kick()` ends the current (or next) `wait()`. */
class Latch {
  #dirty = false;
  #wake: (() => void) | undefined;
  kick(): void {
    this.#dirty = true;
    this.#wake?.();
  }
  /** Forgets kicks so far (call right before looking for work). */
  reset(): void {
    this.#dirty = false;
  }
  wait(ms: number, abortSignal?: AbortSignal): Promise<void> {
    if (this.#dirty || abortSignal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        abortSignal?.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      abortSignal?.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }
}

/**
 * Runs a worker until `abortSignal` aborts (or, with `drain`, until no run needs a worker). Runs
 * in flight when it stops are interrupted and left `paused`, so any worker resumes them.
 *
 * On a SQLite file, any number of workers (in this process or others) and plain `run`/`resume`
 * commands may share the file: each run is advanced by one of them at a time. An idle worker
 * sleeps until the file changes or a timer, signal timeout or lease is due.
 *
 * @param options The store, the agents, and limits.
 * @returns What this worker did, once it stopped.
 * @throws {RunnerError} When two agents share a name, no agent is given, or the store cannot be
 * shared by workers.
 *
 * @example Run the agents of a `Deno.serve` app in the same process
 * ```ts
 * import { defineAgent, enqueueRun, openStore } from "@loom/runner";
 * import { runWorker } from "@loom/runner/worker";
 *
 * const greet = defineAgent({
 *   name: "greet",
 *   initialState: (input: { name: string }) => input,
 *   step: (s) => `hello ${s.name}`,
 * });
 * const store = openStore("runs.sqlite"); // `loom-runner worker --db runs.sqlite` may share it
 * const stop = new AbortController();
 * const worker = runWorker({ store, agents: [greet], abortSignal: stop.signal });
 * const server = Deno.serve({ port: 8000 }, async (req) => {
 *   const runId = crypto.randomUUID();
 *   await enqueueRun(greet, { store, runId, input: { name: new URL(req.url).search.slice(1) } });
 *   return Response.json({ runId }, { status: 202 });
 * });
 * Deno.addSignalListener("SIGINT", async () => {
 *   stop.abort(); // runs in flight are left paused for the next worker
 *   await worker;
 *   await server.shutdown();
 *   store.close();
 * });
 * ```
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const queue = workQueueOf(options.store);
  const onWarning = options.onWarning ?? ((m: string) => console.error(`warning: ${m}`));
  const worker = new Worker(options, queue, onWarning);
  const unlisten = await queue.listenForWork(() => worker.latch.kick(), { onWarning });
  try {
    await worker.work();
  } finally {
    await worker.stop();
    await unlisten().catch(() => {});
  }
  return worker.summary;
}

/** The work queue of a store: the store itself, or the SQLite queue over its connection. */
function workQueueOf(store: Store): WorkQueue {
  if (isWorkQueue(store)) return store;
  if (store instanceof SqliteStore) {
    // The engine's rule, with the store: owner locks beside the file are checked (least privilege).
    return new SqliteWorkQueue(store, { ownerIsGone: (owner) => ownerIsGone(owner, store) });
  }
  throw new RunnerError(`${store.location} cannot be shared by workers`);
}

/** The agents of a worker by name; refuses two agents with one name, and none. */
function agentsByName(
  list: readonly Agent<unknown, unknown, unknown>[],
): Map<string, Agent<unknown, unknown, unknown>> {
  const agents = new Map<string, Agent<unknown, unknown, unknown>>();
  for (const a of list) {
    if (agents.has(a.name)) throw new RunnerError(`two agents are named ${a.name}`);
    agents.set(a.name, a);
  }
  if (agents.size === 0) throw new RunnerError("a worker needs at least one agent");
  return agents;
}

/** One worker: its settings, the runs it advances, and the runs it leaves alone for a while. */
class Worker {
  readonly summary: WorkerSummary = { claimed: 0, outcomes: {}, steps: 0 };
  readonly latch = new Latch();
  readonly #options: WorkerOptions;
  readonly #store: Store;
  readonly #queue: WorkQueue;
  readonly #onWarning: (message: string) => void;
  /** Queued runs of agents this worker lacks, already named (`WorkerOptions.onWarning`). */
  readonly #unserved = new Set<string>();
  /** Reasons already told why a lease owner could not be checked. */
  readonly #said = new Set<string>();
  readonly #agents: Map<string, Agent<unknown, unknown, unknown>>;
  readonly #names: string[];
  readonly #concurrency: number;
  readonly #leaseTtlMs: number;
  readonly #maxIdleMs: number;
  readonly #errorBackoffMs: number;
  readonly #maxStoreFailures: number;
  readonly #stop = new AbortController();
  /** The caller's abort signal (`WorkerOptions.abortSignal`), if any. */
  readonly #outer: AbortSignal | undefined;
  readonly #onAbort: () => void;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #backoff = new Map<string, number>(); // run id -> not before (ms since epoch)

  constructor(options: WorkerOptions, queue: WorkQueue, onWarning: (message: string) => void) {
    this.#options = options;
    this.#store = options.store;
    this.#queue = queue;
    this.#onWarning = onWarning;
    this.#agents = agentsByName(options.agents as readonly Agent<unknown, unknown, unknown>[]);
    this.#names = [...this.#agents.keys()];
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.#leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.#maxIdleMs = options.maxIdleMs ?? 10_000;
    this.#errorBackoffMs = options.errorBackoffMs ?? 30_000;
    this.#maxStoreFailures = options.maxStoreFailures ?? 30;
    this.#outer = options.abortSignal ?? options.signal;
    this.#onAbort = () => this.#stop.abort(this.#outer?.reason);
    if (this.#outer?.aborted) this.#onAbort();
    this.#outer?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Looks for work until stopped or drained; store errors are retried for a while. */
  async work(): Promise<void> {
    let storeFailures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        if (await this.#lookForWork()) break;
        storeFailures = 0;
      } catch (e) {
        // The database restarting or a network blip: retry for a while, then give up loudly.
        if (++storeFailures > this.#maxStoreFailures) throw e;
        console.error(`worker: store error (${errorMessage(e)}); retrying in 1 s`);
        await this.latch.wait(1000, this.#stop.signal);
      }
    }
  }

  /** Interrupts the runs in flight and waits for them to be left paused. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled([...this.#inFlight.values()]);
    this.#outer?.removeEventListener("abort", this.#onAbort);
  }

  /** One round: claim what can be claimed, or sleep until there may be work. True: drained. */
  async #lookForWork(): Promise<boolean> {
    const queue = this.#queue;
    const inFlight = this.#inFlight;
    this.latch.reset();
    const now = Date.now();
    for (const [id, until] of this.#backoff) if (until <= now) this.#backoff.delete(id);
    if (inFlight.size < this.#concurrency) {
      const claimed = await queue.claimRunnable(
        this.#names,
        this.#concurrency - inFlight.size,
        this.#leaseTtlMs,
        [...inFlight.keys(), ...this.#backoff.keys()],
      );
      for (const c of claimed) {
        this.summary.claimed++;
        inFlight.set(c.runId, this.#advance(c));
      }
      if (claimed.length > 0) return false;
    } else {
      await this.latch.wait(this.#maxIdleMs, this.#stop.signal); // a run in flight ends, or a notification
      return false;
    }
    await this.#nameUnservedRuns();
    if (this.#options.drain && inFlight.size === 0) {
      if (await queue.pendingRuns(this.#names, [...this.#backoff.keys()]) === 0) return true;
    }
    const next = await queue.nextWakeAt(this.#names);
    const ms = next === null ? this.#maxIdleMs : Math.min(this.#maxIdleMs, next - Date.now() + 5);
    await this.latch.wait(ms, this.#stop.signal);
    return false;
  }

  /** Tells (`onWarning`) why a lease owner's liveness cannot be checked, once per reason. */
  #saidOnce(unchecked: string): void {
    if (this.#said.has(unchecked)) return;
    this.#said.add(unchecked);
    this.#onWarning(
      `a run's lease owner cannot be checked (${unchecked}): its runs wait until their lease expires`,
    );
  }

  /** Says once per run that a queued run's agent is not one this worker has. */
  async #nameUnservedRuns(): Promise<void> {
    const runs = await this.#queue.unservedRuns?.(this.#names) ?? [];
    for (const r of runs) {
      if (this.#unserved.has(r.runId)) continue;
      this.#unserved.add(r.runId);
      this.#onWarning(
        `run ${r.runId} is queued for agent ${r.agentName}, which is not among this worker's agents (${
          this.#names.join(", ")
        }); it stays queued for a worker that has it`,
      );
    }
  }

  /** Advances one claimed run with `resumeRun`, then reports and ends the claim. */
  async #advance(c: ClaimedRun): Promise<void> {
    const store = this.#store;
    // A finished run needs no claim release (and the store ends claims on status changes); a run
    // that is still waiting may have been left untouched, so its claim is released explicitly.
    let claimEnded = false;
    try {
      const result = await resumeRun(this.#agents.get(c.agentName)!, {
        store,
        runId: c.runId,
        leaseTtlMs: this.#leaseTtlMs,
        maxSteps: this.#options.stepsPerClaim,
        abortSignal: this.#stop.signal,
        logger: this.#options.logger,
        maxInProcessSleepMs: this.#options.maxInProcessSleepMs,
      });
      claimEnded = TERMINAL_STATUSES.includes(result.status);
      this.#report(c, result.status, result.stepsThisRun);
    } catch (e) {
      const run = await Promise.resolve(store.getRun(c.runId)).catch(() => undefined);
      if (e instanceof LeaseHeldError || (run && lostRace(run))) {
        if (e instanceof LeaseHeldError && e.unchecked !== undefined) this.#saidOnce(e.unchecked);
        this.#report(c, "contended", 0);
      } else {
        this.#backoff.set(c.runId, Date.now() + this.#errorBackoffMs);
        this.#report(c, "error", 0, errorMessage(e));
      }
    } finally {
      this.#inFlight.delete(c.runId);
      if (!claimEnded) await this.#queue.releaseClaim(c.runId).catch(() => {});
      this.latch.kick();
    }
  }

  /** Records and tells the outcome of one claimed run. */
  #report(c: ClaimedRun, outcome: WorkerRunEvent["outcome"], steps: number, error?: string) {
    const summary = this.summary;
    summary.outcomes[outcome] = (summary.outcomes[outcome] ?? 0) + 1;
    summary.steps += steps;
    this.#options.onRun?.({ runId: c.runId, agentName: c.agentName, outcome, steps, error });
  }
}

/**
 * True when a resume failed because another process advanced the run first: it holds a live
 * lease, or it already finished the run (between this worker's claim and its lease).
 */
function lostRace(run: RunRecord): boolean {
  if (TERMINAL_STATUSES.includes(run.status)) return true;
  return run.status === "running" && run.leaseOwner !== null &&
    (run.leaseExpires ?? 0) > Date.now();
}

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type { TAIL_CALL, TailCall } from "@loom/tailcalls";
export type {
  Agent,
  AGENT_BRAND,
  AgentDefinition,
  CallKind,
  CallRecord,
  CheckpointPolicy,
  ErrorCategory,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  MaybePromise,
  Page,
  PayloadPolicy,
  RetryPolicy,
  RunFilter,
  RunPatch,
  RunRecord,
  RunResult,
  RunStatus,
  SignalRecord,
  SignalTimeout,
  StepContext,
  StepLogger,
  StepRecord,
  StepStats,
  Store,
  ToolCallContext,
  ToolCallOptions,
  WaitInfo,
} from "../mod.ts";

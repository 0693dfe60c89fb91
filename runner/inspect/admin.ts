/**
 * Operations on stored runs that need no agent module: signals, cancel, retry, fork, delete and
 * prune.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { encodeJson } from "../json.ts";
import { requireRun } from "../engine/engine.ts";
import { leaseIsLive } from "../engine/lease.ts";
import { spaceOf, type SpaceReport, type StoreSpace, type TrimOptions } from "../store/space.ts";
import { type RunRecord, type RunStatus, type Store, TERMINAL_STATUSES } from "../store/store.ts";

/**
 * Delivers a signal to a run. It is stored and consumed by the next `ctx.waitForSignal(name)` of
 * the run (on its next resume if it is waiting). Fails for unknown or finished runs.
 *
 * @param store The run's store.
 * @param runId The run.
 * @param name The signal's name, as the run waits for it.
 * @param data JSON-serialisable data the wait returns.
 * @returns The signal's sequence number, the run's status and what it waits for.
 * @throws {RunnerError} When the run is unknown or finished, or the data is not serialisable.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { defineAgent, openStore, resumeRun, sendSignal, startRun } from "@loom/runner";
 *
 * const approval = defineAgent({
 *   name: "approval",
 *   initialState: () => ({}),
 *   async step(_state, ctx) {
 *     const answer = await ctx.waitForSignal("approve");
 *     return { approvedBy: (answer as { by: string }).by };
 *   },
 * });
 * const store = openStore(":memory:");
 * const waiting = await startRun(approval, { store, runId: "release-1" });
 * equal(waiting.status, "waiting");
 * await sendSignal(store, "release-1", "approve", { by: "ann" });
 * const done = await resumeRun(approval, { store, runId: "release-1" });
 * deepEqual(done.result, { approvedBy: "ann" });
 * store.close();
 * ```
 */
export async function sendSignal(
  store: Store,
  runId: string,
  name: string,
  data?: unknown,
): Promise<{ seq: number; status: RunStatus; waitingFor: string | null }> {
  const run = await requireRun(store, runId);
  if (TERMINAL_STATUSES.includes(run.status)) {
    throw new RunnerError(`run ${runId} is ${run.status}; it takes no more signals`);
  }
  if (!name) throw new RunnerError("a signal name is required");
  const json = encodeJson(data === undefined ? null : data, "the signal data");
  const seq = await store.addSignal(runId, name, json, Date.now());
  await store.addEvent(runId, "signal-sent", `signal ${name} #${seq} delivered`);
  const waiting = run.waiting ? JSON.parse(run.waiting) : null;
  return {
    seq,
    status: run.status,
    waitingFor: run.status === "waiting" && waiting?.kind === "signal" ? waiting.name : null,
  };
}

/**
 * Cancels a run and, recursively, its unfinished children. A process advancing the run stops at
 * its next commit (nothing of the current step is committed). Returns the ids cancelled.
 */
export async function cancelRun(
  store: Store,
  runId: string,
  reason = "cancelled",
): Promise<string[]> {
  const run = await requireRun(store, runId);
  if (TERMINAL_STATUSES.includes(run.status)) {
    throw new RunnerError(`run ${runId} is already ${run.status}`);
  }
  const done: string[] = [];
  const visit = async (r: RunRecord): Promise<void> => {
    if (!TERMINAL_STATUSES.includes(r.status)) {
      const ok = await store.updateRunIf(r.runId, ["running", "paused", "waiting"], {
        status: "cancelled",
        error: reason,
        errorCategory: "business",
        waiting: null,
      });
      if (ok) {
        await store.addEvent(r.runId, "cancelled", `cancelled: ${reason}`);
        done.push(r.runId);
      }
    }
    for (const child of await store.listRuns({ parentRunId: r.runId })) await visit(child);
  };
  await visit(run);
  return done;
}

/**
 * Makes a failed run resumable again from its last checkpoint, with a fresh retry budget for the
 * step that failed. Resume it afterwards.
 */
export async function retryRun(store: Store, runId: string): Promise<void> {
  const run = await requireRun(store, runId);
  if (run.status !== "failed") {
    throw new RunnerError(`run ${runId} is ${run.status}; only failed runs can be retried`);
  }
  const last = await store.lastStep(runId);
  const step = last ? last.step + 1 : run.firstStep;
  const prev = await store.lastFailedAttempt(runId, step, "");
  const ok = await store.updateRunIf(runId, ["failed"], {
    status: "paused",
    error: null,
    errorCategory: null,
    retryStep: step,
    retryBase: prev?.attempt ?? 0,
    leaseOwner: null,
    leaseExpires: null,
  });
  if (!ok) throw new RunnerError(`run ${runId} changed while it was being retried; try again`);
  await store.addEvent(
    runId,
    "retry",
    `retry requested: step ${step} gets a fresh attempt budget (after ${
      prev?.attempt ?? 0
    } failed attempt(s))`,
    JSON.stringify({ previousError: run.error, previousCategory: run.errorCategory }),
  );
}

/** The state stored before step `step` of a run (its checkpoint), or an error if not kept. */
export async function getCheckpoint(store: Store, runId: string, step: number): Promise<unknown> {
  const run = await requireRun(store, runId);
  const last = await store.lastStep(runId);
  const next = last ? last.step + 1 : run.firstStep;
  if (!Number.isInteger(step) || step < run.firstStep || step > next) {
    throw new RunnerError(
      `run ${runId} has checkpoints for steps ${run.firstStep}..${next}; ${step} is out of range`,
    );
  }
  if (step === next && run.status === "completed") {
    throw new RunnerError(
      `run ${runId} completed at step ${next - 1}; step ${step} has no checkpoint`,
    );
  }
  if (run.patchedStep === step && run.patchedState !== null) return JSON.parse(run.patchedState);
  if (step === run.firstStep) return JSON.parse(run.initialState);
  const row = await store.getStep(runId, step - 1);
  if (!row || row.state === null) {
    const policy = JSON.parse(run.policy);
    throw new RunnerError(
      `the checkpoint before step ${step} of run ${runId} was not kept (the compact policy keeps one checkpoint in ${policy.every})`,
    );
  }
  return JSON.parse(row.state);
}

/** Options of `forkRun`. */
export interface ForkOptions {
  /** The run to fork. */
  runId: string;
  /** The step the new run starts at, from the checkpoint before it (required). */
  step?: number;
  /** @deprecated Use `step`. */
  fromStep?: number;
  /** The new run's id. */
  newRunId: string;
  /** A state to start from instead of the checkpoint (an edit); the checkpoint must exist. */
  state?: unknown;
}

/**
 * Starts a new run from a kept checkpoint of another run (optionally with an edited state). The
 * new run is `paused` at that step; resume it with the agent module. Lineage is recorded.
 */
export async function forkRun(store: Store, options: ForkOptions): Promise<RunRecord> {
  const step = options.step ?? options.fromStep;
  if (step === undefined) throw new RunnerError("forkRun needs the step to fork at");
  const src = await requireRun(store, options.runId);
  if (await store.getRun(options.newRunId)) {
    throw new RunnerError(`run ${options.newRunId} already exists in ${store.location}`);
  }
  const state = options.state !== undefined
    ? options.state
    : await getCheckpoint(store, options.runId, step);
  if (options.state !== undefined) await getCheckpoint(store, options.runId, step);
  const now = Date.now();
  const rec: RunRecord = {
    ...src,
    runId: options.newRunId,
    status: "paused",
    parentRunId: null,
    parentStep: null,
    forkOfRunId: src.runId,
    forkOfStep: step,
    firstStep: step,
    initialState: encodeJson(state, "state"),
    result: null,
    error: null,
    errorCategory: null,
    waiting: null,
    patchedStep: null,
    patchedState: null,
    leaseOwner: null,
    leaseExpires: null,
    retryStep: null,
    retryBase: 0,
    createdAt: now,
    updatedAt: now,
    endedAt: null,
  };
  await store.createRun(rec);
  await store.addEvent(
    rec.runId,
    "forked",
    `forked from run ${src.runId} at step ${step}${
      options.state !== undefined ? " with an edited state" : ""
    }`,
  );
  await store.addEvent(
    src.runId,
    "fork-made",
    `run ${rec.runId} was forked from step ${step}`,
  );
  return rec;
}

/**
 * What `deleteRun` and `pruneRuns` do with the space the deleted rows took, and how they delete
 * large runs.
 */
export interface SpaceOptions {
  /**
   * `"auto"`: give the space back to the file system without holding the write lock for long
   * (SQLite: `incremental_vacuum` in short transactions, after one `VACUUM` for a file created
   * before incremental vacuum was turned on; PostgreSQL: `VACUUM`), then truncate the WAL.
   * `"full"`: rewrite the whole database (SQLite `VACUUM`, PostgreSQL `VACUUM FULL`), which holds
   * the lock while it runs. `"none"`: keep the free space inside the database for later writes.
   * @default "auto"
   */
  reclaim?: "auto" | "full" | "none";
  /**
   * Rows deleted per transaction from a large run (SQLite), pausing between transactions so a
   * running run keeps committing; a run with fewer rows is deleted in one transaction.
   * @default 500
   */
  batchRows?: number;
  /** Called after each batch of a large run's rows (progress). */
  onBatch?: TrimOptions["onBatch"];
}

/** Outcome of `deleteRun` and `pruneRuns`: the runs deleted and the space given back. */
export interface DeleteResult extends SpaceReport {
  /** Ids of the deleted runs (children before their parent). */
  deleted: string[];
}

/**
 * Deletes a run, its rows and its child runs, then gives the space back to the file system (see
 * `SpaceOptions`). A large run is deleted in short transactions; an unfinished one is first
 * cancelled, so that a delete interrupted half-way leaves a cancelled run, and deleting it again
 * finishes the job. Refuses a run that a live process is advancing.
 *
 * @param store The run's store.
 * @param runId The run.
 * @param options Reclaiming and batching.
 * @returns The deleted ids and the store's bytes on disk before and after (`reclaimedBytes`).
 * @throws {RunnerError} When the run is unknown or a live process is advancing it.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { defineAgent, deleteRun, openStore, startRun } from "@loom/runner";
 *
 * const dir = await Deno.makeTempDir();
 * const store = openStore(`${dir}/runs.sqlite`);
 * const hello = defineAgent({ name: "hello", initialState: () => ({}), step: () => "hi" });
 * await startRun(hello, { store, runId: "r1" });
 * const out = await deleteRun(store, "r1");
 * deepEqual(out.deleted, ["r1"]);
 * console.log(`gave back ${out.reclaimedBytes} bytes (${out.bytesBefore} -> ${out.bytesAfter})`);
 * store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function deleteRun(
  store: Store,
  runId: string,
  options: SpaceOptions = {},
): Promise<DeleteResult> {
  checkSpaceOptions(options);
  const run = await requireRun(store, runId);
  refuseLive(store, run);
  const space = spaceOf(store);
  const bytesBefore = await space.diskBytes();
  const deleted = await deleteTree(store, run, options);
  return { deleted, ...await reclaim(space, bytesBefore, deleted.length > 0, options) };
}

function refuseLive(store: Store, run: RunRecord): void {
  if (run.status === "running" && leaseIsLive(run, Date.now(), store)) {
    throw new RunnerError(
      `run ${run.runId} is being advanced by ${run.leaseOwner}; cancel it first`,
    );
  }
}

/** Deletes a run's children, then the run. Returns the ids deleted. */
async function deleteTree(store: Store, run: RunRecord, options: SpaceOptions): Promise<string[]> {
  refuseLive(store, run);
  const deleted: string[] = [];
  for (const child of await store.listRuns({ parentRunId: run.runId })) {
    deleted.push(...await deleteTree(store, child, options));
  }
  if (await deleteRows(store, run, options)) deleted.push(run.runId);
  return deleted;
}

/**
 * One run's rows: a large run's in batches (after cancelling it when unfinished, so nothing
 * resumes a half-deleted run), then the rest and the run row in one transaction.
 */
async function deleteRows(store: Store, run: RunRecord, options: SpaceOptions): Promise<boolean> {
  if (!TERMINAL_STATUSES.includes(run.status)) {
    const cancelled = await store.updateRunIf(run.runId, [run.status], {
      status: "cancelled",
      error: "deleted",
      errorCategory: "business",
      waiting: null,
      leaseOwner: null,
      leaseExpires: null,
    });
    if (!cancelled) {
      // It changed since it was read: gone, finished, or taken by a process.
      const now = await store.getRun(run.runId);
      if (!now) return false;
      refuseLive(store, now);
      if (!TERMINAL_STATUSES.includes(now.status)) {
        throw new RunnerError(`run ${run.runId} changed while it was being deleted; try again`);
      }
    }
  }
  await spaceOf(store).trimRun(run.runId, {
    batchRows: options.batchRows,
    onBatch: options.onBatch,
  });
  return await store.deleteRun(run.runId);
}

/** Refuses bad space options before anything is deleted. */
function checkSpaceOptions(options: SpaceOptions): void {
  const { reclaim = "auto", batchRows = 500 } = options;
  if (!["auto", "full", "none"].includes(reclaim)) {
    throw new RunnerError(`reclaim must be auto, full or none, got ${reclaim}`);
  }
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RunnerError(`batchRows must be a positive integer, got ${batchRows}`);
  }
}

/** Gives the space back as `options.reclaim` says, or only measures when nothing was deleted. */
async function reclaim(
  space: StoreSpace,
  bytesBefore: number,
  deletedAny: boolean,
  options: SpaceOptions,
): Promise<SpaceReport> {
  const how = options.reclaim ?? "auto";
  if (how === "none" || !deletedAny) {
    const bytesAfter = await space.diskBytes();
    return {
      bytesBefore,
      bytesAfter,
      reclaimedBytes: Math.max(0, bytesBefore - bytesAfter),
      method: "none",
      walTruncated: false,
    };
  }
  return await space.reclaim(bytesBefore, { full: how === "full" });
}

/**
 * On a single-writer store (SQLite), pauses as long as the deletes took once they add up to 20 ms,
 * so a long prune lets other writers (a running run) commit between its transactions.
 */
function pacer(singleWriter: boolean): (ms: number) => Promise<void> {
  let busy = 0;
  return async (ms) => {
    if (!singleWriter) return;
    busy += ms;
    if (busy < 20) return;
    const wait = Math.min(50, busy);
    busy = 0;
    await new Promise((resolve) => setTimeout(resolve, wait));
  };
}

/** Options of `pruneRuns`. */
export interface PruneOptions extends SpaceOptions {
  /** Delete runs that ended (reached their terminal status) before this time (required). */
  endedBefore?: Date;
  /** @deprecated Use `endedBefore` (the same filter: when the run ended). */
  before?: Date;
  /** Terminal statuses to delete. @default ["completed"] */
  statuses?: RunStatus[];
}

/**
 * Deletes runs that ended before `endedBefore` in one of `statuses`, each in its own
 * transaction(s) (large runs in batches, see `SpaceOptions.batchRows`), then gives the space back
 * to the file system once.
 *
 * @returns The deleted ids and the store's bytes on disk before and after (`reclaimedBytes`).
 * @throws {RunnerError} Without `endedBefore`, or for a status that is not terminal.
 */
export async function pruneRuns(store: Store, options: PruneOptions): Promise<DeleteResult> {
  const endedBefore = options.endedBefore ?? options.before;
  if (!endedBefore) throw new RunnerError("pruneRuns needs endedBefore: the time runs ended by");
  const statuses = options.statuses ?? ["completed"];
  checkSpaceOptions(options);
  for (const s of statuses) {
    if (!TERMINAL_STATUSES.includes(s)) {
      throw new RunnerError(
        `prune only removes finished runs (completed, failed, cancelled), not ${s}`,
      );
    }
  }
  const space = spaceOf(store);
  const bytesBefore = await space.diskBytes();
  const out: string[] = [];
  const pace = pacer(space.singleWriter);
  for (const status of statuses) {
    for (;;) {
      const batch = await store.listRuns({
        status,
        endedBefore: endedBefore.getTime(),
        limit: 500,
      });
      if (batch.length === 0) break;
      for (const r of batch) {
        const t0 = performance.now();
        if (await deleteRows(store, r, options)) out.push(r.runId);
        await pace(performance.now() - t0);
      }
    }
  }
  return { deleted: out, ...await reclaim(space, bytesBefore, out.length > 0, options) };
}

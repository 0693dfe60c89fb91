/**
 * What a worker needs from a store beyond `Store`: claiming runnable runs so that several
 * workers share them, and a way to sleep until there may be work. `PostgresStore` implements it;
 * `SqliteWorkQueue` (`store/sqlite_queue.ts`) implements it over a `SqliteStore`.
 *
 * @module
 */

/** A run a worker claimed. */
export interface ClaimedRun {
  /** The claimed run. */
  runId: string;
  /** The agent that owns it. */
  agentName: string;
  /** Status when claimed (`queued`, `paused`, `running` with an expired lease, or `waiting`). */
  status: string;
}

/** The claiming side of a store shared by workers. */
export interface WorkQueue {
  /**
   * Claims up to `limit` runnable top-level runs of these agents for `claimMs` (skipping runs
   * other workers are claiming right now and the ids in `exclude`).
   */
  claimRunnable(
    agentNames: readonly string[],
    limit: number,
    claimMs: number,
    exclude?: readonly string[],
  ): Promise<ClaimedRun[]>;
  /** Ends a claim (the store also ends it when the run's status changes to other than running). */
  releaseClaim(runId: string): Promise<void>;
  /** Earliest future time a run may become runnable without a notification, or null. */
  nextWakeAt(agentNames: readonly string[]): Promise<number | null>;
  /** Top-level runs of these agents that still need a worker (not waiting on outside input). */
  pendingRuns(agentNames: readonly string[], exclude?: readonly string[]): Promise<number>;
  /**
   * Calls `onWork` when runs may have become runnable; returns the unsubscribe function. When
   * the store cannot notify (e.g. behind a transaction pooler), it says so through
   * `options.onWarning` and the worker relies on its poll interval.
   */
  listenForWork(onWork: () => void, options?: ListenOptions): Promise<() => Promise<void>>;
  /**
   * Queued top-level runs whose agent is none of `agentNames` (at most `limit`): a worker names
   * them once, since no worker with these agents will ever run them. Optional.
   */
  unservedRuns?(
    agentNames: readonly string[],
    limit?: number,
  ): Promise<{ runId: string; agentName: string }[]>;
}

/** Options of `WorkQueue.listenForWork`. */
export interface ListenOptions {
  /** Told (one sentence) when wake-ups cannot be delivered and workers fall back to polling. */
  onWarning?: (message: string) => void;
}

/** True when `store` can be shared by workers. */
export function isWorkQueue(store: unknown): store is WorkQueue {
  const s = store as Partial<WorkQueue> | null;
  return typeof s?.claimRunnable === "function" && typeof s?.listenForWork === "function";
}

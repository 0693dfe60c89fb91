/**
 * The studio's embedded worker (`--agents DIR`): `runWorker` of `@loom/runner/worker` over the
 * studio's store, plus `advance(run)` for the runs a user steers (resume, retry, fork), which
 * `resumeRun` starts at once instead of waiting for the worker's next look. Two advancers never
 * collide: the run's lease decides, and the one that lost the race says nothing.
 *
 * @module
 */
import type { Agent } from "../engine/agent.ts";
import { resumeRun } from "../engine/engine.ts";
import { errorMessage, RunnerError } from "../errors.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { RunRecord, Store } from "../store/store.ts";
import { isWorkQueue, type WorkQueue } from "../store/work_queue.ts";
import { runWorker } from "../worker/worker.ts";

/** An agent of any state, result and input type. */
type AnyAgent = Agent<unknown, unknown, unknown>;

/** Whether `runWorker` can share this store: a `WorkQueue` (PostgreSQL) or a SQLite store. */
export function workersCanShare(store: Store): boolean {
  return isWorkQueue(store) || store instanceof SqliteStore;
}

/** Step log lines of runs advanced here go nowhere (the run's events stay in the store). */
const quietLogger = { info() {}, warn() {}, error() {} };

/** The embedded worker, or (without agents) nothing but the bookkeeping. */
export class EmbeddedWorker {
  /** Agents by name (empty: no worker). */
  readonly agents: Map<string, AnyAgent>;
  readonly #store: Store;
  readonly #onChange: () => void;
  readonly #onError: (message: string) => void;
  readonly #stop = new AbortController();
  readonly #background = new Set<Promise<unknown>>();

  /**
   * Starts the worker when `agents` is not empty.
   *
   * @throws {RunnerError} When agents are given for a store workers cannot share.
   */
  constructor(
    store: Store,
    agents: readonly AnyAgent[],
    onChange: () => void,
    onError: (message: string) => void,
  ) {
    this.#store = store;
    this.#onChange = onChange;
    this.#onError = onError;
    this.agents = new Map(agents.map((a) => [a.name, a]));
    if (this.agents.size === 0) return;
    if (!workersCanShare(store)) {
      throw new RunnerError(
        `the embedded worker needs a store workers can share; ${store.location} is not one ` +
          "(use a PostgreSQL URL)",
      );
    }
    this.#track(
      runWorker({
        store: store as Store & WorkQueue,
        agents: [...this.agents.values()],
        abortSignal: this.#stop.signal,
        logger: quietLogger,
        onRun: onChange,
        onWarning: onError,
      }).catch((e) => onError(`the embedded worker stopped: ${errorMessage(e)}`)),
    );
  }

  /** Starts advancing a run of one of the agents in this process (no-op for other runs). */
  advance(run: RunRecord): void {
    const agent = this.agents.get(run.agentName);
    if (!agent || this.#stop.signal.aborted) return;
    const options = {
      store: this.#store,
      runId: run.runId,
      abortSignal: this.#stop.signal,
      logger: quietLogger,
    };
    this.#track(
      resumeRun(agent, options)
        .catch((e) => {
          // The worker taking the run first is expected; anything else is worth a line.
          if (!/being advanced by another process/.test(errorMessage(e))) {
            this.#onError(`resuming run ${run.runId} failed: ${errorMessage(e)}`);
          }
        })
        .finally(this.#onChange),
    );
  }

  /** Stops the worker (its runs are left paused) and waits for every run advanced here. */
  async close(): Promise<void> {
    this.#stop.abort();
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  #track(p: Promise<unknown>): void {
    const done = p.catch(() => {}).finally(() => this.#background.delete(done));
    this.#background.add(done);
  }
}

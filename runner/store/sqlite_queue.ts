/**
 * The SQLite work queue (`WorkQueue`): several workers (processes or in-process) share the runs
 * of one SQLite file. Wraps a `SqliteStore`; `runWorker` builds one when given a `SqliteStore`.
 *
 * - **Claims** are not stored: a worker picks runnable runs (oldest change first) and the run's
 *   lease, taken by `resumeRun` with a compare-and-set, decides which worker advances it. SQLite
 *   serialises writers, so two workers that pick the same run in the same instant cannot both
 *   take its lease; the loser sees the run held (a "contended" claim) and picks again.
 * - **Runnable** = top-level runs of the worker's agents that are `queued`, `paused`, `waiting`
 *   whose signal arrived (or whose timeout passed), whose timer is due or whose child run is
 *   runnable or finished, or `running` with an expired lease or an owner that is gone (checked
 *   with the engine's rule passed as `ownerIsGone`).
 * - **Wake-ups** come from the file: a change notification on the database's `-wal` file
 *   (`Deno.watchFs`; every commit writes it) tells the worker to look again when another
 *   connection committed (`PRAGMA data_version`), this connection did (`total_changes()`: an
 *   app that shares the worker's store), or a connection closed the file (a process that exits
 *   or dies does: its runs may be free). Between notifications a worker sleeps until the next
 *   known deadline.
 *
 * @module
 */
import { resolve } from "node:path";
import type { StatementSync } from "node:sqlite";
import type { SqliteStore } from "./sqlite.ts";
import type { WaitInfo } from "./store.ts";
import type { ClaimedRun, ListenOptions, WorkQueue } from "./work_queue.ts";

/** Options of `SqliteWorkQueue`. */
export interface SqliteWorkQueueOptions {
  /**
   * True when the holder of a lease is certainly gone (the engine's rule, `ownerIsGone` of
   * `engine/lease.ts`): its `running` runs are claimable before their lease expires.
   * @default none: such runs wait for their lease to expire
   */
  ownerIsGone?: (owner: string) => boolean;
  /**
   * Least time between two wake-ups caused by file changes, ms: a busy file (steps committed
   * many times a second) wakes an idle worker at most this often.
   * @default 50
   */
  minWakeGapMs?: number;
}

/** A candidate row of a claim. */
interface Candidate extends ClaimedRun {
  waiting: string | null;
  leaseOwner: string | null;
}

/** The agents' top-level runs, with `?1` the agent names (a JSON array). */
const OF_AGENTS = "parent_run_id IS NULL AND agent_name IN (SELECT value FROM json_each(?1))";

/** A waiting run's wait is over (timer due, signal arrived or timed out); `?2` is now. */
const WAIT_OVER = `(
  (json_extract(waiting, '$.kind') = 'timer' AND json_extract(waiting, '$.wakeAt') <= ?2)
  OR (json_extract(waiting, '$.kind') = 'signal' AND (
    json_extract(waiting, '$.deadline') <= ?2
    OR EXISTS (SELECT 1 FROM signals s WHERE s.run_id = runs.run_id
      AND s.name = json_extract(runs.waiting, '$.name')
      AND s.consumed_by IS NULL AND s.rejected IS NULL))))`;

const CANDIDATE_COLUMNS =
  `run_id AS runId, agent_name AS agentName, status, waiting, lease_owner AS leaseOwner`;

/** Runnable by SQL alone: unleased (or expired), and not waiting on anything still to come. */
const CLAIM_SQL = `SELECT ${CANDIDATE_COLUMNS} FROM runs
  WHERE ${OF_AGENTS} AND status IN ('queued', 'paused', 'running', 'waiting')
    AND (lease_owner IS NULL OR lease_expires < ?2)
    AND (status <> 'waiting' OR waiting IS NULL OR ${WAIT_OVER})
    AND run_id NOT IN (SELECT value FROM json_each(?3))
  ORDER BY updated_at LIMIT ?4`;

/** Runs whose runnability needs a look beyond SQL: waiting on a child, or leased (owner gone?). */
const MAYBE_SQL = `SELECT ${CANDIDATE_COLUMNS} FROM runs
  WHERE ${OF_AGENTS} AND run_id NOT IN (SELECT value FROM json_each(?3)) AND (
    (status = 'waiting' AND json_extract(waiting, '$.kind') = 'child'
      AND (lease_owner IS NULL OR lease_expires < ?2))
    OR (?4 AND status = 'running' AND lease_expires >= ?2))
  ORDER BY updated_at`;

/** Earliest future lease expiry, timer or signal deadline (children's too: parents wait on them). */
const NEXT_WAKE_SQL = `SELECT min(t) AS t FROM (
  SELECT CASE
    WHEN status = 'waiting' THEN
      coalesce(json_extract(waiting, '$.wakeAt'), json_extract(waiting, '$.deadline'))
    WHEN lease_owner IS NOT NULL THEN lease_expires END AS t
  FROM runs WHERE status IN ('queued', 'paused', 'running', 'waiting')
    AND (parent_run_id IS NOT NULL OR agent_name IN (SELECT value FROM json_each(?1))))
  WHERE t > ?2`;

/** Runs that need a worker: queued, paused, running, or waiting on a timer or on what came
 * (waits on children are judged in JavaScript, with `MAYBE_SQL`). */
const PENDING_SQL = `SELECT count(*) AS n FROM runs
  WHERE ${OF_AGENTS} AND run_id NOT IN (SELECT value FROM json_each(?3))
    AND (status IN ('queued', 'paused', 'running') OR (status = 'waiting' AND (
      json_extract(waiting, '$.kind') = 'timer' OR ${WAIT_OVER})))`;

/** Queued top-level runs of agents this worker does not have. */
const UNSERVED_SQL = `SELECT run_id AS runId, agent_name AS agentName FROM runs
  WHERE parent_run_id IS NULL AND status = 'queued'
    AND agent_name NOT IN (SELECT value FROM json_each(?1))
  ORDER BY updated_at LIMIT ?2`;

/** The SQLite `WorkQueue` over a `SqliteStore`'s connection. */
export class SqliteWorkQueue implements WorkQueue {
  /** The store whose runs are shared. */
  readonly store: SqliteStore;
  readonly #ownerIsGone: ((owner: string) => boolean) | undefined;
  readonly #minWakeGapMs: number;
  readonly #statements = new Map<string, StatementSync>();

  /** Wraps `store` (its connection runs the queue's queries). */
  constructor(store: SqliteStore, options: SqliteWorkQueueOptions = {}) {
    this.store = store;
    this.#ownerIsGone = options.ownerIsGone;
    this.#minWakeGapMs = options.minWakeGapMs ?? 50;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.store.db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /**
   * Up to `limit` runnable runs, oldest change first. Nothing is written: the lease `resumeRun`
   * takes decides between workers that picked the same run (`claimMs` is not needed).
   */
  claimRunnable(
    agentNames: readonly string[],
    limit: number,
    _claimMs: number,
    exclude: readonly string[] = [],
  ): Promise<ClaimedRun[]> {
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return Promise.resolve([]);
    const now = Date.now();
    const params = [JSON.stringify(agentNames), now, JSON.stringify(exclude)] as const;
    const found = this.#stmt(CLAIM_SQL).all(...params, n) as unknown as Candidate[];
    if (found.length < n) {
      const maybe = this.#stmt(MAYBE_SQL).all(
        ...params,
        this.#ownerIsGone ? 1 : 0,
      ) as unknown as Candidate[];
      for (const c of maybe) {
        if (found.length >= n) break;
        if (this.#runnableBeyondSql(c, now)) found.push(c);
      }
    }
    return Promise.resolve(
      found.map(({ runId, agentName, status }) => ({ runId, agentName, status })),
    );
  }

  /** A leased run whose owner is gone, or a run waiting on a child whose wait is over. */
  #runnableBeyondSql(c: Candidate, now: number): boolean {
    if (c.status === "running") {
      return c.leaseOwner !== null && this.#ownerIsGone?.(c.leaseOwner) === true;
    }
    return c.waiting !== null && this.#waitOver(c.runId, c.waiting, now, 0);
  }

  /** Whether a wait is over, following a child's own wait (as `loom_wait_over` in PostgreSQL). */
  #waitOver(runId: string, waiting: string, now: number, depth: number): boolean {
    const w = JSON.parse(waiting) as WaitInfo;
    if (w.kind === "timer") return w.wakeAt <= now;
    if (w.kind === "signal") {
      if (w.deadline !== null && w.deadline <= now) return true;
      return this.store.nextSignal(runId, w.name) !== undefined;
    }
    if (w.kind !== "child") return true;
    const child = this.store.getRun(w.childRunId);
    if (!child) return true;
    if (child.status === "waiting") {
      return depth < 32 && child.waiting !== null &&
        this.#waitOver(child.runId, child.waiting, now, depth + 1);
    }
    if (child.status !== "running" || child.leaseOwner === null) return true;
    return (child.leaseExpires ?? 0) < now || this.#ownerIsGone?.(child.leaseOwner) === true;
  }

  /** Nothing to release: claims are not stored. */
  releaseClaim(_runId: string): Promise<void> {
    return Promise.resolve();
  }

  /** Earliest future time a run may become runnable without a change to the file, or null. */
  nextWakeAt(agentNames: readonly string[]): Promise<number | null> {
    const row = this.#stmt(NEXT_WAKE_SQL).get(JSON.stringify(agentNames), Date.now()) as {
      t: number | null;
    };
    return Promise.resolve(row.t);
  }

  /**
   * Top-level runs of these agents that still need a worker: queued, paused, running, waiting on
   * a timer, or waiting on something that came (a signal, a timeout, a child that can move).
   */
  pendingRuns(agentNames: readonly string[], exclude: readonly string[] = []): Promise<number> {
    const now = Date.now();
    const params = [JSON.stringify(agentNames), now, JSON.stringify(exclude)] as const;
    const row = this.#stmt(PENDING_SQL).get(...params) as { n: number };
    const onChildren = this.#stmt(MAYBE_SQL).all(...params, 0) as unknown as Candidate[];
    const movable = onChildren.filter((c) => this.#runnableBeyondSql(c, now)).length;
    return Promise.resolve(row.n + movable);
  }

  /** Queued top-level runs whose agent is none of `agentNames` (at most `limit`). */
  unservedRuns(
    agentNames: readonly string[],
    limit = 100,
  ): Promise<{ runId: string; agentName: string }[]> {
    const rows = this.#stmt(UNSERVED_SQL).all(JSON.stringify(agentNames), limit) as unknown as {
      runId: string;
      agentName: string;
    }[];
    return Promise.resolve(rows.map(({ runId, agentName }) => ({ runId, agentName })));
  }

  /**
   * Calls `onWork` when the database changed (see the module documentation); returns the
   * unsubscribe function. An in-memory database, or a file that cannot be watched, is told
   * through `options.onWarning` (the worker then wakes at its poll interval and deadlines).
   */
  listenForWork(onWork: () => void, options: ListenOptions = {}): Promise<() => Promise<void>> {
    const location = this.store.location;
    if (location === ":memory:" || location === "") return Promise.resolve(() => Promise.resolve());
    const wake = new FileWake(this.store, onWork, this.#minWakeGapMs);
    const wal = `${resolve(location)}-wal`;
    // Only the -wal file is watched, never the database or its directory: Deno's watcher opens
    // and closes each path it reports, and closing any descriptor of a file drops every POSIX
    // lock this process holds on it, i.e. SQLite's locks on the database and its -shm file.
    let watcher: Deno.FsWatcher | undefined;
    let stopped = false;
    const watch = async (): Promise<void> => {
      while (!stopped) {
        try {
          watcher = Deno.watchFs(wal, { recursive: false });
        } catch (e) {
          options.onWarning?.(
            `cannot watch ${wal} for changes (${
              (e as Error).message
            }), so this worker wakes only at its poll interval and known deadlines`,
          );
          return;
        }
        let removed = false;
        try {
          for await (const event of watcher) {
            if (event.kind === "remove") removed = true;
            wake.changed(event.kind === "access" || removed);
            if (removed) break;
          }
        } catch { /* closed */ }
        if (!removed) return;
        // The -wal file was replaced (every other connection closed, or a journal mode change):
        // reading recreates it; watch the new one.
        try {
          watcher.close();
        } catch { /* already closed */ }
        this.store.db.prepare("SELECT count(*) FROM runs").get();
      }
    };
    const loop = watch();
    return Promise.resolve(async () => {
      stopped = true;
      wake.close();
      try {
        watcher?.close();
      } catch { /* already closed */ }
      await loop;
    });
  }
}

/**
 * Turns file events into wake-ups: at most one per `gapMs`, and only when a commit happened
 * (another connection's: `data_version`; this one's: `total_changes()`) or a connection closed.
 */
class FileWake {
  readonly #store: SqliteStore;
  readonly #onWork: () => void;
  readonly #gapMs: number;
  readonly #version: StatementSync;
  #last = "";
  #closed = false;
  #lastWake = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closedConnection = false;

  constructor(store: SqliteStore, onWork: () => void, gapMs: number) {
    this.#store = store;
    this.#onWork = onWork;
    this.#gapMs = gapMs;
    this.#version = store.db.prepare(
      "SELECT (SELECT data_version FROM pragma_data_version) || ':' || total_changes() AS v",
    );
    this.#last = this.#read();
  }

  #read(): string {
    try {
      return (this.#version.get() as { v: string }).v;
    } catch {
      return ""; // closed or busy: the next event reads again
    }
  }

  /** A file event; `closed` for a connection that closed the file (an exit or a death). */
  changed(closed: boolean): void {
    if (this.#closed) return;
    if (closed) this.#closedConnection = true;
    if (this.#timer !== undefined) return;
    const delay = Math.max(0, this.#lastWake + this.#gapMs - Date.now());
    this.#timer = setTimeout(() => this.#check(), delay);
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#closed || !this.#store.db.isOpen) return;
    const v = this.#read();
    const committed = v !== this.#last;
    this.#last = v;
    if (!committed && !this.#closedConnection) return;
    this.#closedConnection = false;
    this.#lastWake = Date.now();
    this.#onWork();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

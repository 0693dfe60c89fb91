/**
 * The storage interface the engine and the inspection tools use. It is backend-neutral: records
 * carry JSON as text, and every method may return a value or a promise (the engine awaits), so an
 * asynchronous backend (PostgreSQL) fits without engine changes. A store reads and writes; its
 * writes are guarded (by the lease, by an expected status or lease), and the decisions about
 * them — who may take a lease, which run may resume — are the engine's (`engine/lease.ts`,
 * `engine/engine.ts`). The SQL of the two implementations lives in `sqlite.ts` and `postgres/`
 * (what they share in `_sql.ts`); `contract_test.ts` runs the same cases against both.
 *
 * In every record, times (`...At`, `leaseExpires`, `deadline`) are ms since the Unix epoch,
 * durations (`...Ms`) are ms, and JSON-valued fields hold JSON text.
 *
 * @module
 */
import type { ErrorCategory } from "../errors.ts";

/** A value, or a promise of it: what store methods return. */
export type MaybePromise<T> = T | Promise<T>;

/** Lifecycle status of a run. `queued`: created by `enqueueRun`, no step run yet, no lease. */
export type RunStatus =
  | "queued"
  | "running"
  | "paused"
  | "waiting"
  | "completed"
  | "failed"
  | "cancelled";

/** All statuses, for validation. */
export const RUN_STATUSES: readonly RunStatus[] = [
  "queued",
  "running",
  "paused",
  "waiting",
  "completed",
  "failed",
  "cancelled",
];

/** Statuses a run never leaves on its own. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled"];

/** What a `waiting` run waits for; `key` is the key of the call (signal wait, timer, child run). */
export type WaitInfo =
  | { kind: "signal"; name: string; deadline: number | null; key: string }
  | { kind: "timer"; wakeAt: number; key: string }
  | { kind: "child"; childRunId: string; key: string };

/** A run's policies, stored with it so every reader judges the run by the same rules. */
export interface StoredPolicy {
  /** `full`: a checkpoint after every step; `compact`: every `every`-th one plus the latest. */
  checkpoint: "full" | "compact";
  /** For `compact`: keep the checkpoint after step `s` when `(s + 1) % every === 0`. */
  every: number;
  /** Largest call result stored whole, UTF-8 bytes of its JSON (larger ones as a stub). */
  maxInlineBytes: number;
}

/**
 * One run as stored. A step is named by its number, counted from 0 over the run's lineage (a
 * fork continues the numbers of the run it was forked from).
 */
export interface RunRecord {
  /** Chosen by whoever starts the run; unique in the store. */
  runId: string;
  /** The agent that owns the run: only an agent of this name may resume it. */
  agentName: string;
  /** Agent version whose state shape the stored checkpoints have. */
  agentVersion: number;
  /** Short hash of the agent module's source at start (or last resume); null when unknown. */
  agentHash: string | null;
  /** Where the run is in its lifecycle. */
  status: RunStatus;
  /** For a child run (`ctx.child`): its parent run, and the parent's step that started it. */
  parentRunId: string | null;
  /** See `parentRunId`. */
  parentStep: number | null;
  /** For a fork: the run it was forked from, and the step of that run it starts at. */
  forkOfRunId: string | null;
  /** See `forkOfRunId`; equals `firstStep`. */
  forkOfStep: number | null;
  /** This run's first step: 0, or the step a fork starts at. */
  firstStep: number;
  /** The checkpoint before `firstStep`: the initial state, or the state a fork starts from. */
  initialState: string;
  /** Input given at start; null when none. */
  input: string | null;
  /** The final result once completed, else null. */
  result: string | null;
  /** The error message once failed (or the reason once cancelled), else null. */
  error: string | null;
  /** Category of `error`. */
  errorCategory: ErrorCategory | null;
  /** What a `waiting` run waits for (a `WaitInfo`), else null. */
  waiting: string | null;
  /** The run's `StoredPolicy`. */
  policy: string;
  /** A checkpoint replaced by a migration or an edit: it is the one before this step. */
  patchedStep: number | null;
  /** The replacing checkpoint (see `patchedStep`). */
  patchedState: string | null;
  /** Who holds the lease (`host:pid:token`); null when nobody advances the run. */
  leaseOwner: string | null;
  /** Until when `leaseOwner` holds the lease. */
  leaseExpires: number | null;
  /** The step whose retry budget `retry` reset, else null. */
  retryStep: number | null;
  /** Attempts of `retryStep` made before the reset (they do not count against the budget). */
  retryBase: number;
  /** When the run was created (started, queued or forked). */
  createdAt: number;
  /** The last change of the run record (status, lease, patch). */
  updatedAt: number;
  /** When the run reached a terminal status (completed, failed, cancelled); null before. */
  endedAt: number | null;
}

/**
 * Fields of a run that status changes may set; undefined fields are left alone. A patch that
 * sets `status` also sets `endedAt` (now for a terminal status, else null): the store keeps the
 * two in step.
 */
export type RunPatch = Partial<
  Pick<
    RunRecord,
    | "status"
    | "result"
    | "error"
    | "errorCategory"
    | "waiting"
    | "agentVersion"
    | "agentHash"
    | "patchedStep"
    | "patchedState"
    | "leaseOwner"
    | "leaseExpires"
    | "retryStep"
    | "retryBase"
  >
>;

/** One committed step (a transition), and the checkpoint after it. */
export interface StepRecord {
  /** The run the step belongs to. */
  runId: string;
  /** The step's number, from 0. */
  step: number;
  /** The attempt that succeeded, from 1. */
  attempt: number;
  /** Start of that attempt. */
  startedAt: number;
  /** Wall time of that attempt. */
  durationMs: number;
  /**
   * The checkpoint after the step (the state step + 1 starts from), whole; null when the compact
   * policy dropped it, and for the final step (whose outcome is the run's result). Records a
   * store returns always carry it whole, however it is stored.
   */
  state: string | null;
  /**
   * Only when committing (`commitStep`), in place of `state` (then null): the checkpoint as a
   * delta (`store/delta.ts`) against the checkpoint after step - 1, which the same invocation
   * committed. The store keeps it as is and rebuilds the whole state when it is read.
   */
  delta?: string | null;
}

/**
 * A failed attempt of a step (`scope` "") or of a tool call (`scope` = the call's key). Only
 * failed attempts have rows: the attempt that succeeded is the step row or the call row.
 */
export interface FailedAttemptRecord {
  /** The run the attempt belongs to. */
  runId: string;
  /** The step that made the attempt (a tool call's attempts carry the step of the call). */
  step: number;
  /** `""` for the step itself, else the key of the tool call. */
  scope: string;
  /** Attempt number within its scope, from 1 (counting attempts in earlier processes). */
  attempt: number;
  /** The error message. */
  error: string;
  /** The error's type name (`TypeError`, `LoomError`, ...). */
  errorType: string;
  /** Category of `error`: it decides whether another attempt follows. */
  errorCategory: ErrorCategory;
  /** When the attempt started. */
  startedAt: number;
  /** Wall time of the attempt, until it failed. */
  durationMs: number;
  /** When the next attempt may start; null when none follows. */
  retryAt: number | null;
}

/** @deprecated Use {@linkcode FailedAttemptRecord}: the rows are failed attempts only. */
export type AttemptRecord = FailedAttemptRecord;

/** Kinds of durable calls a step makes. */
export type CallKind = "tool" | "signal" | "timer" | "child";

/** A durable call a step made: a tool call, a signal wait, a timer or a child run. */
export interface CallRecord {
  /** The run whose step made the call. */
  runId: string;
  /**
   * Unique within the run: `key:<k>` for an explicit key, else `<step>:<tool>:<args hash>:<n>`,
   * `<step>:signal:<name>:<n>`, `<step>:timer:<n>` or `<step>:child:<run id>` (`n` counts equal
   * calls within the step).
   */
  key: string;
  /** The step that made the call; a re-run of the step finds it by `key`. */
  step: number;
  /** Tool call, signal wait, timer or child run. */
  kind: CallKind;
  /** Tool name, signal name, `sleep`, or the child's run id. */
  name: string;
  /** Arguments (tool), `{ ms }` (timer) or input (child); null when none or over the cap. */
  args: string | null;
  /** Stable hash of the tool arguments; null for other kinds. */
  argsHash: string | null;
  /** `started`: may have run, no outcome recorded (yet); `completed`; `failed` for good. */
  status: "started" | "completed" | "failed";
  /** The result once completed (a stub when `capped`). */
  result: string | null;
  /** Size of the whole result's JSON, UTF-8 bytes. */
  resultBytes: number | null;
  /** Hash of the stored `result` text. */
  resultHash: string | null;
  /** True when `result` is a stub because the whole result exceeded `maxInlineBytes`. */
  capped: boolean;
  /** The last error message once failed. */
  error: string | null;
  /** Category of `error`. */
  errorCategory: ErrorCategory | null;
  /** Attempts made so far, successful or not (failed ones also have `FailedAttemptRecord`s). */
  attempts: number;
  /** Start of the first attempt. */
  startedAt: number;
  /**
   * For a tool call, the duration of the attempt that completed it (or of its last failed one);
   * for a signal wait, timer or child run, the time from its start to its completion.
   */
  durationMs: number | null;
  /** A timer's wake-up time or a signal wait's deadline; null otherwise. */
  deadline: number | null;
}

/** A signal (a named durable message) sent to a run. */
export interface SignalRecord {
  /** The run it was sent to. */
  runId: string;
  /** Order of arrival within the run, from 1. */
  seq: number;
  /** The name `ctx.waitForSignal(name)` waits for. */
  name: string;
  /** The payload, JSON. */
  data: string;
  /** When `sendSignal` stored it. */
  sentAt: number;
  /** Key of the signal wait that received it; null while pending (or rejected). */
  consumedBy: string | null;
  /** Why the wait's validator rejected it; null otherwise. */
  rejected: string | null;
}

/** An event: a line of a run's history (start, resume, takeover, migration, warnings, admin). */
export interface EventRecord {
  /** The run whose history it is part of. */
  runId: string;
  /** Order within the run, from 1. */
  seq: number;
  /** When it happened. */
  at: number;
  /** E.g. `started`, `resumed`, `lease-takeover`, `source-changed`, `signal-sent`. */
  kind: string;
  /** One sentence for a person. */
  message: string;
  /** Extra data, JSON; null when none. */
  data: string | null;
}

/** Paging of list queries. */
export interface Page {
  /** Rows to return at most. @default all */
  limit?: number;
  /** Rows to skip. @default 0 */
  offset?: number;
}

/** Filters of `Store.listRuns`. */
export interface RunFilter extends Page {
  /** Only runs in this status. */
  status?: RunStatus;
  /** Only the child runs of this run. */
  parentRunId?: string;
  /** Only runs whose record last changed before this time. */
  updatedBefore?: number;
  /** Only runs that ended (reached a terminal status) before this time. */
  endedBefore?: number;
}

/** Summary numbers about a run's step rows, for explain and verify. */
export interface StepStats {
  /** Step rows. */
  count: number;
  /** Lowest step, or null without rows. */
  first: number | null;
  /** Highest step, or null without rows. */
  last: number | null;
  /** Sum of step durations, ms. */
  totalMs: number;
  /** Rows that keep a checkpoint. */
  withState: number;
  /** Highest attempt number among the rows. */
  maxAttempt: number;
}

/** The lease of a run as it was read: what `Store.takeLease` expects to find unchanged. */
export interface LeaseState {
  /** Lease owner, or null when the run is not leased. */
  owner: string | null;
  /** Lease expiry (ms since epoch), or null. */
  expires: number | null;
  /** The run's status as read. */
  status: RunStatus;
}

/**
 * Backend-neutral run store: reads, and writes guarded by the lease or an expected status.
 * Lists come in a stable order (steps by number; events and signals by `seq`; calls and failed
 * attempts by step, then start).
 */
export interface Store {
  /** Where the store lives (file path, or URL without password and schema), for messages. */
  readonly location: string;
  /** Closes the store (PostgreSQL: waits a little for queries in flight). */
  close(): MaybePromise<void>;

  /** Creates a run; fails with `RunnerError` when the id exists. */
  createRun(run: RunRecord): MaybePromise<void>;
  /** One run, or undefined. */
  getRun(runId: string): MaybePromise<RunRecord | undefined>;
  /** Runs, last changed first. */
  listRuns(filter?: RunFilter): MaybePromise<RunRecord[]>;

  /**
   * Compare-and-set of a run's lease: when the run's lease owner, lease expiry and status are
   * still `expected`, gives the lease to `owner` until `expires` and sets the status to `running`
   * (one guarded write); false when the run changed (or is gone). Whether the lease may be taken
   * is the caller's decision (`engine/lease.ts`).
   */
  takeLease(
    runId: string,
    expected: LeaseState,
    owner: string,
    expires: number,
  ): MaybePromise<boolean>;
  /** Extends the lease; returns the run status, or null when the lease is no longer ours. */
  renewLease(runId: string, owner: string, ttlMs: number): MaybePromise<RunStatus | null>;
  /** Patches a run while `owner` holds its lease (and status is `running`); false otherwise. */
  updateOwnedRun(runId: string, owner: string, patch: RunPatch): MaybePromise<boolean>;
  /** Patches a run whose status is one of `from` (admin actions); false otherwise. */
  updateRunIf(runId: string, from: readonly RunStatus[], patch: RunPatch): MaybePromise<boolean>;

  /** Hot path: commits one step and its checkpoint in one transaction, guarded by the lease. */
  commitStep(step: StepRecord, owner: string): MaybePromise<boolean>;
  /**
   * Commits the final step and applies `patch` to the run (the engine's completion: status,
   * result, lease released) in one transaction, guarded by the lease like `commitStep`.
   */
  commitFinal(step: StepRecord, owner: string, patch: RunPatch): MaybePromise<boolean>;
  /**
   * Drops the checkpoints after the steps in [from, to] that the compact policy does not keep
   * (see `StoredPolicy.every`); the step rows stay.
   */
  compactSteps(runId: string, from: number, to: number, every: number): MaybePromise<void>;
  /** The step row with the highest step, or undefined. */
  lastStep(runId: string): MaybePromise<StepRecord | undefined>;
  /** The row of one step, or undefined. */
  getStep(runId: string, step: number): MaybePromise<StepRecord | undefined>;
  /** Step rows from step `fromStep` on (all by default). */
  listSteps(runId: string, page?: Page & { fromStep?: number }): MaybePromise<StepRecord[]>;
  /** Summary of the run's step rows, in one query. */
  stepStats(runId: string): MaybePromise<StepStats>;

  /** Records a failed attempt (replacing one with the same step, scope and attempt). */
  recordFailedAttempt(attempt: FailedAttemptRecord): MaybePromise<void>;
  /** The failed attempt with the highest number in a step's scope, or undefined. */
  lastFailedAttempt(
    runId: string,
    step: number,
    scope: string,
  ): MaybePromise<FailedAttemptRecord | undefined>;
  /** Failed attempts, optionally of one step or scope. */
  listFailedAttempts(
    runId: string,
    page?: Page & { step?: number; scope?: string },
  ): MaybePromise<FailedAttemptRecord[]>;
  /** Number of the run's failed attempts, all scopes. */
  countFailedAttempts(runId: string): MaybePromise<number>;

  /** One call by its key, or undefined. */
  getCall(runId: string, key: string): MaybePromise<CallRecord | undefined>;
  /** Inserts or replaces a call (its own transaction). */
  putCall(call: CallRecord): MaybePromise<void>;
  /** Calls, optionally of one step or kind. */
  listCalls(
    runId: string,
    page?: Page & { step?: number; kind?: string },
  ): MaybePromise<CallRecord[]>;
  /** Number of calls per kind, name and status. */
  countCalls(
    runId: string,
  ): MaybePromise<{ kind: string; name: string; status: string; n: number }[]>;

  /** Adds a signal; returns its `seq`. */
  addSignal(runId: string, name: string, data: string, at: number): MaybePromise<number>;
  /** The oldest pending signal with that name. */
  nextSignal(runId: string, name: string): MaybePromise<SignalRecord | undefined>;
  /** Marks a signal received by the wait `call` (stored in the same transaction), or rejected. */
  consumeSignal(
    runId: string,
    seq: number,
    consumer: { call: CallRecord } | { rejected: string },
  ): MaybePromise<void>;
  /** Signals in order of arrival, pending, received or rejected. */
  listSignals(runId: string, page?: Page): MaybePromise<SignalRecord[]>;

  /** Appends an event to the run's history. */
  addEvent(runId: string, kind: string, message: string, data?: string | null): MaybePromise<void>;
  /** The run's history, in order. */
  listEvents(runId: string, page?: Page): MaybePromise<EventRecord[]>;

  /** Deletes a run and all its rows. Returns whether it existed. */
  deleteRun(runId: string): MaybePromise<boolean>;
  /** Storage-level integrity check; one sentence per problem, empty when fine. */
  integrityCheck(): MaybePromise<string[]>;
  /** Bytes used by the store. */
  sizeBytes(): MaybePromise<number>;
}

/**
 * The storage interface the engine and the inspection tools use. It is backend-neutral: records
 * carry JSON as text, and every method may return a value or a promise (the engine awaits), so an
 * asynchronous backend (PostgreSQL) fits without engine changes. A store reads and writes; its
 * writes are guarded (by the lease, by an expected status or lease), and the decisions about
 * them — who may take a lease, which run may resume — are the engine's (`engine/lease.ts`,
 * `engine/engine.ts`). The SQL of the two implementations lives in `sqlite.ts` and `postgres/`
 * (what they share in `_sql.ts`); `contract_test.ts` runs the same cases against both.
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

/** What a `waiting` run waits for. */
export type WaitInfo =
  | { kind: "signal"; name: string; deadline: number | null; key: string }
  | { kind: "timer"; wakeAt: number; key: string }
  | { kind: "child"; childRunId: string; key: string };

/** A run's policies, stored with it so every reader judges the run by the same rules. */
export interface StoredPolicy {
  /** Checkpoint mode. */
  checkpoint: "full" | "compact";
  /** For `compact`: keep the state of every `every`-th checkpoint (plus the latest). */
  every: number;
  /** Cap for inline tool results, UTF-8 bytes. */
  maxInlineBytes: number;
}

/** One run as stored. JSON-valued fields are JSON text. */
export interface RunRecord {
  /** Run id. */
  runId: string;
  /** Agent name that owns the run. */
  agentName: string;
  /** Agent version whose state shape the stored checkpoints have. */
  agentVersion: number;
  /** Short hash of the agent module source at start (or last resume), if known. */
  agentHash: string | null;
  /** Current status. */
  status: RunStatus;
  /** Parent run, for runs started by `ctx.child`. */
  parentRunId: string | null;
  /** Parent step that started this child. */
  parentStep: number | null;
  /** Run this one was forked from. */
  forkOfRunId: string | null;
  /** Checkpoint (step index) of `forkOfRunId` this run started from. */
  forkOfStep: number | null;
  /** Index of this run's first step (0, or the fork point). */
  firstStep: number;
  /** State before `firstStep`, JSON. */
  initialState: string;
  /** Input given at start, JSON (null when none). */
  input: string | null;
  /** Final result, JSON, once completed. */
  result: string | null;
  /** Error message once failed (or cancelled with a reason). */
  error: string | null;
  /** Category of `error`. */
  errorCategory: ErrorCategory | null;
  /** What a waiting run waits for, JSON of `WaitInfo`. */
  waiting: string | null;
  /** JSON of `StoredPolicy`. */
  policy: string;
  /** A checkpoint replaced by a migration or an edit: the state before `patchedStep`. */
  patchedStep: number | null;
  /** JSON of that state. */
  patchedState: string | null;
  /** Current lease owner (`host:pid:token`) or null. */
  leaseOwner: string | null;
  /** Lease expiry, ms since epoch. */
  leaseExpires: number | null;
  /** Step whose retry budget was reset by `retry`. */
  retryStep: number | null;
  /** Attempts of `retryStep` made before the reset (they do not count against the budget). */
  retryBase: number;
  /** Creation time, ms since epoch. */
  createdAt: number;
  /** Last status change, ms since epoch. */
  updatedAt: number;
}

/** Fields of a run that status changes may set. Undefined fields are left alone. */
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

/** One committed step (a transition). `state` is the state after it (null when not kept). */
export interface StepRecord {
  /** Run id. */
  runId: string;
  /** Step index. */
  step: number;
  /** Attempt number that succeeded. */
  attempt: number;
  /** Start of the successful attempt, ms since epoch. */
  startedAt: number;
  /** Its duration, ms. */
  durationMs: number;
  /** State after the step (the checkpoint before step+1), JSON; null if compacted or final. */
  state: string | null;
}

/** A failed attempt of a step (`scope` "") or of a tool call (`scope` = the call's key). */
export interface AttemptRecord {
  /** Run id. */
  runId: string;
  /** Step index. */
  step: number;
  /** "" for the step itself, else the tool call key. */
  scope: string;
  /** Attempt number, from 1. */
  attempt: number;
  /** Error message. */
  error: string;
  /** Error type name. */
  errorType: string;
  /** Category. */
  category: ErrorCategory;
  /** Start, ms since epoch. */
  startedAt: number;
  /** Duration, ms. */
  durationMs: number;
  /** When the next attempt may start (ms since epoch), or null when none follows. */
  retryAt: number | null;
}

/** Kinds of durable calls a step makes. */
export type CallKind = "tool" | "signal" | "timer" | "child";

/** A durable call (tool call, signal wait, timer, child run) made by a step. */
export interface CallRecord {
  /** Run id. */
  runId: string;
  /** Key, unique within the run. */
  key: string;
  /** Step index. */
  step: number;
  /** Kind. */
  kind: CallKind;
  /** Tool name, signal name, "sleep", or child run id. */
  name: string;
  /** Arguments JSON (capped like results). */
  args: string | null;
  /** Stable hash of the arguments. */
  argsHash: string | null;
  /** `started` (may have run, no result recorded), `completed`, `failed`. */
  status: "started" | "completed" | "failed";
  /** Result JSON (a stub when capped). */
  result: string | null;
  /** Size of the full result JSON in UTF-8 bytes. */
  resultBytes: number | null;
  /** Hash of the stored result text. */
  resultHash: string | null;
  /** True when the stored result is a stub because the full one exceeded the cap. */
  capped: boolean;
  /** Last error message. */
  error: string | null;
  /** Last error category. */
  category: ErrorCategory | null;
  /** Attempts made so far. */
  attempts: number;
  /** First start, ms since epoch. */
  startedAt: number;
  /** Duration of the successful attempt, ms. */
  durationMs: number | null;
  /** Timer wake time or signal deadline, ms since epoch. */
  deadline: number | null;
}

/** A signal sent to a run. */
export interface SignalRecord {
  /** Run id. */
  runId: string;
  /** Sequence number within the run. */
  seq: number;
  /** Signal name. */
  name: string;
  /** Payload JSON. */
  data: string;
  /** Send time, ms since epoch. */
  sentAt: number;
  /** Key of the wait that consumed it. */
  consumedBy: string | null;
  /** Why it was rejected by the wait's validator, if it was. */
  rejected: string | null;
}

/** A history event: start, resume, takeover, migration, warnings, signals, admin actions. */
export interface EventRecord {
  /** Run id. */
  runId: string;
  /** Sequence within the run. */
  seq: number;
  /** Time, ms since epoch. */
  at: number;
  /** Kind, e.g. `started`, `resumed`, `lease-takeover`, `source-changed`. */
  kind: string;
  /** Human sentence. */
  message: string;
  /** Extra data JSON. */
  data: string | null;
}

/** Paging for list queries. */
export interface Page {
  /** Maximum rows. */
  limit?: number;
  /** Rows to skip. */
  offset?: number;
}

/** Summary numbers about a run's steps, for explain and verify. */
export interface StepStats {
  /** Step rows. */
  count: number;
  /** Lowest step index, or null. */
  first: number | null;
  /** Highest step index, or null. */
  last: number | null;
  /** Sum of step durations, ms. */
  totalMs: number;
  /** Rows that keep a state. */
  withState: number;
  /** Highest attempt number among steps. */
  maxAttempt: number;
}

/** The lease of a run as it was read: what `Store.takeLease` expects to find unchanged. */
export interface LeaseState {
  /** Lease owner, or null when the run is not leased. */
  owner: string | null;
  /** Lease expiry (ms since epoch), or null. */
  expires: number | null;
  /** The run's status. */
  status: RunStatus;
}

/** Backend-neutral run store. */
export interface Store {
  /** Where the store lives (file path or URL), for messages. */
  readonly location: string;
  /** Closes the store. */
  close(): MaybePromise<void>;

  /** Creates a run; fails with `RunnerError` when the id exists. */
  createRun(run: RunRecord): MaybePromise<void>;
  /** One run, or undefined. */
  getRun(runId: string): MaybePromise<RunRecord | undefined>;
  /** Runs, newest first, optionally by status or parent. */
  listRuns(
    filter?: Page & { status?: RunStatus; parentRunId?: string; updatedBefore?: number },
  ): MaybePromise<RunRecord[]>;

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

  /** Hot path: commits one transition in one transaction, guarded by the lease. */
  commitStep(step: StepRecord, owner: string): MaybePromise<boolean>;
  /**
   * Commits the final step and applies `patch` to the run (the engine's completion: status,
   * result, lease released) in one transaction, guarded by the lease like `commitStep`.
   */
  commitFinal(step: StepRecord, owner: string, patch: RunPatch): MaybePromise<boolean>;
  /** Drops kept states of steps in [from, to] whose checkpoint index is not a multiple of every. */
  compactSteps(runId: string, from: number, to: number, every: number): MaybePromise<void>;
  /** The latest step row, or undefined. */
  lastStep(runId: string): MaybePromise<StepRecord | undefined>;
  /** One step row. */
  getStep(runId: string, step: number): MaybePromise<StepRecord | undefined>;
  /** Step rows in order. */
  listSteps(runId: string, page?: Page & { fromStep?: number }): MaybePromise<StepRecord[]>;
  /** Step row summary. */
  stepStats(runId: string): MaybePromise<StepStats>;

  /** Records a failed attempt. */
  recordAttempt(attempt: AttemptRecord): MaybePromise<void>;
  /** The recorded failed attempt with the highest number for a step scope, or undefined. */
  lastAttempt(runId: string, step: number, scope: string): MaybePromise<AttemptRecord | undefined>;
  /** Failed attempts in order. */
  listAttempts(
    runId: string,
    page?: Page & { step?: number; scope?: string },
  ): MaybePromise<AttemptRecord[]>;
  /** Number of failed attempts. */
  countAttempts(runId: string): MaybePromise<number>;

  /** One durable call. */
  getCall(runId: string, key: string): MaybePromise<CallRecord | undefined>;
  /** Inserts or replaces a durable call (its own transaction). */
  putCall(call: CallRecord): MaybePromise<void>;
  /** Calls in order of step and start. */
  listCalls(
    runId: string,
    page?: Page & { step?: number; kind?: string },
  ): MaybePromise<CallRecord[]>;
  /** Counts calls by kind and status. */
  countCalls(
    runId: string,
  ): MaybePromise<{ kind: string; name: string; status: string; n: number }[]>;

  /** Adds a signal; returns its sequence number. */
  addSignal(runId: string, name: string, data: string, at: number): MaybePromise<number>;
  /** Oldest unconsumed signal with that name. */
  nextSignal(runId: string, name: string): MaybePromise<SignalRecord | undefined>;
  /** Marks a signal consumed by `call` (stored in the same transaction) or rejected. */
  consumeSignal(
    runId: string,
    seq: number,
    consumer: { call: CallRecord } | { rejected: string },
  ): MaybePromise<void>;
  /** Signals in order. */
  listSignals(runId: string, page?: Page): MaybePromise<SignalRecord[]>;

  /** Appends an event. */
  addEvent(runId: string, kind: string, message: string, data?: string | null): MaybePromise<void>;
  /** Events in order. */
  listEvents(runId: string, page?: Page): MaybePromise<EventRecord[]>;

  /** Deletes a run and all its rows. Returns whether it existed. */
  deleteRun(runId: string): MaybePromise<boolean>;
  /** Storage-level integrity check; empty when fine. */
  integrityCheck(): MaybePromise<string[]>;
  /** Bytes used by the store. */
  sizeBytes(): MaybePromise<number>;
}

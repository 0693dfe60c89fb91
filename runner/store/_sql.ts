/**
 * SQL shared by the SQLite and PostgreSQL stores: the column lists (records are read with the
 * same aliases from both), the run patch (`RunPatch` field -> column), the row parameters of a
 * record, and paging. Both stores build their statements from these, so a column or a paging
 * rule cannot differ between them. Placeholders differ (`?` in SQLite, `$n` in PostgreSQL): the
 * builders take a `mark` that renders the n-th one.
 *
 * @module
 */
import {
  type CallRecord,
  type FailedAttemptRecord,
  type Page,
  type RunPatch,
  type RunRecord,
  TERMINAL_STATUSES,
} from "./store.ts";

/** A value bound to a statement parameter (a database boolean is added by `callParams`). */
export type Param = string | number | null;

/** Renders the placeholder of the `n`-th parameter (from 1). */
export type Mark = (n: number) => string;

/** SQLite's positional placeholder. */
export const QUESTION_MARK: Mark = () => "?";

/** PostgreSQL's numbered placeholder. */
export const DOLLAR_MARK: Mark = (n) => `$${n}`;

/** `RunRecord` columns with their field names (double-quoted aliases work in both databases). */
export const RUN_COLUMNS = `run_id AS "runId", agent_name AS "agentName",
  agent_version AS "agentVersion", agent_hash AS "agentHash", status,
  parent_run_id AS "parentRunId", parent_step AS "parentStep", fork_of_run_id AS "forkOfRunId",
  fork_of_step AS "forkOfStep", first_step AS "firstStep", initial_state AS "initialState", input,
  result, error, error_category AS "errorCategory", waiting, policy, patched_step AS "patchedStep",
  patched_state AS "patchedState", lease_owner AS "leaseOwner", lease_expires AS "leaseExpires",
  retry_step AS "retryStep", retry_base AS "retryBase", created_at AS "createdAt",
  updated_at AS "updatedAt", ended_at AS "endedAt"`;

/** `StepRecord` columns. */
export const STEP_COLUMNS = `run_id AS "runId", step, attempt, started_at AS "startedAt",
  duration_ms AS "durationMs", state`;

/**
 * A step row as stored (`StepRow`): the `StepRecord` columns and the checkpoint's delta, which
 * the store turns into the whole `state` before a record leaves it.
 */
export const STEP_ROW_COLUMNS = `${STEP_COLUMNS}, delta`;

/** The columns of a delta chain's rows (`ChainRow`). */
export const CHAIN_COLUMNS = "step, state, delta";

/** `FailedAttemptRecord` columns. */
export const FAILED_ATTEMPT_COLUMNS = `run_id AS "runId", step, scope, attempt, error,
  error_type AS "errorType", error_category AS "errorCategory", started_at AS "startedAt",
  duration_ms AS "durationMs", retry_at AS "retryAt"`;

/** `CallRecord` columns. */
export const CALL_COLUMNS =
  `run_id AS "runId", key, step, kind, name, args, args_hash AS "argsHash",
  status, result, result_bytes AS "resultBytes", result_hash AS "resultHash", capped, error,
  error_category AS "errorCategory", attempts, started_at AS "startedAt",
  duration_ms AS "durationMs", deadline`;

/** `SignalRecord` columns. */
export const SIGNAL_COLUMNS = `run_id AS "runId", seq, name, data, sent_at AS "sentAt",
  consumed_by AS "consumedBy", rejected`;

/** `EventRecord` columns. */
export const EVENT_COLUMNS = `run_id AS "runId", seq, at, kind, message, data`;

/**
 * `StepStats` of one run's steps in `table` (`WHERE run_id = ...` follows); `kept` is non-null
 * for a row that keeps its checkpoint.
 */
export function stepStatsSql(table: string, kept = "coalesce(state, delta)"): string {
  return `SELECT count(*) AS count, min(step) AS first, max(step) AS last,
  coalesce(sum(duration_ms), 0) AS "totalMs", count(${kept}) AS "withState",
  coalesce(max(attempt), 0) AS "maxAttempt" FROM ${table}`;
}

/** `StepStats` of one run's steps in SQLite (`WHERE run_id = ...` follows). */
export const STEP_STATS: string = stepStatsSql("steps", "coalesce(state, checkpoint)");

/** Column of each `RunPatch` field. */
export const PATCH_COLUMNS: Readonly<Record<keyof RunPatch, string>> = {
  status: "status",
  result: "result",
  error: "error",
  errorCategory: "error_category",
  waiting: "waiting",
  agentVersion: "agent_version",
  agentHash: "agent_hash",
  patchedStep: "patched_step",
  patchedState: "patched_state",
  leaseOwner: "lease_owner",
  leaseExpires: "lease_expires",
  retryStep: "retry_step",
  retryBase: "retry_base",
};

/**
 * The `SET` list of a run patch: `updated_at` (now), every field of `patch` that is not
 * undefined, and with a `status` its `ended_at` (now for a terminal status, else NULL). Appends
 * the values to `params` and marks them by their position there.
 */
export function patchSql(
  patch: RunPatch,
  params: { push(value: Param): number; readonly length: number },
  mark: Mark,
): string {
  const now = Date.now();
  params.push(now);
  const sets = [`updated_at = ${mark(params.length)}`];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    params.push(value as Param);
    sets.push(`${PATCH_COLUMNS[field as keyof RunPatch]} = ${mark(params.length)}`);
  }
  if (patch.status !== undefined) {
    params.push(TERMINAL_STATUSES.includes(patch.status) ? now : null);
    sets.push(`ended_at = ${mark(params.length)}`);
  }
  return sets.join(", ");
}

/** The columns `runParams` binds, in order. */
export const RUN_INSERT_COLUMNS = `run_id, agent_name, agent_version, agent_hash, status,
  parent_run_id, parent_step, fork_of_run_id, fork_of_step, first_step, initial_state, input,
  result, error, error_category, waiting, policy, patched_step, patched_state, lease_owner,
  lease_expires, retry_step, retry_base, created_at, updated_at, ended_at`;

/** The values of a run row, in the order of `RUN_INSERT_COLUMNS`. */
export function runParams(r: RunRecord): Param[] {
  return [
    r.runId,
    r.agentName,
    r.agentVersion,
    r.agentHash,
    r.status,
    r.parentRunId,
    r.parentStep,
    r.forkOfRunId,
    r.forkOfStep,
    r.firstStep,
    r.initialState,
    r.input,
    r.result,
    r.error,
    r.errorCategory,
    r.waiting,
    r.policy,
    r.patchedStep,
    r.patchedState,
    r.leaseOwner,
    r.leaseExpires,
    r.retryStep,
    r.retryBase,
    r.createdAt,
    r.updatedAt,
    r.endedAt,
  ];
}

/** The columns `failedAttemptParams` binds, in order. */
export const FAILED_ATTEMPT_INSERT_COLUMNS = `run_id, step, scope, attempt, error, error_type,
  error_category, started_at, duration_ms, retry_at`;

/** The values of a failed attempt row, in the order of `FAILED_ATTEMPT_INSERT_COLUMNS`. */
export function failedAttemptParams(a: FailedAttemptRecord): Param[] {
  return [
    a.runId,
    a.step,
    a.scope,
    a.attempt,
    a.error,
    a.errorType,
    a.errorCategory,
    a.startedAt,
    a.durationMs,
    a.retryAt,
  ];
}

/** The columns `callParams` binds, in order. */
export const CALL_INSERT_COLUMNS = `run_id, key, step, kind, name, args, args_hash, status,
  result, result_bytes, result_hash, capped, error, error_category, attempts, started_at,
  duration_ms, deadline`;

/**
 * The values of a call row, in the order of `CALL_INSERT_COLUMNS`; `capped` is stored as the
 * database's boolean (`boolean` in PostgreSQL, 0/1 in SQLite).
 */
export function callParams<B>(c: CallRecord, capped: (value: boolean) => B): (Param | B)[] {
  return [
    c.runId,
    c.key,
    c.step,
    c.kind,
    c.name,
    c.args,
    c.argsHash,
    c.status,
    c.result,
    c.resultBytes,
    c.resultHash,
    capped(c.capped),
    c.error,
    c.errorCategory,
    c.attempts,
    c.startedAt,
    c.durationMs,
    c.deadline,
  ];
}

/** `n` placeholders from `first`, comma-separated: `?,?,?` or `$1,$2,$3`. */
export function marks(n: number, mark: Mark, first = 1): string {
  return Array.from({ length: n }, (_, i) => mark(first + i)).join(",");
}

/**
 * ` LIMIT … OFFSET …` of a page. No limit (undefined or negative) reads every row: SQLite spells
 * it `LIMIT -1`, PostgreSQL `LIMIT ALL`. A fractional limit or offset is rounded down; a negative
 * offset reads from the first row.
 */
export function limitClause(page: Page | undefined, noLimit: "-1" | "ALL"): string {
  const limit = page?.limit;
  const offset = Math.max(0, Math.floor(page?.offset ?? 0));
  const rows = limit === undefined || limit < 0 ? noLimit : String(Math.floor(limit));
  return ` LIMIT ${rows} OFFSET ${offset}`;
}

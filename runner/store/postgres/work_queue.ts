/**
 * The PostgreSQL work queue (`WorkQueue`): workers claim runnable runs with `FOR UPDATE SKIP
 * LOCKED`, sleep on `LISTEN loom_work`, and wake at the next known deadline. `PostgresStore`
 * implements `WorkQueue` with these functions.
 *
 * Which runs are runnable is decided here, in SQL, so that a claim is one statement: a run found
 * runnable is reserved in the same statement. The lease taken by `resumeRun` stays the guard.
 *
 * @module
 */
import type { ClaimedRun } from "../work_queue.ts";
import { all, one, query, type Sql, textList } from "./_db.ts";
import { type Tables, WORK_CHANNEL } from "./schema.ts";

/** Top-level runs a worker may take: unleased (or lease expired), unclaimed, and not waiting on. */
function runnable(t: Tables): string {
  return `parent_run_id IS NULL AND agent_name IN (${textList(1)})
  AND status IN ('queued', 'paused', 'running', 'waiting')
  AND (lease_owner IS NULL OR lease_expires < $2)
  AND (claimed_until IS NULL OR claimed_until < $2)
  AND (status <> 'waiting' OR ${t.waitOver}(run_id, waiting, $2, 0))`;
}

/**
 * Claims up to `limit` runnable top-level runs of the given agents for `claimMs` (a short
 * reservation so other workers skip them; the lease taken by `resumeRun` is the real guard).
 * `FOR UPDATE SKIP LOCKED`: concurrent workers never wait on each other's candidates.
 */
export function claimRunnable(
  sql: Sql,
  t: Tables,
  agentNames: readonly string[],
  limit: number,
  claimMs: number,
  exclude: readonly string[],
): Promise<ClaimedRun[]> {
  const now = Date.now();
  return all<ClaimedRun>(
    sql,
    `UPDATE ${t.runs} SET claimed_until = $3 WHERE run_id IN (
       SELECT run_id FROM ${t.runs} WHERE ${runnable(t)} AND run_id NOT IN (${textList(5)})
       ORDER BY updated_at LIMIT $4 FOR UPDATE SKIP LOCKED)
     RETURNING run_id AS "runId", agent_name AS "agentName", status`,
    [
      JSON.stringify(agentNames),
      now,
      now + claimMs,
      Math.max(0, Math.floor(limit)),
      JSON.stringify(exclude),
    ],
  );
}

/** Ends a claim (after the worker's invocation of the run returned). */
export async function releaseClaim(sql: Sql, t: Tables, runId: string): Promise<void> {
  await query(sql, `UPDATE ${t.runs} SET claimed_until = NULL WHERE run_id = $1`, [runId]);
}

/**
 * Earliest future time something may become runnable without a notification: a lease or claim
 * expiring, a timer due, a signal wait timing out. Null when nothing is scheduled.
 */
export async function nextWakeAt(
  sql: Sql,
  t: Tables,
  agentNames: readonly string[],
): Promise<number | null> {
  const row = await one<{ t: number | null }>(
    sql,
    `SELECT min(t) AS t FROM (
       SELECT least(
         CASE WHEN lease_owner IS NOT NULL THEN lease_expires END,
         claimed_until,
         CASE WHEN status = 'waiting' THEN
           coalesce((waiting::jsonb->>'wakeAt')::bigint, (waiting::jsonb->>'deadline')::bigint)
         END) AS t
       FROM ${t.runs} WHERE parent_run_id IS NULL AND agent_name IN (${textList(1)})
         AND status IN ('queued', 'paused', 'running', 'waiting')) x
     WHERE t > $2`,
    [JSON.stringify(agentNames), Date.now()],
  );
  return row!.t;
}

/**
 * Top-level runs of these agents that still need a worker: queued, paused, running, or waiting
 * on a timer (waits for signals need someone outside, and do not count).
 */
export async function pendingRuns(
  sql: Sql,
  t: Tables,
  agentNames: readonly string[],
  exclude: readonly string[],
): Promise<number> {
  const row = await one<{ n: number }>(
    sql,
    `SELECT count(*) AS n FROM ${t.runs} WHERE parent_run_id IS NULL
       AND agent_name IN (${textList(1)}) AND run_id NOT IN (${textList(3)})
       AND (status IN ('queued', 'paused', 'running')
         OR (status = 'waiting' AND (waiting::jsonb->>'kind' = 'timer'
                                     OR ${t.waitOver}(run_id, waiting, $2, 0))))`,
    [JSON.stringify(agentNames), Date.now(), JSON.stringify(exclude)],
  );
  return row!.n;
}

/**
 * Calls `onWork` whenever the runs of `schema` may have become runnable (LISTEN/NOTIFY), and
 * after the listening connection was re-established (notifications sent meanwhile are lost).
 */
export async function listenForWork(
  sql: Sql,
  schema: string,
  onWork: () => void,
): Promise<() => Promise<void>> {
  const sub = await sql.listen(
    WORK_CHANNEL,
    (payload) => {
      if (payload === schema) onWork();
    },
    onWork,
  );
  return () => sub.unlisten();
}

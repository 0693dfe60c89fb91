/**
 * The runs list the studio shows, read with one SQL query per question (page, total, counts per
 * status, agents) so that it stays fast with 100,000 runs: the `Store` interface lists runs but
 * cannot filter by agent or text, count, or say how many steps and children a run has. SQLite and
 * PostgreSQL stores are queried directly (same columns, `_sql.ts` placeholders); any other store
 * falls back to `Store.listRuns` and filters in memory.
 *
 * @module
 */
import { DOLLAR_MARK, type Mark, type Param, QUESTION_MARK } from "../store/_sql.ts";
import type { RunRecord, RunStatus, Store, WaitInfo } from "../store/store.ts";
import { RUN_STATUSES } from "../store/store.ts";
import { SqliteStore } from "../store/sqlite.ts";

/** One run as the runs page lists it (see `API.md`). */
export interface RunRow {
  /** The run. */
  runId: string;
  /** The agent that owns it. */
  agentName: string;
  /** Its status now. */
  status: RunStatus;
  /** For a child run, its parent. */
  parentRunId: string | null;
  /** For a fork, the run it was forked from. */
  forkOfRunId: string | null;
  /** For a fork, the step it starts at. */
  forkOfStep: number | null;
  /** When the run was created, ms since the epoch. */
  createdAt: number;
  /** The last change of the run record. */
  updatedAt: number;
  /** When it ended, or null. */
  endedAt: number | null;
  /** The highest committed step, or null before the first commit. */
  lastStep: number | null;
  /** What a waiting run waits for, in words; null unless waiting. */
  waiting: string | null;
  /** The error (or cancel reason), or null. */
  error: string | null;
  /** How many child runs it started. */
  children: number;
}

/** Filters and paging of the runs list. */
export interface RunsQuery {
  /** Only this status. */
  status?: RunStatus;
  /** Only this agent. */
  agent?: string;
  /** Run id prefix or agent name (substring). */
  q?: string;
  /** The children of this run; without it, top-level runs only. */
  parent?: string;
  /** Rows to skip. */
  offset: number;
  /** Rows to return. */
  limit: number;
}

/** One page of the runs list, with the numbers the page shows around it. */
export interface RunsPage {
  /** The page, last changed first. */
  runs: RunRow[];
  /** Runs matching every filter. */
  total: number;
  /** Runs matching agent, q and parent, by status. */
  counts: Record<string, number>;
  /** Agent names of all runs. */
  agents: string[];
}

/** A RunRow as read from SQL, `waiting` still as stored JSON. */
type RawRow = Omit<RunRow, "waiting"> & { waiting: string | null };

/** The columns of a `RunRow`, from `runs r`. */
const ROW_COLUMNS = (steps: string, runs: string) =>
  `r.run_id AS "runId", r.agent_name AS "agentName", r.status,
  r.parent_run_id AS "parentRunId", r.fork_of_run_id AS "forkOfRunId",
  r.fork_of_step AS "forkOfStep", r.created_at AS "createdAt", r.updated_at AS "updatedAt",
  r.ended_at AS "endedAt", r.waiting, r.error,
  (SELECT max(s.step) FROM ${steps} s WHERE s.run_id = r.run_id) AS "lastStep",
  (SELECT count(*) FROM ${runs} c WHERE c.parent_run_id = r.run_id) AS "children"`;

/** What a waiting run waits for, in words. */
export function waitingInWords(waiting: string | WaitInfo | null): string | null {
  if (waiting === null) return null;
  let w: WaitInfo;
  try {
    w = typeof waiting === "string" ? JSON.parse(waiting) : waiting;
  } catch {
    return "waiting";
  }
  const at = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  if (w.kind === "signal") {
    return `waiting for signal ${w.name}${w.deadline ? ` (times out ${at(w.deadline)} UTC)` : ""}`;
  }
  if (w.kind === "timer") return `waiting for a timer until ${at(w.wakeAt)} UTC`;
  if (w.kind === "child") return `waiting for child run ${w.childRunId}`;
  return "waiting";
}

function finish(row: RawRow): RunRow {
  return {
    ...row,
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
    endedAt: row.endedAt === null ? null : Number(row.endedAt),
    forkOfStep: row.forkOfStep === null ? null : Number(row.forkOfStep),
    lastStep: row.lastStep === null ? null : Number(row.lastStep),
    children: Number(row.children),
    waiting: row.status === "waiting" ? waitingInWords(row.waiting) : null,
  };
}

/** The run row of a stored run record (for routes that hold the record already). */
export async function rowOf(store: Store, run: RunRecord): Promise<RunRow> {
  const [last, children] = await Promise.all([
    store.lastStep(run.runId),
    store.listRuns({ parentRunId: run.runId }),
  ]);
  return finish({
    runId: run.runId,
    agentName: run.agentName,
    status: run.status,
    parentRunId: run.parentRunId,
    forkOfRunId: run.forkOfRunId,
    forkOfStep: run.forkOfStep,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    endedAt: run.endedAt,
    lastStep: last?.step ?? null,
    waiting: run.waiting,
    error: run.error,
    children: children.length,
  });
}

/** Runs SQL against a store: rows out, `?` or `$n` placeholders. */
interface Sql {
  mark: Mark;
  runs: string;
  steps: string;
  /** The tie-breaker after `updated_at DESC` that the `updated_at` index already holds. */
  tieBreak: string;
  /** SQLite's `+` before a column that must not pick the index (else nothing). */
  noIndex: string;
  all<T>(text: string, params: Param[]): Promise<T[]>;
  /** The agent names of all runs (SQLite: kept up to date from new rowids, not rescanned). */
  agents(): Promise<string[]>;
}

/** Agent names per SQLite database, and the highest run rowid they were read up to. */
const agentCache = new WeakMap<object, { maxRowid: number; names: Set<string> }>();

/**
 * SQLite's agent names without a full scan per request: runs get increasing rowids, so only the
 * runs added since the last call are read; a full read happens again when runs were deleted.
 */
function sqliteAgents(db: SqliteStore["db"]): string[] {
  const top = db.prepare("SELECT max(rowid) AS m FROM runs").get() as { m: number | null };
  const maxRowid = top.m ?? 0;
  let cached = agentCache.get(db);
  if (cached && maxRowid < cached.maxRowid) cached = undefined; // deleted runs: read again
  if (!cached || maxRowid > cached.maxRowid) {
    const from = cached?.maxRowid ?? -1;
    const rows = db.prepare("SELECT DISTINCT agent_name AS a FROM runs WHERE rowid > ?").all(
      from,
    ) as { a: string }[];
    const names = new Set(cached?.names ?? []);
    for (const r of rows) names.add(r.a);
    cached = { maxRowid, names };
    agentCache.set(db, cached);
  }
  return [...cached.names].sort();
}

/** The SQL access of a SQLite or PostgreSQL store, or undefined for another store. */
export function sqlOf(store: Store): Sql | undefined {
  if (store instanceof SqliteStore) {
    const db = store.db;
    return {
      mark: QUESTION_MARK,
      runs: "runs",
      steps: "steps",
      tieBreak: "r.rowid DESC",
      noIndex: "+",
      all: <T>(text: string, params: Param[]) =>
        Promise.resolve(db.prepare(text).all(...params) as T[]),
      agents: () => Promise.resolve(sqliteAgents(db)),
    };
  }
  // PostgresStore, recognised without importing it (that would load the npm client).
  const pg = store as unknown as {
    sql?: { unsafe(text: string, params: Param[]): Promise<unknown[]> };
    schema?: string;
  };
  if (typeof pg.sql?.unsafe === "function" && typeof pg.schema === "string") {
    const sql = pg.sql;
    const runs = `${pg.schema}.runs`;
    return {
      mark: DOLLAR_MARK,
      runs,
      steps: `${pg.schema}.steps`,
      tieBreak: "r.run_id",
      noIndex: "",
      all: async <T>(text: string, params: Param[]) => (await sql.unsafe(text, params)) as T[],
      agents: async () => {
        const rows = await sql.unsafe(
          `SELECT DISTINCT agent_name AS a FROM ${runs} ORDER BY 1`,
          [],
        );
        return (rows as { a: string }[]).map((r) => r.a);
      },
    };
  }
  return undefined;
}

/** A WHERE clause and its parameters, built filter by filter. */
class Where {
  readonly parts: string[] = [];
  readonly params: Param[] = [];
  constructor(readonly mark: Mark) {}
  add(clause: (p: string) => string, value: Param): void {
    this.params.push(value);
    this.parts.push(clause(this.mark(this.params.length)));
  }
  text(): string {
    return this.parts.length ? ` WHERE ${this.parts.join(" AND ")}` : "";
  }
}

/** The filters shared by the page, the total and the counts (status is added by the caller). */
function baseWhere(sql: Sql, q: RunsQuery, agents: string[]): Where {
  const w = new Where(sql.mark);
  if (q.parent !== undefined) w.add((p) => `r.parent_run_id = ${p}`, q.parent);
  else w.parts.push("r.parent_run_id IS NULL");
  if (q.agent) w.add((p) => `r.agent_name = ${p}`, q.agent);
  if (q.q) {
    // A run id prefix is a range on the primary key; the agent names that contain the text are
    // found in the (short) list of agents, so no LIKE has to scan every run.
    const text = q.q.toLowerCase();
    const matching = agents.filter((a) => a.toLowerCase().includes(text));
    w.params.push(q.q, `${q.q}\uffff`);
    const n = w.params.length;
    const byId = `(r.run_id >= ${w.mark(n - 1)} AND r.run_id < ${w.mark(n)})`;
    const marks = matching.map((a) => {
      w.params.push(a);
      return w.mark(w.params.length);
    });
    w.parts.push(marks.length ? `(${byId} OR r.agent_name IN (${marks.join(", ")}))` : byId);
  }
  return w;
}

/** Runs by status for the filters of `q`; top-level runs unfiltered = all runs − child runs. */
async function countByStatus(
  sql: Sql,
  q: RunsQuery,
  agents: string[],
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (rows: { status: string; n: number }[], sign: number) => {
    for (const c of rows) counts[c.status] = (counts[c.status] ?? 0) + sign * Number(c.n);
  };
  if (q.parent === undefined && !q.agent && !q.q) {
    // Both are index-only: the status index covers the first, the parent index finds children.
    add(await sql.all(`SELECT status, count(*) AS n FROM ${sql.runs} GROUP BY status`, []), 1);
    add(
      await sql.all(
        `SELECT status, count(*) AS n FROM ${sql.runs} WHERE parent_run_id IS NOT NULL
         GROUP BY ${sql.noIndex}status`,
        [],
      ),
      -1,
    );
    for (const k of Object.keys(counts)) if (counts[k] === 0) delete counts[k];
    return counts;
  }
  const base = baseWhere(sql, q, agents);
  add(
    await sql.all(
      `SELECT r.status, count(*) AS n FROM ${sql.runs} r${base.text()} GROUP BY r.status`,
      base.params,
    ),
    1,
  );
  return counts;
}

/**
 * One page of runs with the total, the counts per status and the agents.
 *
 * @param store The store (SQL for SQLite and PostgreSQL, else `listRuns` in memory).
 * @param q Filters and paging.
 */
export async function queryRuns(store: Store, q: RunsQuery): Promise<RunsPage> {
  const sql = sqlOf(store);
  if (!sql) return await queryInMemory(store, q);
  const agents = await sql.agents();
  const counts = await countByStatus(sql, q, agents);
  const total = q.status ? counts[q.status] ?? 0 : Object.values(counts).reduce((a, b) => a + b, 0);
  const page = baseWhere(sql, q, agents);
  if (q.status) page.add((p) => `r.status = ${p}`, q.status);
  page.params.push(q.limit, q.offset);
  const n = page.params.length;
  const rows = await sql.all<RawRow>(
    `SELECT ${ROW_COLUMNS(sql.steps, sql.runs)} FROM ${sql.runs} r${page.text()}
     ORDER BY r.updated_at DESC, ${sql.tieBreak} LIMIT ${sql.mark(n - 1)} OFFSET ${sql.mark(n)}`,
    page.params,
  );
  return { runs: rows.map(finish), total, counts, agents };
}

/** The rows of runs changed at or after `since` (ms), last changed first, at most `limit`. */
export async function changedRuns(
  store: Store,
  since: number,
  limit = 500,
): Promise<RunRow[]> {
  const sql = sqlOf(store);
  if (!sql) {
    const all = await store.listRuns({ limit });
    return await Promise.all(all.filter((r) => r.updatedAt >= since).map((r) => rowOf(store, r)));
  }
  const rows = await sql.all<RawRow>(
    `SELECT ${ROW_COLUMNS(sql.steps, sql.runs)} FROM ${sql.runs} r
     WHERE r.updated_at >= ${sql.mark(1)} ORDER BY r.updated_at DESC LIMIT ${sql.mark(2)}`,
    [since, limit],
  );
  return rows.map(finish);
}

/** The rows of the runs in status `running` (whose steps move without the run record changing). */
export async function runningRuns(store: Store, limit = 500): Promise<RunRow[]> {
  const sql = sqlOf(store);
  if (!sql) {
    const all = await store.listRuns({ status: "running", limit });
    return await Promise.all(all.map((r) => rowOf(store, r)));
  }
  const rows = await sql.all<RawRow>(
    `SELECT ${ROW_COLUMNS(sql.steps, sql.runs)} FROM ${sql.runs} r
     WHERE r.status = 'running' LIMIT ${sql.mark(1)}`,
    [limit],
  );
  return rows.map(finish);
}

/** The fallback for a store without SQL: `listRuns` (at most 10,000 runs) filtered in memory. */
async function queryInMemory(store: Store, q: RunsQuery): Promise<RunsPage> {
  const all = await store.listRuns({ limit: 10_000 });
  const matches = (r: RunRecord) =>
    (q.parent === undefined ? r.parentRunId === null : r.parentRunId === q.parent) &&
    (!q.agent || r.agentName === q.agent) &&
    (!q.q || r.runId.startsWith(q.q) || r.agentName.includes(q.q));
  const base = all.filter(matches);
  const counts: Record<string, number> = {};
  for (const r of base) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const filtered = q.status ? base.filter((r) => r.status === q.status) : base;
  const page = filtered.slice(q.offset, q.offset + q.limit);
  return {
    runs: await Promise.all(page.map((r) => rowOf(store, r))),
    total: filtered.length,
    counts,
    agents: [...new Set(all.map((r) => r.agentName))].sort(),
  };
}

/** True for a known status name. */
export function isStatus(s: string): s is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(s);
}

/** Step numbers and start times of a run (no states: what the process history needs). */
export async function stepTimes(
  store: Store,
  runId: string,
): Promise<{ step: number; startedAt: number }[]> {
  const sql = sqlOf(store);
  if (!sql) {
    return (await store.listSteps(runId)).map((s) => ({ step: s.step, startedAt: s.startedAt }));
  }
  const rows = await sql.all<{ step: number; startedAt: number }>(
    `SELECT step, started_at AS "startedAt" FROM ${sql.steps} WHERE run_id = ${sql.mark(1)}
     ORDER BY step`,
    [runId],
  );
  return rows.map((r) => ({ step: Number(r.step), startedAt: Number(r.startedAt) }));
}

/**
 * `verifyRun`: checks a run's integrity — no gaps in steps or failed attempts, checkpoints kept as
 * the run's stored policy says, stored JSON parses, call hashes match — plus the store's own
 * integrity check (`PRAGMA integrity_check` on SQLite); and what the run's rows take in the store.
 *
 * @module
 */
import { requireRun } from "../engine/engine.ts";
import { RunnerError } from "../errors.ts";
import { sha256Hex, stableStringify } from "../json.ts";
import { type RunSize, spaceOf } from "../store/space.ts";
import type {
  CallRecord,
  RunRecord,
  StepRecord,
  StepStats,
  Store,
  StoredPolicy,
} from "../store/store.ts";

/** Outcome of `verifyRun`. */
export interface VerifyReport {
  /** The run checked. */
  runId: string;
  /** True when no problem was found. */
  ok: boolean;
  /** Problems found (each one sentence). */
  problems: string[];
  /** Oddities that are not corruption. */
  warnings: string[];
  /** How many rows of each kind were checked. */
  checked: { steps: number; failedAttempts: number; calls: number; signals: number };
  /** What the run's rows take in the store, per table (see `RunSize`). */
  size: RunSize;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** What the checks of one run collect. */
interface Findings {
  problems: string[];
  warnings: string[];
}

/** Checks one run (and the database file). */
export async function verifyRun(store: Store, runId: string): Promise<VerifyReport> {
  const run = await requireRun(store, runId);
  const found: Findings = { problems: [], warnings: [] };
  const stats = await store.stepStats(runId);
  checkRun(run, stats, found);
  await checkSteps(store, run, stats, found);
  const failedAttempts = await checkFailedAttempts(store, runId, found);
  const next = stats.last === null ? run.firstStep : stats.last + 1;
  const calls = await checkCalls(store, runId, next, found);
  const signals = await checkSignals(store, runId, found);
  for (const msg of await store.integrityCheck()) {
    found.problems.push(`integrity check of the store: ${msg}`);
  }
  return {
    runId,
    ok: found.problems.length === 0,
    problems: found.problems,
    warnings: found.warnings,
    checked: { steps: stats.count, failedAttempts, calls, signals },
    size: await spaceOf(store).runBytes(runId),
  };
}

/** The run record against its step summary: first step, missing steps, result, initial state. */
function checkRun(run: RunRecord, stats: StepStats, { problems }: Findings): void {
  const completed = run.status === "completed";
  if (stats.count > 0) {
    if (stats.first !== run.firstStep) {
      problems.push(`steps start at ${stats.first}, but the run starts at step ${run.firstStep}`);
    }
    const expected = stats.last! - run.firstStep + 1;
    if (stats.count !== expected) {
      problems.push(
        `${expected - stats.count} step(s) missing between ${run.firstStep} and ${stats.last}`,
      );
    }
  } else if (completed) problems.push("the run is completed but has no step rows");
  if (completed && run.result === null) problems.push("the run is completed but has no result");
  if (!parses(run.initialState)) problems.push("the initial state is not valid JSON");
}

/** Walks the steps in pages: gaps, kept checkpoints, JSON validity, attempt numbers. */
async function checkSteps(
  store: Store,
  run: RunRecord,
  stats: StepStats,
  found: Findings,
): Promise<void> {
  const { runId } = run;
  const failedByStep = new Map<number, number>();
  const failed = await store.listFailedAttempts(runId, { scope: "" });
  for (const a of failed) {
    failedByStep.set(a.step, Math.max(failedByStep.get(a.step) ?? 0, a.attempt));
  }
  let prev: number | null = null;
  // Pages sized by the states they hold: a long run whose state grew to megabytes is read a few
  // steps at a time (every state is rebuilt whole), a run of small states 5,000 at a time.
  let limit = 16;
  for (let offset = 0;;) {
    let rows: StepRecord[];
    try {
      rows = await store.listSteps(runId, { limit, offset });
    } catch (e) {
      // A checkpoint stored as a delta whose chain is broken cannot be rebuilt: say which.
      if (!(e instanceof RunnerError)) throw e;
      found.problems.push(e.message);
      break;
    }
    if (rows.length === 0) break;
    for (const r of rows) {
      if (prev !== null && r.step !== prev + 1) {
        found.problems.push(`gap in steps: ${prev} is followed by ${r.step}`);
      }
      prev = r.step;
      checkStep(r, run, stats, found);
      const failed = failedByStep.get(r.step) ?? 0;
      if (r.attempt <= failed) {
        found.problems.push(
          `step ${r.step} committed as attempt ${r.attempt}, but attempt ${failed} is recorded as failed`,
        );
      }
    }
    offset += rows.length;
    limit = nextPageSize(rows);
  }
}

/** State text a page of steps may hold, in UTF-16 code units (about bytes for ASCII JSON). */
const PAGE_STATE_CHARS = 32 * 1024 * 1024;

/**
 * Steps in the next page: at most twice this page, and as many as fit `PAGE_STATE_CHARS` if states
 * keep growing at this page's rate from its largest one.
 */
function nextPageSize(rows: readonly StepRecord[]): number {
  const size = (r: StepRecord) => r.state?.length ?? 0;
  const largest = rows.reduce((n, r) => Math.max(n, size(r)), 1);
  const growth = rows.length > 1
    ? Math.max(0, (size(rows[rows.length - 1]) - size(rows[0])) / (rows.length - 1))
    : 0;
  let limit = Math.min(5000, rows.length * 2);
  while (limit > 1 && limit * (largest + growth * limit) > PAGE_STATE_CHARS) limit >>= 1;
  return limit;
}

/** One step row: its state parses, and is kept where the run's stored policy says it must be. */
function checkStep(r: StepRecord, run: RunRecord, stats: StepStats, found: Findings): void {
  const policy = JSON.parse(run.policy) as StoredPolicy;
  const completed = run.status === "completed";
  const isFinal = completed && r.step === stats.last;
  const isLatest = r.step === (completed ? stats.last! - 1 : stats.last);
  if (r.state !== null && !parses(r.state)) {
    found.problems.push(`the state after step ${r.step} is not valid JSON`);
  }
  if (isFinal) {
    if (r.state !== null) found.warnings.push(`the final step ${r.step} also stored a state`);
  } else if (r.state === null) {
    const mustKeep = policy.checkpoint === "full" || isLatest ||
      (r.step + 1) % policy.every === 0;
    if (mustKeep) {
      found.problems.push(
        `the checkpoint after step ${r.step} is missing (${policy.checkpoint} policy)`,
      );
    }
  }
}

/**
 * Failed attempt numbers per scope have no gaps, and a step's start at 1. Returns the failed
 * attempts seen.
 */
async function checkFailedAttempts(
  store: Store,
  runId: string,
  { problems }: Findings,
): Promise<number> {
  const all = await store.listFailedAttempts(runId);
  const byScope = new Map<string, number[]>();
  for (const a of all) {
    const k = `${a.step}\0${a.scope}`;
    const list = byScope.get(k) ?? [];
    list.push(a.attempt);
    byScope.set(k, list);
  }
  for (const [k, list] of byScope) {
    list.sort((a, b) => a - b);
    const [step, scope] = k.split("\0");
    const start = list[0];
    list.forEach((n, i) => {
      if (n !== start + i) {
        problems.push(
          `gap in failed attempts of step ${step}${scope ? ` tool ${scope}` : ""}: ${
            list.join(",")
          }`,
        );
      }
    });
    if (start !== 1 && scope === "") {
      problems.push(`failed attempts of step ${step} start at ${start}, not 1`);
    }
  }
  return all.length;
}

/** Calls, in pages: hashes, JSON, steps. Returns the calls seen. */
async function checkCalls(
  store: Store,
  runId: string,
  next: number,
  found: Findings,
): Promise<number> {
  let calls = 0;
  for (let offset = 0;; offset += 5000) {
    const rows = await store.listCalls(runId, { limit: 5000, offset });
    if (rows.length === 0) break;
    calls += rows.length;
    for (const c of rows) checkCall(c, next, found);
  }
  return calls;
}

/** One call: its stored result and arguments parse and match their hashes. */
function checkCall(c: CallRecord, next: number, { problems, warnings }: Findings): void {
  if (c.status === "completed") {
    if (c.result === null || !parses(c.result)) {
      problems.push(`call ${c.key} is completed without a valid stored result`);
    } else if (c.resultHash !== null && sha256Hex(c.result).slice(0, 16) !== c.resultHash) {
      problems.push(`the stored result of call ${c.key} does not match its hash`);
    }
  }
  if (c.args !== null && c.argsHash !== null) {
    if (!parses(c.args)) {
      problems.push(`the stored arguments of call ${c.key} are not valid JSON`);
    } else if (sha256Hex(stableStringify(JSON.parse(c.args))).slice(0, 16) !== c.argsHash) {
      problems.push(`the stored arguments of call ${c.key} do not match their hash`);
    }
  }
  if (c.step > next) {
    problems.push(`call ${c.key} belongs to step ${c.step}, after the next step ${next}`);
  }
  if (c.status === "started" && c.step < next && c.kind === "tool") {
    warnings.push(`tool call ${c.key} of committed step ${c.step} has no recorded outcome`);
  }
}

/** Signals: JSON data, and consumers that are recorded. Returns the signals seen. */
async function checkSignals(store: Store, runId: string, { problems }: Findings): Promise<number> {
  const signals = await store.listSignals(runId, { limit: 100_000 });
  for (const s of signals) {
    if (!parses(s.data)) problems.push(`signal #${s.seq} has invalid JSON data`);
    if (s.consumedBy && !(await store.getCall(runId, s.consumedBy))) {
      problems.push(`signal #${s.seq} was consumed by ${s.consumedBy}, which is not recorded`);
    }
  }
  return signals.length;
}

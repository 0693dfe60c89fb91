/**
 * Reading step rows whose checkpoint is stored as a delta (`delta.ts`), the same for both stores:
 * a row keeps its checkpoint whole (`state`, a snapshot), as a delta against the checkpoint of the
 * step before (`delta`), or not at all (both null: the final step, or dropped by the compact
 * policy). Records leave a store with the whole `state` only, so readers never see a delta.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { applyDelta, applyDeltas } from "./delta.ts";
import type { StepRecord } from "./store.ts";

/** A step row as stored: the record, and its checkpoint as a delta when `state` is null. */
export interface StepRow extends StepRecord {
  /** The checkpoint as a delta against the one after the step before; null when whole or none. */
  delta: string | null;
}

/** The rows of a delta chain: a snapshot, then every step after it up to the one wanted. */
export interface ChainRow {
  /** The step. */
  step: number;
  /** The snapshot (first row only). */
  state: string | null;
  /** The delta (the rows after the first). */
  delta: string | null;
}

/** The SQL condition that selects a chain's rows (`mark(n)` renders the n-th parameter). */
export function chainWhere(
  steps: string,
  mark: (n: number) => string,
): string {
  // The latest snapshot: a backward range scan that stops at the first whole checkpoint.
  return `run_id = ${mark(1)} AND step BETWEEN
    (SELECT step FROM ${steps} WHERE run_id = ${mark(1)} AND step <= ${mark(2)}
       AND state IS NOT NULL ORDER BY step DESC LIMIT 1) AND ${mark(2)}`;
}

/**
 * The checkpoint after `step`, rebuilt from its chain's rows (ascending, from the snapshot).
 * @throws {RunnerError} When the chain is broken (the database is damaged).
 */
export function rebuildChain(runId: string, step: number, rows: readonly ChainRow[]): string {
  const broken = (why: string) =>
    new RunnerError(
      `the checkpoint after step ${step} of run ${runId} cannot be rebuilt (${why}); the database is damaged`,
    );
  const first = rows[0];
  if (first === undefined || first.state === null) throw broken("no snapshot before it");
  const deltas: string[] = new Array(rows.length - 1);
  for (let i = 1; i < rows.length; i++) {
    const row = rows[i];
    if (row.step !== rows[i - 1].step + 1 || row.delta === null) {
      throw broken(`the checkpoint after step ${rows[i - 1].step + 1} is missing`);
    }
    deltas[i - 1] = row.delta;
  }
  if (rows[rows.length - 1].step !== step) throw broken(`no row for step ${step}`);
  return applyDeltas(first.state, deltas);
}

/** The steps whose base (the checkpoint after step - 1) must be read to resolve `rows`. */
export function basesNeeded(rows: readonly StepRow[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row.delta === null) continue;
    const prev = rows[i - 1];
    if (prev === undefined || prev.step !== row.step - 1) out.push(row.step - 1);
  }
  return out;
}

/**
 * The records of `rows` (ascending) with every delta applied; `bases` holds the checkpoint after
 * each step `basesNeeded` named.
 */
export function resolveRows(
  runId: string,
  rows: readonly StepRow[],
  bases: ReadonlyMap<number, string>,
): StepRecord[] {
  const out: StepRecord[] = new Array(rows.length);
  let prev: string | null = null;
  for (let i = 0; i < rows.length; i++) {
    const { delta, ...record } = rows[i];
    if (delta !== null) {
      const base = i > 0 && rows[i - 1].step === record.step - 1
        ? prev
        : bases.get(record.step - 1) ?? null;
      if (base === null) {
        throw new RunnerError(
          `the checkpoint after step ${record.step} of run ${runId} cannot be rebuilt (the one before it is missing); the database is damaged`,
        );
      }
      record.state = applyDelta(base, delta);
    }
    prev = record.state;
    out[i] = record;
  }
  return out;
}

/**
 * The audit trail: an append-only table of every plan, command, approval, denial, refusal and
 * verification. Each entry's hash covers the previous entry's hash and the entry itself, so
 * editing, inserting or deleting a row in the middle breaks the chain and `audit --verify` finds
 * the first bad row. Triggers refuse UPDATE and DELETE; the chain catches whoever drops them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { immediate } from "./ops_db.ts";

/** Hash of the (virtual) entry before the first one. */
export const GENESIS_HASH = "0".repeat(64);

/** Kinds of audit entries. */
export type AuditKind =
  | "run.started"
  | "run.resumed"
  | "run.waiting"
  | "run.completed"
  | "run.failed"
  | "plan"
  | "approval.requested"
  | "approval.granted"
  | "approval.denied"
  | "approval.refused"
  | "command.started"
  | "command.finished"
  | "command.refused"
  | "verification"
  | "step.retry"
  | "step.failed"
  | "rollback.started"
  | "memory.noted"
  | "gateway.command";

/** One audit entry. */
export interface AuditEntry {
  /** Position in the chain (1-based, gap-free). */
  seq: number;
  /** Run (or sub-run) id. */
  runId: string;
  /** ISO timestamp. */
  ts: string;
  /** What happened. */
  kind: AuditKind;
  /** Who did it: `loom-ops`, a user name, or `telegram:@name`. */
  actor: string;
  /** The step concerned, if any. */
  step: string | null;
  /** Details (JSON). */
  data: Record<string, unknown>;
  /** Hash of the previous entry. */
  prevHash: string;
  /** This entry's hash. */
  hash: string;
}

/** What to append. */
export type AuditInput = Pick<AuditEntry, "runId" | "kind" | "actor"> & {
  step?: string | null;
  data?: Record<string, unknown>;
  /**
   * Deduplication key for entries written by step code, which re-runs after a resume: an entry
   * whose key is already in the log is not written again. Entries for real side effects (a
   * command that ran) have no key, so a re-execution is always recorded.
   */
  once?: string;
};

/** JSON with object keys sorted at every level, so a hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** The hash of an entry given its predecessor's hash. */
export function entryHash(prevHash: string, e: Omit<AuditEntry, "hash" | "prevHash">): string {
  const body = canonicalJson({
    seq: e.seq,
    runId: e.runId,
    ts: e.ts,
    kind: e.kind,
    actor: e.actor,
    step: e.step,
    data: e.data,
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

/** The result of {@link AuditLog.verify}. */
export interface VerifyReport {
  /** Whether the whole chain is intact. */
  ok: boolean;
  /** Entries checked. */
  entries: number;
  /** The first broken entry and why. */
  firstBad?: { seq: number; reason: string };
}

/** Append-only, hash-chained audit log in the ops database. */
export class AuditLog {
  readonly #db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Appends one entry atomically (reads the chain head and inserts in one IMMEDIATE transaction).
   * Returns the existing entry when `once` names one already written.
   */
  append(input: AuditInput): AuditEntry {
    return immediate(this.#db, () => {
      if (input.once !== undefined) {
        const prior = this.#db.prepare("SELECT * FROM ops_audit WHERE once_key = ?").get(
          input.once,
        );
        if (prior) return toEntry(prior);
      }
      const head = this.#db.prepare("SELECT seq, hash FROM ops_audit ORDER BY seq DESC LIMIT 1")
        .get() as { seq: number; hash: string } | undefined;
      const partial = {
        seq: (head?.seq ?? 0) + 1,
        runId: input.runId,
        ts: new Date().toISOString(),
        kind: input.kind,
        actor: input.actor,
        step: input.step ?? null,
        data: JSON.parse(JSON.stringify(input.data ?? {})),
      };
      const prevHash = head?.hash ?? GENESIS_HASH;
      const entry: AuditEntry = { ...partial, prevHash, hash: entryHash(prevHash, partial) };
      this.#db.prepare(
        `INSERT INTO ops_audit (seq, run_id, ts, kind, actor, step, data, prev_hash, hash, once_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.seq,
        entry.runId,
        entry.ts,
        entry.kind,
        entry.actor,
        entry.step,
        JSON.stringify(entry.data),
        entry.prevHash,
        entry.hash,
        input.once ?? null,
      );
      return entry;
    });
  }

  /** Whether an entry with this deduplication key has been written. */
  has(once: string): boolean {
    return this.#db.prepare("SELECT 1 FROM ops_audit WHERE once_key = ?").get(once) !== undefined;
  }

  /** Entries of a run and its sub-runs (`id` and `id:*`), in order; all entries without an id. */
  list(runId?: string, afterSeq = 0): AuditEntry[] {
    const rows = runId === undefined
      ? this.#db.prepare("SELECT * FROM ops_audit WHERE seq > ? ORDER BY seq").all(afterSeq)
      : this.#db.prepare(
        `SELECT * FROM ops_audit WHERE seq > ? AND (run_id = ? OR substr(run_id, 1, ?) = ?)
         ORDER BY seq`,
      ).all(afterSeq, runId, runId.length + 1, `${runId}:`);
    return rows.map(toEntry);
  }

  /** Walks the whole chain and reports the first entry whose hash or link does not match. */
  verify(): VerifyReport {
    let prev = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    for (const row of this.#db.prepare("SELECT * FROM ops_audit ORDER BY seq").iterate()) {
      let e: AuditEntry;
      try {
        e = toEntry(row);
      } catch {
        return bad(count, Number(row.seq), "its data is not valid JSON");
      }
      count++;
      if (e.seq !== expectedSeq) {
        return bad(count, e.seq, `entry ${expectedSeq} is missing`);
      }
      if (e.prevHash !== prev) return bad(count, e.seq, "it does not link to the previous entry");
      const { hash: _h, prevHash: _p, ...body } = e;
      if (entryHash(prev, body) !== e.hash) {
        return bad(count, e.seq, "its content does not match its hash (edited)");
      }
      prev = e.hash;
      expectedSeq++;
    }
    return { ok: true, entries: count };
  }
}

function bad(entries: number, seq: number, reason: string): VerifyReport {
  return { ok: false, entries, firstBad: { seq, reason } };
}

function toEntry(row: Record<string, unknown>): AuditEntry {
  return {
    seq: Number(row.seq),
    runId: String(row.run_id),
    ts: String(row.ts),
    kind: String(row.kind) as AuditKind,
    actor: String(row.actor),
    step: row.step === null ? null : String(row.step),
    data: JSON.parse(String(row.data)),
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}

/** Formats entries as JSON Lines (one entry per line). */
export function toJsonLines(entries: AuditEntry[]): string {
  return entries.map((e) => JSON.stringify(e)).join("\n") + (entries.length ? "\n" : "");
}

/** A one-line human summary of an entry's data. */
export function summarize(e: AuditEntry): string {
  const d = e.data as Record<string, unknown>;
  const argv = Array.isArray(d.argv) ? (d.argv as string[]).join(" ") : undefined;
  switch (e.kind) {
    case "command.started":
      return `${argv} (attempt ${d.attempt}, ${d.executor})`;
    case "command.finished":
      return `${argv} → exit ${d.exitCode ?? "-"}${
        d.timedOut ? " (timed out)" : ""
      } in ${d.durationMs} ms, output sha256:${String(d.outputHash).slice(0, 12)}`;
    case "command.refused":
      return `${argv} refused by ${d.by}: ${d.reason}`;
    case "verification":
      return `${d.verdict}${d.reason ? `: ${d.reason}` : ""}`;
    case "approval.granted":
    case "approval.denied":
    case "approval.refused":
      return `${d.by}${d.via ? ` via ${d.via}` : ""}${d.comment ? `: ${d.comment}` : ""}${
        d.reason ? ` (${d.reason})` : ""
      }`;
    case "approval.requested":
      return `needs one of: ${(d.approvers as string[] | undefined)?.join(", ")}`;
    case "run.started":
      return `${d.mode}${d.runbook ? ` ${d.runbook}` : ""}${
        d.incident ? ` "${d.incident}"` : ""
      }, ${d.executor} executor`;
    case "run.completed":
    case "run.failed":
      return String(d.outcome);
    case "step.failed":
    case "step.retry":
      return `attempt ${d.attempt}: ${d.reason}`;
    case "plan":
      return `${d.name}: ${(d.steps as unknown[] | undefined)?.length ?? 0} steps (${d.source})`;
    default:
      return Object.keys(d).length ? canonicalJson(d).slice(0, 120) : "";
  }
}

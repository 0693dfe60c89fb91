/**
 * The audit trail: an append-only table of every plan, command, approval, denial, refusal and
 * verification. Each entry's hash is an HMAC-SHA256 (under the audit key, kept outside both
 * databases) of the previous entry's hash and the entry itself, so editing, inserting or
 * deleting a row breaks the chain and `audit --verify` finds the first bad row; and after each
 * entry the chain head is anchored in the runner's database, so cutting the newest entries or
 * re-chaining the file is found too (see `audit_verify.ts`). Triggers refuse UPDATE and DELETE;
 * the chain catches whoever drops them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import type { AuditAnchor } from "./audit_anchor.ts";
import { type AuditKey, AuditKeyError } from "./audit_key.ts";
import { LEGACY_FORMAT, OPS_FORMAT, OpsDbError } from "./ops_db.ts";
import type { PlannerUsage } from "./plan.ts";

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

/** The text an entry's hash covers: its predecessor's hash and its canonical JSON. */
export function hashedText(prevHash: string, e: Omit<AuditEntry, "hash" | "prevHash">): string {
  const body = canonicalJson({
    seq: e.seq,
    runId: e.runId,
    ts: e.ts,
    kind: e.kind,
    actor: e.actor,
    step: e.step,
    data: e.data,
  });
  return `${prevHash}\n${body}`;
}

/** The hash of an entry given its predecessor's hash: HMAC-SHA256 under the audit key. */
export async function entryHash(
  key: AuditKey,
  prevHash: string,
  e: Omit<AuditEntry, "hash" | "prevHash">,
): Promise<string> {
  return await key.sign(hashedText(prevHash, e));
}

/**
 * The hash of an entry of a legacy trail (format `loom-ops/1`, before the keyed chain): a plain
 * sha256 (hex) of the same text, as loom-ops wrote it then. Anyone can recompute it.
 */
export function legacyEntryHash(
  prevHash: string,
  e: Omit<AuditEntry, "hash" | "prevHash">,
): string {
  return createHash("sha256").update(hashedText(prevHash, e)).digest("hex");
}

/** What {@link AuditLog} needs besides its database. */
export interface AuditLogOptions {
  /**
   * Loads the audit key on the first append; `create` is true only while the trail has no
   * entries signed yet (a trail that has some is never given a new key). Undefined: no key.
   */
  key: (options: { create: boolean }) => Promise<AuditKey | undefined>;
  /** Where the key is, for messages. */
  keyPath?: string;
  /** Where the chain head is anchored after each entry (the runner's database). */
  anchor?: AuditAnchor;
}

/** Append-only, keyed hash chain of audit entries in the ops database. */
export class AuditLog {
  readonly #db: DatabaseSync;
  readonly #options: AuditLogOptions;
  #key: Promise<AuditKey> | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(db: DatabaseSync, options: AuditLogOptions) {
    this.#db = db;
    this.#options = options;
  }

  /**
   * Appends one entry and anchors the new chain head. Returns the existing entry when `once`
   * names one already written. Appends of this process run one at a time; another process's
   * append in between is noticed at commit time and the entry is chained again.
   *
   * @throws {AuditKeyError} When the key cannot be loaded or is not the one the trail uses.
   */
  append(input: AuditInput): Promise<AuditEntry> {
    const next = this.#tail.then(() => this.#append(input));
    this.#tail = next.catch(() => {});
    return next;
  }

  async #append(input: AuditInput): Promise<AuditEntry> {
    const key = await this.#keyForTrail();
    for (;;) {
      if (input.once !== undefined) {
        const prior = this.#prior(input.once);
        if (prior) return prior;
      }
      const head = this.#head();
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
      const entry: AuditEntry = {
        ...partial,
        prevHash,
        hash: await entryHash(key, prevHash, partial),
      };
      const written = this.#insert(entry, input.once, head?.seq ?? 0, key);
      if (written === "moved") continue; // another process appended meanwhile: chain again
      if (written !== entry) return written;
      await this.#options.anchor?.record({ count: entry.seq, hash: entry.hash, keyId: key.id });
      return entry;
    }
  }

  /**
   * Inserts `entry` in one IMMEDIATE transaction if the chain head is still `headSeq`; returns
   * the entry, the prior entry of the same `once` key, or `moved` when the head has moved.
   */
  #insert(entry: AuditEntry, once: string | undefined, headSeq: number, key: AuditKey) {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const prior = once === undefined ? undefined : this.#prior(once);
      const now = this.#head()?.seq ?? 0;
      if (prior || now !== headSeq) {
        this.#db.exec("ROLLBACK");
        return prior ?? "moved" as const;
      }
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
        once ?? null,
      );
      this.#db.prepare("INSERT OR IGNORE INTO ops_meta (key, value) VALUES ('key_id', ?)")
        .run(key.id);
      this.#db.exec("COMMIT");
      return entry;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  #prior(once: string): AuditEntry | undefined {
    const row = this.#db.prepare("SELECT * FROM ops_audit WHERE once_key = ?").get(once);
    return row ? toEntry(row) : undefined;
  }

  #head(): { seq: number; hash: string } | undefined {
    return this.#db.prepare("SELECT seq, hash FROM ops_audit ORDER BY seq DESC LIMIT 1")
      .get() as { seq: number; hash: string } | undefined;
  }

  /**
   * Loads the key (creating it on first use) and checks it against the trail, as the first
   * append would: so a command can refuse a wrong key before it says or starts anything.
   *
   * @throws {AuditKeyError} When the key is unusable or not the one the trail was signed with.
   */
  async ready(): Promise<void> {
    await this.#keyForTrail();
  }

  /** The key, checked once against the trail: its format, and the key its entries were signed with. */
  #keyForTrail(): Promise<AuditKey> {
    this.#key ??= (async () => {
      const meta = (k: string) =>
        (this.#db.prepare("SELECT value FROM ops_meta WHERE key = ?").get(k) as
          | { value: string }
          | undefined)?.value;
      // Before any key is read or created: a trail this version does not write is refused.
      const format = meta("format");
      if (format !== OPS_FORMAT) throw new OpsDbError(notAppendable(format));
      const id = meta("key_id");
      const key = await this.#options.key({ create: id === undefined });
      if (!key) {
        throw new AuditKeyError(
          `there is no audit key at ${
            this.#options.keyPath ?? "the configured path"
          }, and the audit trail was signed with key id ${id}; pass the key it was written with (--audit-key or LOOM_OPS_AUDIT_KEY)`,
        );
      }
      if (id !== undefined && id !== key.id) {
        throw new AuditKeyError(
          `the audit trail was signed with another audit key (id ${id}) than ${key.path} (id ${key.id}); pass the key it was written with (--audit-key or LOOM_OPS_AUDIT_KEY)`,
        );
      }
      return key;
    })();
    this.#key.catch(() => (this.#key = undefined));
    return this.#key;
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
}

/** Why a trail of another format is not appended to, in one sentence saying what to do. */
function notAppendable(format: string | undefined): string {
  if (format === LEGACY_FORMAT) {
    return `this audit trail was written by loom-ops before the keyed hash chain (${LEGACY_FORMAT}) and cannot be appended to; start a new database with --db NEW.sqlite (audit and audit --verify still read this one)`;
  }
  return `this audit trail has the format ${format}, which this loom-ops does not write (it writes ${OPS_FORMAT}); use the loom-ops that wrote it, or start a new database with --db NEW.sqlite`;
}

/** An entry from its row; throws when its data is not valid JSON. */
export function toEntry(row: Record<string, unknown>): AuditEntry {
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

/** An LLM plan's tokens for a summary: counts, or "tokens unknown" when the server sent none. */
function usageText(usage: PlannerUsage | undefined): string {
  if (!usage) return "";
  const t = usage.tokens;
  return t
    ? `; ${t.promptTokens} prompt + ${t.completionTokens} completion tokens`
    : "; tokens unknown";
}

/** A one-line human summary of an entry's data. */
export function summarize(e: AuditEntry): string {
  const d = e.data as Record<string, unknown>;
  const argv = Array.isArray(d.argv) ? (d.argv as string[]).join(" ") : undefined;
  switch (e.kind) {
    case "command.started": {
      const os = (d.sandbox as { os?: string } | undefined)?.os;
      const where = os === "bubblewrap"
        ? " in bubblewrap"
        : os === "none"
        ? " without OS sandbox"
        : "";
      return `${argv} (attempt ${d.attempt}, ${d.executor}${where})`;
    }
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
    case "run.started": {
      const os = d.osSandbox === "bwrap"
        ? " in bubblewrap"
        : d.osSandbox === "none"
        ? " WITHOUT the OS sandbox (--no-os-sandbox)"
        : "";
      return `${d.mode}${d.runbook ? ` ${d.runbook}` : ""}${
        d.incident ? ` "${d.incident}"` : ""
      }, ${d.executor} executor${os}`;
    }
    case "run.completed":
    case "run.failed":
      return String(d.outcome);
    case "step.failed":
    case "step.retry":
      return `attempt ${d.attempt}: ${d.reason}`;
    case "plan":
      return `${d.name}: ${(d.steps as unknown[] | undefined)?.length ?? 0} steps (${d.source}${
        usageText(d.usage as PlannerUsage | undefined)
      })`;
    default:
      return Object.keys(d).length ? canonicalJson(d).slice(0, 120) : "";
  }
}

/**
 * `audit --verify`: checks the audit trail against its key and against what the runner's
 * database knows, without writing anything (the ops file is opened read-only, never created).
 *
 * It finds: an edited, inserted, reordered or deleted entry (its HMAC or its link breaks; the
 * HMAC key is outside both databases, so the chain cannot be recomputed without it); newest
 * entries cut off (the runner's database anchors a longer chain); a chain rewritten even with
 * the key (the anchors' hashes no longer match); a dropped table or deleted file (anchors, or
 * runs the runner knows, with no entries); and a trail signed with another key. A legacy trail
 * (written before the keyed chain) is verified as the plain sha256 chain it is, and the report
 * says what that does not prove ({@link LEGACY_GUARANTEE}).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { Store } from "@loom/runner";
import { type AuditEntry, entryHash, GENESIS_HASH, legacyEntryHash, toEntry } from "./audit.ts";
import { type AuditHead, storeAnchor } from "./audit_anchor.ts";
import type { AuditKey } from "./audit_key.ts";
import { LEGACY_FORMAT, OPS_FORMAT } from "./ops_db.ts";

/** The result of {@link verifyAudit}. */
export interface VerifyReport {
  /** Whether everything checked out. */
  ok: boolean;
  /** Entries whose hash and link were checked. */
  entries: number;
  /** The longest chain the runner's database anchors (0: none). */
  anchored: number;
  /** Top-level runs the runner's database knows, each of which must have entries. */
  runs: number;
  /** The first entry that does not verify, and why. */
  firstBad?: { seq: number; reason: string };
  /** What is wrong when it is not one entry: entries cut off, a missing file, a run without entries. */
  problem?: string;
  /**
   * Set when the trail is a legacy one, written before the keyed chain (`loom-ops/1`): it was
   * checked as a plain sha256 chain, which proves less (see {@link LEGACY_GUARANTEE}).
   */
  legacy?: LegacyGuarantee;
}

/** What verifying a legacy (unkeyed) trail proves and does not prove. */
export interface LegacyGuarantee {
  /** The trail's format (`loom-ops/1`). */
  format: string;
  /** What an intact legacy chain shows. */
  proves: string;
  /** What it cannot show. */
  doesNotProve: string;
}

/** What verifying a legacy trail (`loom-ops/1`, a plain sha256 chain, no key, no anchors) means. */
export const LEGACY_GUARANTEE: LegacyGuarantee = {
  format: LEGACY_FORMAT,
  proves:
    "every entry links to the one before it and matches its hash, so none was changed by accident or edited without recomputing the chain, and every loom-ops run the runner database knows has entries",
  doesNotProve:
    "that nobody rewrote the trail (without a key, anyone who can write the file can recompute the whole chain) or that the newest entries are all there (nothing anchors them in the runner database)",
};

/** What {@link verifyAudit} reads. */
export interface VerifyOptions {
  /** The ops file (`<db>.ops`). */
  opsPath: string;
  /** The runner's store. */
  store: Store;
  /** The audit key, or undefined when there is no key file (it is never created here). */
  key: AuditKey | undefined;
  /** Where the key was looked for, for messages. */
  keyPath: string;
}

/** Agent names of loom-ops runs. */
const SUPERVISOR = "ops-supervisor";
const SUB_AGENTS = new Set(["ops-planner", "ops-executor", "ops-verifier"]);

/** Checks the audit trail; reads the ops file, the key and the runner's store, writes nothing. */
export async function verifyAudit(o: VerifyOptions): Promise<VerifyReport> {
  const heads = await storeAnchor(o.store).heads();
  const anchored = Math.max(0, ...heads.map((h) => h.count));
  const runs = await opsRuns(o.store);
  const report: VerifyReport = { ok: true, entries: 0, anchored, runs: runs.roots.length };
  const fail = (problem: string) => ({ ...report, ok: false, problem });
  const known = () =>
    `the runner database anchors ${anchored} entries and knows ${runs.roots.length} loom-ops runs`;

  const db = openReadOnly(o.opsPath);
  if (!db) {
    return anchored || runs.roots.length
      ? fail(`the audit file ${o.opsPath} is missing, but ${known()}`)
      : report;
  }
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      .map((r) => String(r.name));
    if (!tables.includes("ops_audit")) {
      return fail(`the audit table of ${o.opsPath} is missing (dropped), but ${known()}`);
    }
    const meta = (k: string) =>
      (db.prepare("SELECT value FROM ops_meta WHERE key = ?").get(k) as
        | { value: string }
        | undefined)
        ?.value;
    const count = Number(
      (db.prepare("SELECT count(*) AS n FROM ops_audit").get() as { n: number }).n,
    );
    const format = meta("format");
    if (count > 0 && format === LEGACY_FORMAT) {
      return await verifyLegacy(db, meta("key_id"), heads, runs, report);
    }
    if (count > 0 && format !== OPS_FORMAT) {
      return fail(
        `the audit trail has the format ${format}, which this loom-ops cannot verify (it knows ${OPS_FORMAT} and ${LEGACY_FORMAT})`,
      );
    }
    if (count > 0 && !o.key) {
      return fail(
        `there is no audit key at ${o.keyPath}; verify needs the key the trail was written with (--audit-key or LOOM_OPS_AUDIT_KEY)`,
      );
    }
    const keyId = meta("key_id");
    if (o.key && keyId !== undefined && keyId !== o.key.id) {
      return fail(
        `the audit trail was signed with another audit key (id ${keyId}) than ${o.key.path} (id ${o.key.id})`,
      );
    }
    const key = o.key;
    const chain = await walk(db, key && ((prev, body) => entryHash(key, prev, body)));
    report.entries = chain.entries;
    if (chain.firstBad) return { ...report, ok: false, firstBad: chain.firstBad };
    const anchorProblem = checkAnchors(heads, chain.hashes, o.key);
    if (anchorProblem) return fail(anchorProblem);
    const missing = runWithoutEntries(runs, chain.runIds);
    if (missing) return fail(missing);
    return report;
  } finally {
    db.close();
  }
}

/**
 * Verifies a legacy trail (`loom-ops/1`): its plain sha256 chain and that every loom-ops run has
 * entries. Such a trail never had a key or anchors; a file that says it is legacy but has either
 * is a keyed trail rewritten as an unkeyed one (which anyone could recompute), and fails.
 */
async function verifyLegacy(
  db: DatabaseSync,
  keyId: string | undefined,
  heads: AuditHead[],
  runs: { roots: string[]; finishedSubRuns: string[] },
  report: VerifyReport,
): Promise<VerifyReport> {
  const legacy = { ...report, legacy: LEGACY_GUARANTEE };
  if (heads.length || keyId !== undefined) {
    const evidence = heads.length
      ? `the runner database anchors ${report.anchored} entries of a keyed chain`
      : `it records the audit key id ${keyId}`;
    return {
      ...legacy,
      ok: false,
      problem:
        `the audit file says it is a legacy unkeyed trail (${LEGACY_FORMAT}), but ${evidence}: a keyed trail was rewritten as an unkeyed one`,
    };
  }
  const chain = await walk(db, (prev, body) => Promise.resolve(legacyEntryHash(prev, body)));
  legacy.entries = chain.entries;
  if (chain.firstBad) return { ...legacy, ok: false, firstBad: chain.firstBad };
  const missing = runWithoutEntries(runs, chain.runIds);
  if (missing) return { ...legacy, ok: false, problem: missing };
  return legacy;
}

/** The problem when a loom-ops run of the runner database has no audit entry, if one has none. */
function runWithoutEntries(
  runs: { roots: string[]; finishedSubRuns: string[] },
  runIds: Set<string>,
): string | undefined {
  const missing = runs.roots.find((id) => !runIds.has(id)) ??
    runs.finishedSubRuns.find((id) => !runIds.has(id));
  return missing && `run ${missing} is in the runner database but has no audit entries`;
}

/** Opens the ops file read-only, or undefined when it does not exist. */
function openReadOnly(path: string): DatabaseSync | undefined {
  try {
    Deno.statSync(path);
  } catch {
    return undefined;
  }
  return new DatabaseSync(path, { readOnly: true });
}

/** How an entry's hash is computed: keyed (HMAC) or, for a legacy trail, plain sha256. */
type HashOf = (prevHash: string, body: Omit<AuditEntry, "hash" | "prevHash">) => Promise<string>;

/**
 * Walks the chain: gap-free sequence, links and hashes (`hashOf`; undefined: no key, so no entry
 * verifies); collects hashes and run ids.
 */
async function walk(db: DatabaseSync, hashOf: HashOf | undefined): Promise<{
  entries: number;
  hashes: string[];
  runIds: Set<string>;
  firstBad?: { seq: number; reason: string };
}> {
  const hashes: string[] = [];
  const runIds = new Set<string>();
  let prev = GENESIS_HASH;
  let expected = 1;
  const bad = (seq: number, reason: string) => ({
    entries: hashes.length,
    hashes,
    runIds,
    firstBad: { seq, reason },
  });
  for (const row of db.prepare("SELECT * FROM ops_audit ORDER BY seq").all()) {
    let e: AuditEntry;
    try {
      e = toEntry(row);
    } catch {
      return bad(Number(row.seq), "its data is not valid JSON");
    }
    if (e.seq !== expected) return bad(e.seq, `entry ${expected} is missing`);
    if (e.prevHash !== prev) return bad(e.seq, "it does not link to the previous entry");
    const { hash: _h, prevHash: _p, ...body } = e;
    if (!hashOf || await hashOf(prev, body) !== e.hash) {
      return bad(e.seq, "its content does not match its hash (edited)");
    }
    hashes.push(e.hash);
    runIds.add(e.runId);
    prev = e.hash;
    expected++;
  }
  return { entries: hashes.length, hashes, runIds };
}

/** Compares every anchor with the chain; returns what does not match. */
function checkAnchors(
  heads: AuditHead[],
  hashes: string[],
  key: AuditKey | undefined,
): string | undefined {
  for (const h of heads) {
    if (key && h.keyId !== key.id) {
      return `the runner database anchors entry ${h.count} signed with another audit key (id ${h.keyId})`;
    }
    if (h.count > hashes.length) {
      const max = Math.max(...heads.map((x) => x.count));
      return `the newest entries were removed: the runner database anchors ${max} entries, the audit file has ${hashes.length}`;
    }
    if (hashes[h.count - 1] !== h.hash) {
      return `entry ${h.count} does not match its anchor in the runner database (the chain was rewritten)`;
    }
  }
  return undefined;
}

/** The loom-ops runs of the store: top-level runs, and sub-runs that completed. */
async function opsRuns(store: Store): Promise<{ roots: string[]; finishedSubRuns: string[] }> {
  const roots: string[] = [];
  const finishedSubRuns: string[] = [];
  const page = 500;
  for (let offset = 0;; offset += page) {
    const runs = await store.listRuns({ limit: page, offset });
    for (const r of runs) {
      if (r.agentName === SUPERVISOR) roots.push(r.runId);
      // A sub-run writes its first entry in its first step: one that completed wrote it.
      else if (SUB_AGENTS.has(r.agentName) && r.status === "completed") {
        finishedSubRuns.push(r.runId);
      }
    }
    if (runs.length < page) return { roots, finishedSubRuns };
  }
}

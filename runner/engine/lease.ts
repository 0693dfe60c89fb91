/**
 * Leases: who may advance a run. Owners are `host:pid:token`; a lease is live while it has not
 * expired and its owner's process is not certainly gone (a process on this host that no longer
 * exists, e.g. SIGKILLed, is replaced at once). These rules are the engine's: the store only
 * stores the lease and swaps it with a compare-and-set (`Store.takeLease`).
 *
 * @module
 */
import type { RunRecord, Store } from "../store/store.ts";

/** Result of taking a run's lease: taken (from whom), or held by a live owner. */
export type LeaseResult =
  | { ok: true; previousOwner: string | null; tookOver: boolean }
  | { ok: false; owner: string; expires: number };

/** Default lease time-to-live; renewed every third of it while a run advances. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

let host: string | undefined;
function hostname(): string {
  if (host === undefined) {
    try {
      host = Deno.hostname();
    } catch {
      host = "unknown-host";
    }
  }
  return host;
}

/** A fresh owner id for one run invocation in this process. */
export function newOwnerId(): string {
  const token = crypto.getRandomValues(new Uint32Array(2));
  return `${hostname()}:${Deno.pid}:${token[0].toString(36)}${token[1].toString(36)}`;
}

/** Parses an owner id. */
export function parseOwner(owner: string): { host: string; pid: number } | undefined {
  const m = /^(.*):(\d+):[a-z0-9]+$/.exec(owner);
  return m ? { host: m[1], pid: Number(m[2]) } : undefined;
}

/**
 * True when a live process with that pid exists on this machine (Linux `/proc`); undefined if
 * unknown. A zombie (killed, not yet reaped by its parent) counts as gone: right after a SIGKILL
 * the pid lingers in `/proc` until the parent waits for it, and a resume must not wait for that.
 */
export function processExists(pid: number): boolean | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    return undefined;
  }
  // "pid (comm) S ...": the state letter follows the last ")" (comm may contain spaces or ")").
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/**
 * True when the holder of a lease is certainly gone: same host and its pid no longer exists.
 * Owners on other hosts (or when /proc is unavailable) are only replaced after expiry.
 */
export function ownerIsGone(owner: string): boolean {
  const p = parseOwner(owner);
  if (!p || p.host !== hostname()) return false;
  if (p.pid === Deno.pid) return false;
  return processExists(p.pid) === false;
}

/**
 * True when a run's lease is held right now: it has an owner, has not expired, and the owner's
 * process is not certainly gone (`ownerIsGone`).
 */
export function leaseIsLive(
  run: Pick<RunRecord, "leaseOwner" | "leaseExpires">,
  now: number = Date.now(),
): boolean {
  return run.leaseOwner !== null && (run.leaseExpires ?? 0) > now && !ownerIsGone(run.leaseOwner);
}

/**
 * Takes the lease of `run`, as it was read, for `owner` until `ttlMs` from now, unless another
 * owner holds it live. The write is a compare-and-set on the lease and status that were read.
 *
 * @returns The lease result, or undefined when the run changed since it was read (another
 * process took the lease or changed the status first): read it again and decide again.
 */
export async function takeRunLease(
  store: Store,
  run: RunRecord,
  owner: string,
  ttlMs: number,
): Promise<LeaseResult | undefined> {
  const now = Date.now();
  const held = run.leaseOwner !== null && run.leaseOwner !== owner;
  if (held && leaseIsLive(run, now)) {
    return { ok: false, owner: run.leaseOwner!, expires: run.leaseExpires ?? 0 };
  }
  const expected = { owner: run.leaseOwner, expires: run.leaseExpires, status: run.status };
  if (!(await store.takeLease(run.runId, expected, owner, now + ttlMs))) return undefined;
  return { ok: true, previousOwner: run.leaseOwner, tookOver: held };
}

/** A lease being renewed in the background; `stop()` ends the renewals. */
export interface LeaseKeeper {
  /** Stops renewing. */
  stop(): void;
}

/**
 * Renews `owner`'s lease of a run every third of its time-to-live while an invocation advances
 * it. Calls `on.lost` when the lease is no longer ours, `on.cancelled` when the run was cancelled
 * meanwhile; a failed renewal (a busy database) is tried again at the next tick. The timer does
 * not keep the process alive.
 */
export function keepLease(
  store: Store,
  runId: string,
  owner: string,
  ttlMs: number,
  on: { lost(): void; cancelled(): void },
): LeaseKeeper {
  const timer = setInterval(async () => {
    try {
      const status = await store.renewLease(runId, owner, ttlMs);
      if (status === null) on.lost();
      else if (status === "cancelled") on.cancelled();
    } catch { /* a busy database: try again next tick */ }
  }, Math.max(50, Math.floor(ttlMs / 3)));
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}

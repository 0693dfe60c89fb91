/**
 * Leases: who may advance a run. Owners are `host:pid:token`; a lease is live while it has not
 * expired and its owner's process is not certainly gone. On a SQLite file the owner holds an OS
 * file lock beside the database for as long as it lives (`owner_lock.ts`), so a SIGKILLed owner
 * is replaced at once with nothing but read/write permission on the database's directory; with
 * full permissions (`-A`) a process of this host that no longer exists in `/proc` is replaced at
 * once too. Anything else (another host, PostgreSQL without `/proc`) waits for the lease expiry.
 * These rules are the engine's: the store only stores the lease and swaps it with a
 * compare-and-set (`Store.takeLease`).
 *
 * @module
 */
import type { RunRecord, Store } from "../store/store.ts";
import { SqliteStore } from "../store/sqlite.ts";
import {
  checkOwnerLock,
  holdOwnerLock,
  ownerLockDir,
  type OwnerLockHold,
  parentDir,
} from "./owner_lock.ts";

/** Result of taking a run's lease: taken (from whom), or held by a live owner. */
export type LeaseResult =
  | {
    ok: true;
    previousOwner: string | null;
    tookOver: boolean;
    /** True when taken over before expiry because the owner's process was seen gone. */
    ownerGone?: boolean;
  }
  | {
    ok: false;
    owner: string;
    expires: number;
    /** Why the owner's liveness could not be checked (one clause), when it could not. */
    unchecked?: string;
  };

/** Default lease time-to-live; renewed every third of it while a run advances. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

function allowed(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

let host: string | undefined;
let hostKnown = false;
/**
 * This host's name for owner ids, without a permission prompt: `Deno.hostname()` when
 * `--allow-sys=hostname` is granted, else `$HOSTNAME` when `--allow-env=HOSTNAME` is, else
 * `unknown-host` (an owner named so is never judged by `/proc`).
 */
function hostname(): string {
  if (host === undefined) {
    host = "unknown-host";
    try {
      if (allowed({ name: "sys", kind: "hostname" })) {
        host = Deno.hostname();
        hostKnown = true;
      } else if (allowed({ name: "env", variable: "HOSTNAME" })) {
        host = Deno.env.get("HOSTNAME") || host;
      }
    } catch { /* unknown-host */ }
  }
  return host;
}

/**
 * A fresh owner id for one run invocation in this process. `lockToken` (from `holdOwnerLock`)
 * names this process's owner lock file, so other processes can check that it is alive.
 */
export function newOwnerId(lockToken?: string): string {
  const token = crypto.getRandomValues(new Uint32Array(2));
  const own = `${token[0].toString(36)}${token[1].toString(36)}`;
  return `${hostname()}:${Deno.pid}:${lockToken ? `${lockToken}_${own}` : own}`;
}

/** Parses an owner id; `lockToken` names the owner's lock file when it holds one. */
export function parseOwner(
  owner: string,
): { host: string; pid: number; lockToken?: string } | undefined {
  const m = /^(.*):(\d+):(?:([a-z0-9]+)_)?[a-z0-9]+$/.exec(owner);
  if (!m) return undefined;
  return m[3]
    ? { host: m[1], pid: Number(m[2]), lockToken: m[3] }
    : { host: m[1], pid: Number(m[2]) };
}

/**
 * True when a live process with that pid exists on this machine (Linux `/proc`); undefined if
 * unknown. A zombie (killed, not yet reaped by its parent) counts as gone: right after a SIGKILL
 * the pid lingers in `/proc` until the parent waits for it, and a resume must not wait for that.
 * Deno reads `/proc/<pid>/stat` only with `--allow-all`; without it the answer is undefined (no
 * permission prompt).
 */
export function processExists(pid: number): boolean | undefined {
  if (!procReadable()) return undefined;
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

const ALL = ["read", "write", "net", "env", "sys", "run", "ffi"] as const;
let procOk: boolean | undefined;
/** Deno lets a program read another process's `/proc` entries only with every permission. */
function procReadable(): boolean {
  procOk ??= ALL.every((name) => allowed({ name }));
  return procOk;
}

const lockDirs = new WeakMap<Store, string | null>();
/** The owner lock directory of a store: SQLite files only (not `:memory:`, not PostgreSQL). */
export function ownerLockDirOf(store: Store): string | undefined {
  let dir = lockDirs.get(store);
  if (dir === undefined) {
    const file = store instanceof SqliteStore && store.location !== ":memory:" &&
      store.location !== "";
    dir = file ? ownerLockDir(store.location) : null;
    lockDirs.set(store, dir);
  }
  return dir ?? undefined;
}

/**
 * Holds this process's owner lock for the store (SQLite files; nothing to hold elsewhere) while
 * an invocation advances a run: pass its `token` to `newOwnerId`, release it when done.
 */
export function holdOwnerLockFor(store: Store): OwnerLockHold {
  const dir = ownerLockDirOf(store);
  return dir ? holdOwnerLock(dir) : { token: undefined, problem: undefined, release() {} };
}

/** What can be said about a lease owner's process: alive, gone, or unknown (and why). */
export type OwnerLiveness =
  | { state: "alive" }
  | { state: "gone" }
  | { state: "unknown"; reason: string };

/**
 * Whether the process behind a lease owner id is alive. On a SQLite file (`store` given) an
 * owner that holds an owner lock is judged by it, on any host; otherwise an owner of this host
 * is judged by `/proc` when Deno may read it (`--allow-all`). The reason of an `unknown` answer
 * says which permission or flag would allow the check.
 */
export function ownerLiveness(owner: string, store?: Store): OwnerLiveness {
  const p = parseOwner(owner);
  if (!p) return { state: "unknown", reason: `${owner} is not an owner id of this runner` };
  const dir = store ? ownerLockDirOf(store) : undefined;
  let lockReason: string | undefined;
  if (dir && p.lockToken) {
    const lock = checkOwnerLock(dir, p.pid, p.lockToken);
    if (lock.state !== "unknown") return lock;
    lockReason = lock.reason;
  }
  const here = hostname(); // sets hostKnown
  if (p.pid === Deno.pid && p.host === here) return { state: "alive" }; // ourselves
  if (hostKnown && p.host === here) {
    const exists = processExists(p.pid);
    if (exists !== undefined) return { state: exists ? "alive" : "gone" };
  }
  if (lockReason) return { state: "unknown", reason: lockReason };
  if (dir) {
    return {
      state: "unknown",
      reason: `it holds no owner lock in ${dir} (a process needs --allow-write=${
        parentDir(dir)
      } to hold one)`,
    };
  }
  if (hostKnown && p.host !== here) {
    return { state: "unknown", reason: `it runs on host ${p.host}` };
  }
  // Without --allow-all this process may not know its host name either (no --allow-sys).
  return {
    state: "unknown",
    reason: `that needs /proc/${p.pid} of its host, which Deno reads only with --allow-all`,
  };
}

/**
 * True when the holder of a lease is certainly gone (see `ownerLiveness`). Owners on other
 * hosts, or whose liveness cannot be checked, are only replaced after expiry.
 */
export function ownerIsGone(owner: string, store?: Store): boolean {
  return ownerLiveness(owner, store).state === "gone";
}

/**
 * True when a run's lease is held right now: it has an owner, has not expired, and the owner's
 * process is not certainly gone (`ownerIsGone`; pass the run's `store` so that owner locks of a
 * SQLite file are checked).
 */
export function leaseIsLive(
  run: Pick<RunRecord, "leaseOwner" | "leaseExpires">,
  now: number = Date.now(),
  store?: Store,
): boolean {
  return run.leaseOwner !== null && (run.leaseExpires ?? 0) > now &&
    !ownerIsGone(run.leaseOwner, store);
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
  const unexpired = held && (run.leaseExpires ?? 0) > now;
  if (unexpired) {
    const liveness = ownerLiveness(run.leaseOwner!, store);
    if (liveness.state !== "gone") {
      const refused = {
        ok: false as const,
        owner: run.leaseOwner!,
        expires: run.leaseExpires ?? 0,
      };
      return liveness.state === "unknown" ? { ...refused, unchecked: liveness.reason } : refused;
    }
  }
  const expected = { owner: run.leaseOwner, expires: run.leaseExpires, status: run.status };
  if (!(await store.takeLease(run.runId, expected, owner, now + ttlMs))) return undefined;
  return { ok: true, previousOwner: run.leaseOwner, tookOver: held, ownerGone: unexpired };
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

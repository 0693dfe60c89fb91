/**
 * Lease owners: `host:pid:token`, and the check that lets a resume take over at once from a
 * process on this host that is gone (e.g. SIGKILLed).
 *
 * @module
 */

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

/**
 * Owner locks: how a process that advances runs of a SQLite database shows, for as long as it
 * lives, that it is alive. While it advances at least one run of the database it holds an
 * exclusive OS file lock (`flock`, `Deno.FsFile.tryLockSync`) on its own file in `<db>-owners/`
 * beside the database; the kernel drops the lock the moment the process dies (SIGKILL included),
 * so another process that finds the file unlocked, or gone, knows the owner is gone at once.
 * This needs read and write permission on the database's directory only: no `/proc`, no
 * `--allow-sys`, no `--allow-all`.
 *
 * "This host" is whoever shares the database's lock table: a SQLite database in WAL mode can only
 * be used by processes of one host (SQLite's own rule: the WAL index is shared memory), and the
 * lock files sit beside it, so their locks are authoritative whatever host name an owner id
 * carries (containers sharing the directory on one kernel included). Owners of other stores
 * (PostgreSQL) have no lock file; their lease expiry stays the rule.
 *
 * Cost: one file per process and database, created once and removed when the process exits (a
 * killed process's file is removed by the next process that checks or sweeps it); each
 * invocation that finds no other invocation of its process holding it opens and locks it again
 * (an open, a lock and two stats: tens of microseconds, not per step), and the first hold in a
 * directory lists it once to remove the files of dead owners.
 *
 * @module
 */

/** This process's owner lock file in one directory, shared by its invocations (counted). */
interface Registration {
  /** Random token naming the file; part of every owner id issued while it is held. */
  token: string;
  path: string;
  /** Open (and locked) while `count` > 0. */
  file: Deno.FsFile | undefined;
  count: number;
}

const registrations = new Map<string, Registration>();
const swept = new Set<string>();

/** A hold on this process's owner lock in one directory; release it when the invocation ends. */
export interface OwnerLockHold {
  /** Token of the lock file to put into owner ids, or undefined when no lock could be taken. */
  readonly token: string | undefined;
  /** Why no lock could be taken (one clause naming the permission), when `token` is undefined. */
  readonly problem: string | undefined;
  /** Gives the hold up; the last one unlocks the file (removed when the process exits). */
  release(): void;
}

/** What an owner lock says about its owner. */
export type OwnerLockState =
  | { state: "alive" }
  | { state: "gone" }
  | { state: "unknown"; reason: string };

/** The directory of a database's owner locks: `<db>-owners` beside the database file. */
export function ownerLockDir(dbPath: string): string {
  let path = dbPath;
  try {
    // Symlinks resolved, as SQLite does for its -wal file: every path to one file finds one dir.
    if (Deno.permissions.querySync({ name: "read", path: dbPath }).state === "granted") {
      path = Deno.realPathSync(dbPath);
    }
  } catch { /* not there yet, or not allowed: the path as given */ }
  return `${path}-owners`;
}

/** The directory holding `dir` (the database's directory), for permission hints. */
export function parentDir(dir: string): string {
  const i = dir.lastIndexOf("/");
  return i > 0 ? dir.slice(0, i) : i === 0 ? "/" : ".";
}

function granted(name: "read" | "write", path: string): boolean {
  try {
    return Deno.permissions.querySync({ name, path }).state === "granted";
  } catch {
    return false;
  }
}

function randomToken(): string {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  return a.toString(36) + b.toString(36);
}

function osProblem(e: unknown, dir: string): string {
  const name = (e as Error)?.name ?? "";
  if (name === "NotCapable") {
    return `this process may not write to ${dir} (run it with --allow-write=${parentDir(dir)})`;
  }
  if (name === "PermissionDenied" || name === "ReadOnly") {
    return `this user may not write to ${dir} (make ${parentDir(dir)} writable)`;
  }
  return `${dir} is unusable (${(e as Error)?.message ?? e})`;
}

/**
 * Holds this process's owner lock in `dir` (creating the directory and the file when needed):
 * the token returned goes into owner ids so that other processes find the file. When no lock can
 * be taken (no write permission), the hold says why and the run advances without one: other
 * processes then judge its owner by the lease expiry only.
 */
export function holdOwnerLock(dir: string): OwnerLockHold {
  let reg = registrations.get(dir);
  if (!reg?.file) {
    // Asked once per directory: a permission query costs as much as the lock itself.
    if (!reg && !granted("write", dir)) {
      const problem = `this process may not write to ${dir} (run it with --allow-write=${
        parentDir(dir)
      })`;
      return { token: undefined, problem, release() {} };
    }
    try {
      reg = lock(dir, reg);
    } catch (e) {
      return { token: undefined, problem: osProblem(e, dir), release() {} };
    }
  }
  reg!.count++;
  return hold(reg!);
}

function hold(reg: Registration): OwnerLockHold {
  let released = false;
  return {
    token: reg.token,
    problem: undefined,
    release() {
      if (released) return;
      released = true;
      if (--reg.count > 0) return;
      // Unlocked, not removed: the next invocation locks it again without creating a file (the
      // process's exit, or another process's sweep, removes it).
      reg.file?.close();
      reg.file = undefined;
    },
  };
}

/**
 * Opens and locks this process's file in `dir` (the same file as before when it is still
 * there), and checks that the locked file is the one at its path: a sweeper may have removed it
 * between the open and the lock. Sweeps `dir` the first time.
 */
function lock(dir: string, previous: Registration | undefined): Registration {
  let token = previous?.token ?? randomToken();
  for (let attempt = 0;; attempt++) {
    if (!swept.has(dir)) {
      Deno.mkdirSync(dir, { recursive: true });
      swept.add(dir);
      sweep(dir);
      removeAtExit();
    }
    const path = `${dir}/${Deno.pid}-${token}.lock`;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true, create: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || attempt >= 5) throw e;
      Deno.mkdirSync(dir, { recursive: true }); // removed by a process that exited: again
      continue;
    }
    if (file.tryLockSync(true) && sameFile(path, file)) {
      const reg: Registration = { token, path, file, count: 0 };
      registrations.set(dir, reg);
      return reg;
    }
    file.close();
    try {
      Deno.removeSync(path); // ours, never locked: nobody needs it
    } catch { /* removed by the checker that held it */ }
    if (attempt >= 5) throw new Error(`could not hold an owner lock in ${dir}`);
    token = randomToken(); // a checker had it, or removed it: a file of our own
  }
}

function sameFile(path: string, file: Deno.FsFile): boolean {
  try {
    return Deno.statSync(path).ino === file.statSync().ino;
  } catch {
    return false;
  }
}

let exitHook = false;
/** At exit, removes this process's files (and their directories when they are left empty). */
function removeAtExit(): void {
  if (exitHook) return;
  exitHook = true;
  globalThis.addEventListener("unload", () => {
    for (const [dir, reg] of registrations) {
      try {
        Deno.removeSync(reg.path);
        Deno.removeSync(dir); // only when empty: others' files keep it
      } catch { /* removed already, or not empty */ }
    }
  });
}

/** Removes the files of dead owners in `dir` (files it cannot judge are left alone). */
function sweep(dir: string): void {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".lock"))
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const name of names) checkFile(dir, `${dir}/${name}`);
}

/**
 * What the owner lock of the owner whose lock token is `token` (pid `pid`) says: `alive` while
 * its process holds the lock, `gone` when the file is unlocked (removed on the way when this
 * process may write there) or no longer exists, `unknown` with a reason naming the missing
 * permission when the directory cannot be read. Never blocks.
 */
export function checkOwnerLock(dir: string, pid: number, token: string): OwnerLockState {
  const mine = registrations.get(dir);
  if (mine?.file && mine.token === token && pid === Deno.pid) return { state: "alive" };
  return checkFile(dir, `${dir}/${pid}-${token}.lock`);
}

function checkFile(dir: string, path: string): OwnerLockState {
  if (!granted("read", dir)) {
    return {
      state: "unknown",
      reason: `this process may not read ${dir} (run it with --allow-read=${parentDir(dir)})`,
    };
  }
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { state: "gone" };
    return { state: "unknown", reason: `${path} cannot be read (${(e as Error).message})` };
  }
  try {
    // A shared lock is refused only while the owner holds its exclusive one; two processes
    // checking the same dead owner both see it gone (neither holds the other off).
    if (!file.tryLockSync(false)) return { state: "alive" };
    if (granted("write", dir) && file.tryLockSync(true) && sameFile(path, file)) {
      try {
        Deno.removeSync(path);
      } catch { /* removed by another checker */ }
    }
    return { state: "gone" };
  } catch (e) {
    return { state: "unknown", reason: `${path} cannot be locked (${(e as Error).message})` };
  } finally {
    file.close();
  }
}

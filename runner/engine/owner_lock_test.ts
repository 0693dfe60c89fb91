// Lease-owner liveness without /proc: real CLI subprocesses under least privilege
// (`--allow-read=DIR,<agent modules> --allow-write=DIR`), SIGKILLed at an exact step by the
// test-only crash hook, and resumed at once because the dead owner's file lock is free.
import assert from "node:assert/strict";
import { LiveProcesses } from "../_test_util.ts";
import { openStore } from "../store/sqlite.ts";
import { waitFor } from "../testing.ts";
import { checkOwnerLock, holdOwnerLock, ownerLockDir } from "./owner_lock.ts";
import { ownerLiveness, parseOwner } from "./lease.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const RUNNER = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const AGENT = new URL("../testdata/held_agent.ts", import.meta.url).pathname;

// Processes still running; a failing test kills them in its `finally` (no leaks).
const live = new LiveProcesses();

/**
 * The CLI with the least privilege it needs: read the database's directory and the agent's
 * modules (here the runner's own source, which `@loom/runner` resolves to), write the database's
 * directory; `--allow-env` only for the crash hook. `perms` replaces the read/write flags.
 */
function cli(
  args: string[],
  opts: { dir: string; crashAt?: string; perms?: string[] },
): Deno.ChildProcess {
  const perms = opts.perms ?? [`--allow-read=${opts.dir},${RUNNER}`, `--allow-write=${opts.dir}`];
  const env = opts.crashAt ? ["--allow-env=LOOM_TEST_CRASH_AFTER_STEP"] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...perms, ...env, CLI, ...args],
    env: opts.crashAt ? { LOOM_TEST_CRASH_AFTER_STEP: opts.crashAt } : {},
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  return child;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function peek<T>(db: string, fn: (s: ReturnType<typeof openStore>) => T): T {
  const s = openStore(db, { create: false });
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

function runArgs(db: string, runId: string, input: unknown): string[] {
  return ["run", AGENT, "--run-id", runId, "--db", db, "--input", JSON.stringify(input)];
}

function resumeArgs(db: string, runId: string): string[] {
  return ["resume", AGENT, "--run-id", runId, "--db", db];
}

/** Starts run `runId` and lets the crash hook SIGKILL its process right after step `step`. */
async function killedAfter(dir: string, db: string, runId: string, step: number): Promise<void> {
  const a = await live.finish(
    cli(runArgs(db, runId, { n: 5 }), { dir, crashAt: `${runId}:${step}` }),
  );
  assert.equal(a.signal, "SIGKILL", a.stderr);
  const run = peek(db, (s) => s.getRun(runId)!);
  assert.equal(run.status, "running");
  assert.ok(run.leaseOwner, "the killed process left its lease behind");
  assert.equal(peek(db, (s) => s.lastStep(runId)!.step), step);
}

async function withDir(fn: (dir: string, db: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-owner-" });
  try {
    await fn(dir, `${dir}/runs.sqlite`);
  } finally {
    await live.reap();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("least privilege: after a SIGKILL at step 2, resume takes the run over at once and completes", async () => {
  await withDir(async (dir, db) => {
    await killedAfter(dir, db, "k", 2);
    const { leaseOwner } = peek(db, (s) => s.getRun("k")!);
    const p = parseOwner(leaseOwner!)!;
    assert.ok(p.lockToken, `the owner ${leaseOwner} held an owner lock`);
    const file = `${ownerLockDir(db)}/${p.pid}-${p.lockToken}.lock`;
    assert.ok(exists(file), "the dead owner's lock file is still there");

    const b = await live.finish(cli(resumeArgs(db, "k"), { dir }));
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, 'run k completed after 6 step(s): {"counted":5}\n');
    peek(db, (s) => {
      const takeover = s.listEvents("k").find((e) => e.kind === "lease-takeover");
      // Taken over because the owner was seen gone, not because its lease expired.
      assert.equal(takeover?.message, `took over the lease from ${leaseOwner} (owner gone)`);
      assert.deepEqual(s.listSteps("k").map((r) => r.step), [0, 1, 2, 3, 4, 5]);
      assert.equal(s.getRun("k")!.leaseOwner, null);
    });
    // The dead owner's file was removed, and so was the directory once the last owner left.
    assert.equal(exists(file), false);
    assert.equal(exists(ownerLockDir(db)), false);
  });
});

Deno.test("least privilege: a live owner keeps its run (plain refusal); killed, it is seen gone at once", async () => {
  await withDir(async (dir, db) => {
    const release = `${dir}/release`;
    const a = cli(runArgs(db, "h", { n: 4, holdAt: 2, release }), { dir });
    await waitFor("the owner to wait inside step 2", () => exists(`${release}.held`));
    const owner = peek(db, (s) => s.getRun("h")!.leaseOwner!);
    const p = parseOwner(owner)!;
    assert.equal(p.pid, a.pid);
    assert.equal(checkOwnerLock(ownerLockDir(db), p.pid, p.lockToken!).state, "alive");

    const b = await live.finish(cli(resumeArgs(db, "h"), { dir }));
    assert.equal(b.code, 2);
    assert.match(
      b.stderr,
      /^error: run h is being advanced by another process \(lease owner \S+, expires in \d+ s\)\n$/,
    );
    assert.equal(peek(db, (s) => s.getRun("h")!.leaseOwner), owner, "the lease stayed with it");

    a.kill("SIGKILL");
    assert.equal((await live.finish(a)).signal, "SIGKILL");
    const store = openStore(db, { create: false });
    try {
      assert.deepEqual(ownerLiveness(owner, store), { state: "gone" });
    } finally {
      store.close();
    }
    Deno.writeTextFileSync(release, "");
    const c = await live.finish(cli(resumeArgs(db, "h"), { dir }));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^run h completed after 5 step\(s\)/);
  });
});

Deno.test("an owner without write permission on the database's directory holds no lock, and the refusal names the flag", async () => {
  await withDir(async (dir, db) => {
    // Write access to the database files only, not to the directory beside them.
    const files = [db, `${db}-wal`, `${db}-shm`].join(",");
    const perms = [`--allow-read=${dir},${RUNNER}`, `--allow-write=${files}`];
    const a = await live.finish(cli(runArgs(db, "w", { n: 5 }), { dir, perms, crashAt: "w:1" }));
    assert.equal(a.signal, "SIGKILL", a.stderr);
    const owner = peek(db, (s) => s.getRun("w")!.leaseOwner!);
    assert.equal(parseOwner(owner)?.lockToken, undefined, "no lock could be held");
    assert.equal(exists(ownerLockDir(db)), false);

    const b = await live.finish(cli(resumeArgs(db, "w"), { dir, perms }));
    assert.equal(b.code, 2);
    assert.equal(
      b.stderr.replace(/expires in \d+ s/, "expires in N s"),
      `error: run w is being advanced by another process (lease owner ${owner}, expires in N s), or was until it died: whether it is alive cannot be checked because it holds no owner lock in ${db}-owners (a process needs --allow-write=${dir} to hold one), so the lease is kept until it expires\n`,
    );
    assert.equal(peek(db, (s) => s.getRun("w")!.leaseOwner), owner);
  });
});

Deno.test("a resume that may not read the owner lock directory says which flag would let it check", async () => {
  await withDir(async (dir, db) => {
    await killedAfter(dir, db, "r", 1);
    const owner = peek(db, (s) => s.getRun("r")!.leaseOwner!);
    const files = [db, `${db}-wal`, `${db}-shm`].join(",");
    const narrow = [`--allow-read=${files},${RUNNER}`, `--allow-write=${files}`];
    const b = await live.finish(cli(resumeArgs(db, "r"), { dir, perms: narrow }));
    assert.equal(b.code, 2);
    assert.equal(
      b.stderr.replace(/expires in \d+ s/, "expires in N s"),
      `error: run r is being advanced by another process (lease owner ${owner}, expires in N s), or was until it died: whether it is alive cannot be checked because this process may not read ${db}-owners (run it with --allow-read=${dir}), so the lease is kept until it expires\n`,
    );
    // With that flag it takes over at once.
    const c = await live.finish(cli(resumeArgs(db, "r"), { dir }));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^run r completed after 6 step\(s\)/);
  });
});

Deno.test("owner locks: one file per process, shared by its holds and unlocked by the last; the first hold in a directory removes dead owners' files", async () => {
  await withDir(async (dir, db) => {
    const lockDir = ownerLockDir(db);
    // A live owner in another process, and the file a dead one left (never locked again).
    const release = `${dir}/release`;
    const a = cli(runArgs(db, "x", { n: 3, holdAt: 1, release }), { dir });
    await waitFor("the other owner to wait inside step 1", () => exists(`${release}.held`));
    const dead = `${lockDir}/999999-deadbeef.lock`;
    Deno.writeTextFileSync(dead, "");
    const others = [...Deno.readDirSync(lockDir)].map((e) => e.name).sort();
    assert.equal(others.length, 2);

    const first = holdOwnerLock(lockDir);
    const second = holdOwnerLock(lockDir);
    assert.ok(first.token && first.token === second.token, "one lock file per process");
    const mine = `${Deno.pid}-${first.token}.lock`;
    const names = () => [...Deno.readDirSync(lockDir)].map((e) => e.name).sort();
    assert.deepEqual(names(), [...others.filter((n) => `${lockDir}/${n}` !== dead), mine].sort());
    assert.equal(checkOwnerLock(lockDir, 999999, "deadbeef").state, "gone");
    first.release();
    assert.ok(names().includes(mine), "still held by the second hold");
    assert.equal(checkOwnerLock(lockDir, Deno.pid, first.token!).state, "alive");
    second.release();
    // Unlocked (kept for this process's next hold); to any checker its owner is gone, and the
    // checker removes it.
    assert.ok(names().includes(mine));
    assert.equal(checkOwnerLock(lockDir, Deno.pid, first.token!).state, "gone");
    assert.ok(!names().includes(mine), "a checker removes an unlocked file");
    const again = holdOwnerLock(lockDir);
    assert.equal(checkOwnerLock(lockDir, Deno.pid, again.token!).state, "alive");
    again.release();
    assert.equal(checkOwnerLock(lockDir, Deno.pid, again.token!).state, "gone");

    Deno.writeTextFileSync(release, "");
    assert.equal((await live.finish(a)).code, 0);
    // The other process removed its own file at exit, and the directory, left empty.
    assert.equal(exists(lockDir), false);
  });
});

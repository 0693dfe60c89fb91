import assert from "node:assert/strict";
import { Allowlist } from "./allowlist.ts";
import { MockExecutor, runSandboxed, ShellExecutor } from "./executor.ts";

const bin = new URL("./examples/bin", import.meta.url).pathname;

async function withState(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-exec-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the shell executor runs an allowlisted argv through the sandbox", async () => {
  await withState(async (dir) => {
    const ex = new ShellExecutor(new Allowlist([["svcctl", "status"]], [bin]));
    assert.deepEqual(ex.allowRun, [`${bin}/svcctl`]);
    const res = await ex.run({
      argv: ["svcctl", "status", "api"],
      timeoutMs: 10_000,
      cwd: dir,
      env: { LOOM_OPS_STATE_DIR: dir, LOOM_OPS_IDEMPOTENCY_KEY: "k1" },
    });
    assert.equal(res.exitCode, 0);
    assert.equal(res.stdout, "api: active\n");
    assert.equal(res.refused, undefined);
    assert.match(res.outputHash, /^[0-9a-f]{64}$/);
    const log = await Deno.readTextFile(`${dir}/invocations.log`);
    assert.equal(log, "svcctl status api key=k1\n");
  });
});

Deno.test("the sandboxed command sees only PATH, HOME, LANG and what it is given", async () => {
  await withState(async (dir) => {
    Deno.env.set("LOOM_OPS_SECRET_TEST", "leak");
    try {
      const res = await runSandboxed(
        { argv: ["/usr/bin/env"], timeoutMs: 10_000, cwd: dir, env: { A: "1" } },
        { allowRun: ["/usr/bin/env"], path: ["/usr/bin"] },
      );
      assert.equal(res.exitCode, 0);
      const names = res.stdout.trim().split("\n").map((l) => l.split("=")[0]).sort();
      assert.deepEqual(names, ["A", "HOME", "LANG", "PATH"]);
    } finally {
      Deno.env.delete("LOOM_OPS_SECRET_TEST");
    }
  });
});

Deno.test("loom-ops refuses a command outside the allowlist before starting anything", async () => {
  await withState(async (dir) => {
    const ex = new ShellExecutor(new Allowlist([["svcctl", "status"]], [bin]));
    const res = await ex.run({
      argv: ["svcctl", "restart", "api"],
      timeoutMs: 10_000,
      cwd: dir,
      env: { LOOM_OPS_STATE_DIR: dir },
    });
    assert.equal(res.refused?.by, "loom-ops");
    assert.match(res.refused!.reason, /`svcctl restart api` is not in the allowlist/);
    assert.equal(res.exitCode, null);
    await assert.rejects(Deno.stat(`${dir}/invocations.log`), Deno.errors.NotFound);
  });
});

Deno.test("with the loom-ops check bypassed, Deno's --allow-run still refuses", async () => {
  await withState(async (dir) => {
    // The executor would only grant svcctl; ask its sandbox for /usr/bin/touch directly.
    const ex = new ShellExecutor(new Allowlist([["svcctl", "status"]], [bin]));
    const res = await runSandboxed(
      { argv: ["/usr/bin/touch", `${dir}/pwned`], timeoutMs: 10_000, cwd: dir },
      { allowRun: ex.allowRun, path: ["/usr/bin"] },
    );
    assert.equal(res.failure?.kind, "denied");
    assert.match(res.failure!.message, /Requires run access to "\/usr\/bin\/touch"/);
    await assert.rejects(Deno.stat(`${dir}/pwned`), Deno.errors.NotFound);
    // With no executables at all, the flag is left out and nothing may be started.
    const none = await runSandboxed(
      { argv: ["/usr/bin/touch", `${dir}/pwned`], timeoutMs: 10_000, cwd: dir },
      { allowRun: [], path: ["/usr/bin"] },
    );
    assert.equal(none.failure?.kind, "denied");
  });
});

Deno.test("timeouts kill the command and output is capped but hashed in full", async () => {
  await withState(async (dir) => {
    const slow = await runSandboxed(
      { argv: ["/usr/bin/sleep", "20"], timeoutMs: 200, cwd: dir },
      { allowRun: ["/usr/bin/sleep"], path: ["/usr/bin"] },
    );
    assert.equal(slow.timedOut, true);
    // Killed, not waited out: a sleep that ran to its end would exit 0 with no signal.
    assert.equal(slow.exitCode, null);
    assert.equal(slow.signal, "SIGKILL");
    const big = await runSandboxed(
      { argv: ["/usr/bin/seq", "1", "20000"], timeoutMs: 10_000, cwd: dir },
      { allowRun: ["/usr/bin/seq"], path: ["/usr/bin"], maxOutputBytes: 100 },
    );
    assert.equal(big.exitCode, 0);
    assert.equal(big.truncated, true);
    assert.equal(big.stdout.length, 100);
    const small = await runSandboxed(
      { argv: ["/usr/bin/seq", "1", "20000"], timeoutMs: 10_000, cwd: dir },
      { allowRun: ["/usr/bin/seq"], path: ["/usr/bin"] },
    );
    assert.equal(small.outputHash, big.outputHash, "the hash covers the output beyond the cap");
  });
});

Deno.test("a command that leaves a process holding its output pipe does not hang", async () => {
  await withState(async (dir) => {
    // sh -c is refused by the allowlist, so call the sandbox directly with a script file.
    // The leftover sleeps far longer than any test runs: when the result comes back, it must
    // still be alive, which shows the executor did not wait for the pipe to close.
    await Deno.writeTextFile(
      `${dir}/bg.sh`,
      "#!/bin/sh\n/usr/bin/sleep 3600 &\necho $! > bg.pid\necho started\n",
    );
    await Deno.chmod(`${dir}/bg.sh`, 0o755);
    let killed = false;
    try {
      const res = await runSandboxed(
        { argv: [`${dir}/bg.sh`], timeoutMs: 10_000, cwd: dir },
        { allowRun: [`${dir}/bg.sh`], path: ["/usr/bin", "/bin"] },
      );
      assert.equal(res.exitCode, 0);
      assert.equal(res.stdout, "started\n");
      // Killing it succeeds only while it runs (an ended, reaped process is NotFound).
      Deno.kill(Number(await Deno.readTextFile(`${dir}/bg.pid`)), "SIGKILL");
      killed = true;
    } finally {
      if (!killed) { // a failed run must not leave an hour-long sleep behind
        try {
          Deno.kill(Number(await Deno.readTextFile(`${dir}/bg.pid`)), "SIGKILL");
        } catch { /* never started, or already gone */ }
      }
    }
  });
});

Deno.test("the mock executor runs nothing but applies the same allowlist", async () => {
  const ex = new MockExecutor(new Allowlist([["svcctl", "status"]]));
  const ok = await ex.run({ argv: ["svcctl", "status", "api"], timeoutMs: 1000, cwd: "/" });
  assert.equal(ok.executor, "mock");
  assert.equal(ok.exitCode, 0);
  assert.match(ok.stdout, /would run: svcctl status api/);
  const no = await ex.run({ argv: ["sh", "-c", "id"], timeoutMs: 1000, cwd: "/" });
  assert.equal(no.refused?.by, "loom-ops");
});

/**
 * The OS sandbox: the bubblewrap argv built from a policy (pure, no bwrap needed), then real
 * commands inside bubblewrap through the shell executor (bubblewrap must be installed: `.ci/run`
 * installs it; without it these tests fail with the install hint).
 */
import assert from "node:assert/strict";
import { Allowlist } from "./allowlist.ts";
import { type ExecRequest, ShellExecutor } from "./executor.ts";
import {
  bwrapArgs,
  checkBubblewrap,
  describePolicy,
  type HostLayout,
  type SandboxPolicy,
} from "./sandbox.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const TEST_BIN = `${OPS_DIR}/testdata/bin`;

const LAYOUT: HostLayout = {
  system: [{ path: "/usr" }, { path: "/bin", symlink: "usr/bin" }, { path: "/etc" }],
  secrets: ["/etc/shadow"],
};

const POLICY: SandboxPolicy = {
  cwd: "/srv/ws",
  readOnly: ["/srv/ws/bin", "/usr/local/bin"],
  writable: ["/srv/ws/state", "/var/out"],
  hidden: ["/srv/ws/ops.sqlite", "/srv/ws/state/x.sqlite", "/home/me/ops.sqlite"],
  network: false,
};

/** The pairs `flag a b` of an argv, as `flag a b` strings, in order. */
function mountsOf(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (["--ro-bind", "--bind", "--symlink"].includes(args[i])) {
      out.push(`${args[i]} ${args[i + 1]} ${args[i + 2]}`);
      i += 2;
    } else if (["--tmpfs", "--proc", "--dev", "--remount-ro", "--chdir"].includes(args[i])) {
      out.push(`${args[i]} ${args[i + 1]}`);
      i += 1;
    }
  }
  return out;
}

Deno.test("bwrapArgs: isolation flags, no network by default, a clean environment", () => {
  const args = bwrapArgs({ ...POLICY, env: { B: "2", A: "1" } }, LAYOUT);
  for (
    const flag of [
      "--die-with-parent",
      "--new-session",
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-net",
      "--clearenv",
    ]
  ) {
    assert.ok(args.includes(flag), flag);
  }
  assert.deepEqual(args.slice(args.indexOf("--cap-drop"), args.indexOf("--cap-drop") + 2), [
    "--cap-drop",
    "ALL",
  ]);
  const env = args.join(" ");
  assert.match(env, /--clearenv --setenv A 1 --setenv B 2 /, "sorted, after --clearenv");
  assert.equal(args.at(-1), "--");
  assert.ok(!bwrapArgs({ ...POLICY, network: true }, LAYOUT).includes("--unshare-net"));
});

Deno.test("bwrapArgs: system read-only, private /tmp, writable paths after their read-only parents", () => {
  const mounts = mountsOf(bwrapArgs(POLICY, LAYOUT));
  assert.deepEqual(mounts, [
    "--ro-bind /usr /usr",
    "--symlink usr/bin /bin",
    "--ro-bind /etc /etc",
    "--proc /proc",
    "--dev /dev",
    "--tmpfs /tmp",
    // /usr/local/bin is already visible through /usr; /var/out and the state dir are writable.
    "--ro-bind /srv/ws /srv/ws",
    "--bind /var/out /var/out",
    "--ro-bind /srv/ws/bin /srv/ws/bin",
    "--bind /srv/ws/state /srv/ws/state",
    // Hidden: the databases under a mounted path and the system's secrets, never the others.
    "--ro-bind /dev/null /etc/shadow",
    "--ro-bind /dev/null /srv/ws/ops.sqlite",
    "--ro-bind /dev/null /srv/ws/state/x.sqlite",
    "--remount-ro /",
    "--chdir /srv/ws",
  ]);
});

Deno.test("bwrapArgs: a path both read-only and writable is writable; the runtime files and scratch dirs are mounted", () => {
  const args = bwrapArgs({
    ...POLICY,
    readOnly: ["/srv/ws/state"],
    files: [{ source: "/opt/deno/bin/deno", dest: "/run/loom-ops/deno" }],
    scratch: ["/run/loom-ops/cache"],
  }, LAYOUT);
  const mounts = mountsOf(args);
  assert.ok(mounts.includes("--bind /srv/ws/state /srv/ws/state"));
  assert.ok(!mounts.includes("--ro-bind /srv/ws/state /srv/ws/state"));
  assert.ok(mounts.includes("--ro-bind /opt/deno/bin/deno /run/loom-ops/deno"));
  assert.ok(mounts.includes("--tmpfs /run/loom-ops/cache"));
  assert.deepEqual(bwrapArgs(POLICY, LAYOUT), bwrapArgs(POLICY, LAYOUT), "pure");
  assert.match(describePolicy(POLICY).join("\n"), /writable: {2}\/srv\/ws\/state, \/var\/out/);
});

// ---- Real commands inside bubblewrap -------------------------------------------------------

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-sandbox-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A shell executor inside bubblewrap that may run the given programs. */
function sandboxed(allow: string[][], hidden: string[] = []): ShellExecutor {
  return new ShellExecutor(new Allowlist(allow, [TEST_BIN]), {
    osSandbox: { bwrap: checkBubblewrap(), hidden },
  });
}

function request(dir: string, argv: string[], extra: Partial<ExecRequest> = {}): ExecRequest {
  return {
    argv,
    timeoutMs: 60_000,
    cwd: OPS_DIR,
    env: { LOOM_OPS_STATE_DIR: `${dir}/state` },
    access: { writable: [`${dir}/state`], network: false },
    ...extra,
  };
}

Deno.test("inside the sandbox: no capabilities, no new privileges, a PID namespace of its own", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state`);
    const ex = sandboxed([["cat", "/proc/self/status"], ["ls", "/proc"]]);
    const status = await ex.run(request(dir, ["cat", "/proc/self/status"]));
    assert.equal(status.exitCode, 0, status.stderr);
    assert.match(status.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(status.stdout, /^CapEff:\s+0+$/m);
    assert.match(status.stdout, /^CapPrm:\s+0+$/m);
    const procs = await ex.run(request(dir, ["ls", "/proc"]));
    const pids = procs.stdout.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
    // bubblewrap's init, the Deno child and ls: nothing of the host.
    assert.ok(pids.length <= 4 && Math.max(...pids) < 10, procs.stdout);
  });
});

Deno.test("inside the sandbox: writes go only to the writable paths; /tmp, home and databases are out of reach", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state`);
    await Deno.mkdir(`${dir}/out`);
    const db = `${dir}/ops.sqlite`;
    await Deno.writeTextFile(db, "runner database");
    const secret = await Deno.makeTempFile({ prefix: "loom-ops-secret-" });
    try {
      const ex = sandboxed([["escape"], ["ls"]], [db]);
      const res = await ex.run(
        request(dir, ["escape", `${dir}/outside`, "1", secret, db, `${dir}/out/../state`], {
          cwd: dir, // the database's folder is visible, the database is not
          access: { writable: [`${dir}/state`, `${dir}/out`], network: false },
        }),
      );
      assert.equal(res.exitCode, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`^write ${dir}/outside: failed$`, "m"));
      assert.match(res.stdout, new RegExp(`^read ${secret}: failed$`, "m"));
      assert.match(res.stdout, new RegExp(`^read ${db}: failed$`, "m"));
      await assert.rejects(Deno.stat(`${dir}/outside`), Deno.errors.NotFound);
      assert.equal(await Deno.readTextFile(db), "runner database");
      const declared = await ex.run(
        request(dir, ["escape", `${dir}/out/written`, "1"], {
          access: { writable: [`${dir}/state`, `${dir}/out`], network: false },
        }),
      );
      assert.match(declared.stdout, /^write .*\/out\/written: ok$/m);
      assert.equal(await Deno.readTextFile(`${dir}/out/written`), "pwned\n");
      const home = Deno.env.get("HOME");
      if (home && home !== "/" && (await Deno.stat(home).catch(() => null))?.isDirectory) {
        const peek = await ex.run(request(dir, ["escape", `${home}/loom-ops-pwned`, "1"]));
        assert.match(peek.stdout, /^write .*\/loom-ops-pwned: failed$/m);
        const list = await ex.run(request(dir, ["ls", home]));
        assert.notEqual(list.exitCode, 0);
        assert.match(list.stderr, /No such file or directory/, "the home directory is not there");
        await assert.rejects(Deno.stat(`${home}/loom-ops-pwned`), Deno.errors.NotFound);
      }
    } finally {
      await Deno.remove(secret);
    }
  });
});

Deno.test("inside the sandbox: no network unless the step declares it", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state`);
    let connections = 0;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      for await (const conn of listener) {
        connections++;
        await conn.write(new TextEncoder().encode("pong\n"));
        conn.close();
      }
    })();
    try {
      const port = String(listener.addr.port);
      const ex = sandboxed([["escape"]]);
      const off = await ex.run(request(dir, ["escape", `${dir}/state/w`, port]));
      assert.match(off.stdout, new RegExp(`^connect 127\\.0\\.0\\.1:${port}: failed$`, "m"));
      assert.equal(connections, 0);
      const on = await ex.run(
        request(dir, ["escape", `${dir}/state/w`, port], {
          access: { writable: [`${dir}/state`], network: true },
        }),
      );
      assert.match(on.stdout, new RegExp(`^connect 127\\.0\\.0\\.1:${port}: ok pong$`, "m"));
      assert.equal(connections, 1);
    } finally {
      listener.close();
      await serving.catch(() => {});
    }
  });
});

/** Processes of this machine whose environment holds `NAME=value`. */
function processesWith(name: string, value: string): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const env = Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0");
      if (env.includes(`${name}=${value}`)) found.push(Number(e.name));
    } catch { /* gone, or a kernel thread */ }
  }
  return found;
}

Deno.test("a timeout kills the command's whole process tree", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state`);
    const ex = sandboxed([["orphan"]]);
    // The timeout must land after the orphan started. Where that takes longer than the first
    // timeout, try again with twice the time, until the orphan was seen to start.
    for (let timeoutMs = 500;; timeoutMs *= 2) {
      const token = crypto.randomUUID();
      const res = await ex.run(
        request(dir, ["orphan"], {
          timeoutMs,
          env: { LOOM_OPS_STATE_DIR: `${dir}/state`, LOOM_TEST_ORPHAN: token },
        }),
      );
      assert.equal(res.timedOut, true);
      assert.deepEqual(processesWith("LOOM_TEST_ORPHAN", token), [], "nothing is left behind");
      const started = await Deno.stat(`${dir}/state/orphan-started`).then(() => true, () => false);
      if (started) break;
      assert.ok(timeoutMs < 120_000, "the orphan never started");
    }
  });
});

Deno.test("paths the sandbox cannot grant are refused before anything starts", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state`);
    const db = `${dir}/state/ops.sqlite`;
    const ex = sandboxed([["escape"]], [db]);
    const missing = await ex.run(
      request(dir, ["escape", "x", "1"], {
        access: { writable: [`${dir}/nope`], network: false },
      }),
    );
    assert.equal(missing.refused?.by, "sandbox");
    assert.match(missing.refused!.reason, /writable path .*\/nope does not exist/);
    const exposing = await ex.run(request(dir, ["escape", "x", "1"]));
    assert.equal(exposing.refused?.by, "sandbox");
    assert.match(exposing.refused!.reason, /contains .*ops\.sqlite, which no command may write/);
  });
});

Deno.test("the plan of a command shows its executable, its policy and the bubblewrap argv", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/state`);
    const plan = await sandboxed([["escape"]]).plan(request(dir, ["escape", "a", "1"]));
    assert.equal(plan.executable, `${TEST_BIN}/escape`);
    assert.deepEqual(plan.policy?.writable, [await Deno.realPath(`${dir}/state`)]);
    const spawn = plan.spawn!;
    assert.match(spawn[0], /bwrap$/);
    const inner = spawn.slice(spawn.indexOf("--") + 1);
    assert.equal(inner[0], "/run/loom-ops/deno");
    assert.ok(inner.includes(`--allow-run=${TEST_BIN}/escape`), inner.join(" "));
  });
});

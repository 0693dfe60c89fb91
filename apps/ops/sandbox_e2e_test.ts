/**
 * The OS sandbox end to end through the CLI (`deno run main.ts` subprocesses, real files, real
 * bubblewrap): an allowlisted command that tries to escape, the access a runbook declares, the
 * dry run, and what happens without bubblewrap.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { opsEnv, testAuditKey } from "./_test_util.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const TEST_BIN = `${OPS_DIR}/testdata/bin`;

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

class Env {
  constructor(readonly dir: string) {}
  get db(): string {
    return `${this.dir}/ops.sqlite`;
  }
  get state(): string {
    return `${this.dir}/state`;
  }
  get ws(): string {
    return `${this.dir}/ws`;
  }
  async cli(args: string[], env: Record<string, string> = {}): Promise<Cli> {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args, "--db", this.db],
      cwd: this.dir,
      env: opsEnv(this.dir, { NO_COLOR: "1", LOOM_OPS_ALLOW_SHELL: "", ...env }),
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  }
  /** Runs the runbook `name` of the workspace with `--allow-shell`. */
  runbook(name: string, runId: string, inputs: Record<string, string>, ...extra: string[]) {
    return this.cli([
      "runbook",
      `runbooks/${name}`,
      "--run-id",
      runId,
      "--workspace",
      this.ws,
      "--state-dir",
      this.state,
      "--allow-shell",
      ...Object.entries(inputs).flatMap(([k, v]) => ["--input", `${k}=${v}`]),
      ...extra,
    ]);
  }
  report(): string[] {
    try {
      return Deno.readTextFileSync(`${this.state}/escape.report`).trim().split("\n");
    } catch {
      return [];
    }
  }
  audit(): { run_id: string; kind: string; step: string; data: Record<string, unknown> }[] {
    const db = new DatabaseSync(`${this.db}.ops`, { readOnly: true });
    try {
      return db.prepare("SELECT run_id, kind, step, data FROM ops_audit ORDER BY seq").all()
        .map((r) => ({ ...r, data: JSON.parse(String(r.data)) })) as never;
    } finally {
      db.close();
    }
  }
}

/** A workspace whose allowlist finds the test stand-ins, with the given runbooks. */
async function withEnv(
  runbooks: Record<string, string>,
  fn: (env: Env) => Promise<void>,
): Promise<void> {
  const env = new Env(await Deno.makeTempDir({ prefix: "loom-ops-sandbox-e2e-" }));
  try {
    await Deno.mkdir(`${env.ws}/runbooks`, { recursive: true });
    await Deno.mkdir(`${env.ws}/out`);
    await Deno.writeTextFile(
      `${env.ws}/ops.shell.allowlist.json`,
      JSON.stringify({ path: [TEST_BIN], allow: [["escape"]] }),
    );
    for (const [name, text] of Object.entries(runbooks)) {
      await Deno.writeTextFile(`${env.ws}/runbooks/${name}`, text);
    }
    await fn(env);
  } finally {
    await Deno.remove(env.dir, { recursive: true });
  }
}

function ok(r: Cli, code = 0): void {
  assert.equal(r.code, code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** A TCP listener on 127.0.0.1 that answers `pong` and counts connections. */
function listener(): { port: string; connections(): number; close(): Promise<void> } {
  let count = 0;
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of l) {
      count++;
      await conn.write(new TextEncoder().encode("pong\n")).catch(() => {});
      conn.close();
    }
  })();
  return {
    port: String(l.addr.port),
    connections: () => count,
    close: async () => {
      l.close();
      await serving.catch(() => {});
    },
  };
}

const ESCAPE = [
  "name: escape",
  "inputs: { target: {}, port: {}, secret: {}, db: {} }",
  "writes: [out]", // relative to the workspace, for every step
  "steps:",
  "  - id: escape",
  '    run: [escape, "{{ target }}", "{{ port }}", "{{ secret }}", "{{ db }}"]',
  "  - id: declared",
  "    needs: escape",
  "    network: true",
  '    run: [escape, out/written, "{{ port }}"]',
].join("\n");

Deno.test("an allowlisted command cannot write outside its paths, reach 127.0.0.1 or read /tmp; the step is audited", async () => {
  await withEnv({ "escape.yaml": ESCAPE }, async (env) => {
    const net = listener();
    const secret = await Deno.makeTempFile({ prefix: "loom-ops-secret-" });
    await Deno.writeTextFile(secret, "do not read");
    // The workspace is visible, read-only; only `out` in it is declared writable.
    const target = `${env.ws}/pwned`;
    try {
      const r = await env.runbook("escape.yaml", "esc-1", {
        target,
        port: net.port,
        secret,
        db: env.db,
      });
      ok(r);
      assert.match(
        r.stderr,
        /esc-1: shell executor \(allowlisted, inside the bubblewrap OS sandbox\)/,
      );
      const [first, second] = [env.report().slice(0, 4), env.report().slice(4)];
      assert.deepEqual(first, [
        `write ${target}: failed`,
        `connect 127.0.0.1:${net.port}: failed`,
        `read ${secret}: failed`,
        `read ${env.db}: failed`,
      ]);
      await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
      // The step that declares `network: true` and runs with `writes: [out]` gets exactly that.
      assert.deepEqual(second, [
        "write out/written: ok",
        `connect 127.0.0.1:${net.port}: ok pong`,
      ]);
      assert.equal(net.connections(), 1, "only the declared step reached the listener");
      assert.equal(await Deno.readTextFile(`${env.ws}/out/written`), "pwned\n");

      const audit = env.audit();
      const started = audit.filter((e) => e.kind === "command.started");
      const real = (p: string) => Deno.realPathSync(p);
      assert.deepEqual(started.map((e) => [e.step, e.data.sandbox]), [
        ["escape", {
          os: "bubblewrap",
          writable: [real(env.state), `${real(env.ws)}/out`],
          network: false,
        }],
        ["declared", {
          os: "bubblewrap",
          writable: [real(env.state), `${real(env.ws)}/out`],
          network: true,
        }],
      ]);
      const finished = audit.find((e) => e.kind === "command.finished" && e.step === "escape");
      assert.equal(finished?.data.exitCode, 0);
      assert.ok(audit.some((e) => e.kind === "run.started" && e.data.osSandbox === "bwrap"));
      ok(await env.cli(["audit", "--verify"]));
    } finally {
      await net.close();
      await Deno.remove(secret);
    }
  });
});

Deno.test("runbook --dry-run shows each command with its sandbox and runs nothing", async () => {
  await withEnv({ "escape.yaml": ESCAPE }, async (env) => {
    const inputs = ["target=/x", "port=1", "secret=/y", "db=/z"].flatMap((i) => ["--input", i]);
    const args = [
      "runbook",
      "runbooks/escape.yaml",
      "--dry-run",
      "--workspace",
      env.ws,
      "--state-dir",
      env.state,
      ...inputs,
    ];
    const human = await env.cli(args);
    ok(human);
    const ws = Deno.realPathSync(env.ws);
    assert.match(human.stdout, /^runbook escape \(.*escape\.yaml\): dry run, nothing is run$/m);
    assert.match(human.stdout, /^ {2}escape: escape \/x 1 \/y \/z\n {4}runs {6}.*\/escape$/m);
    assert.match(human.stdout, new RegExp(`writable: {2}${env.state}, ${ws}/out`));
    assert.match(human.stdout, /^ {4}network: {3}none \(own loopback only\)$/m);
    assert.match(human.stdout, /^ {4}network: {3}shared with the host$/m);
    const json = JSON.parse((await env.cli([...args, "--json"])).stdout);
    const spawns = json.commands.map((c: { plan: { spawn: string[] } }) => c.plan.spawn);
    assert.ok(spawns[0].includes("--unshare-net") && !spawns[1].includes("--unshare-net"));
    assert.ok(spawns[0].includes("--die-with-parent") && spawns[0].includes("--clearenv"));
    for (const p of [env.db, `${env.db}.ops`, env.state, testAuditKey(env.dir)]) {
      await assert.rejects(Deno.stat(p), Deno.errors.NotFound, `${p} was created`);
    }
    // A command outside the allowlist makes the dry run fail like the run would.
    await Deno.writeTextFile(
      `${env.ws}/runbooks/bad.yaml`,
      "name: bad\nsteps:\n  - id: a\n    run: [escape, -S]\n  - id: b\n    run: [rm, -rf, /]\n",
    );
    const bad = await env.cli(["runbook", "runbooks/bad.yaml", "--dry-run", "--workspace", env.ws]);
    ok(bad, 2);
    assert.match(bad.stdout, /^ {2}b: rm -rf \/\n {4}REFUSED by loom-ops: `rm -rf \/` is not in/m);
  });
});

Deno.test("without bubblewrap --allow-shell refuses in one sentence; --no-os-sandbox runs and is audited", async () => {
  await withEnv({
    "one.yaml": ["name: one", "steps:", "  - id: a", "    run: [escape, out/a, '1']"].join("\n"),
  }, async (env) => {
    const missing = { LOOM_OPS_BWRAP: `${env.dir}/no/bwrap` };
    const refused = await env.cli(
      ["runbook", "runbooks/one.yaml", "--run-id", "nb-2", "--workspace", env.ws, "--allow-shell"],
      missing,
    );
    ok(refused, 2);
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^error: --allow-shell runs every command inside the bubblewrap OS sandbox, which is not installed: install it \(Debian\/Ubuntu: `apt-get install bubblewrap`.*or pass --no-os-sandbox/,
    );
    const without = await env.cli(
      [
        "runbook",
        "runbooks/one.yaml",
        "--run-id",
        "nb-3",
        "--workspace",
        env.ws,
        "--state-dir",
        env.state,
        "--allow-shell",
        "--no-os-sandbox",
      ],
      missing,
    );
    ok(without);
    assert.match(without.stderr, /nb-3: shell executor \(allowlisted\) WITHOUT the OS sandbox/);
    const audit = env.audit();
    const start = audit.find((e) => e.kind === "run.started" && e.run_id === "nb-3");
    assert.equal(start?.data.osSandbox, "none");
    const cmd = audit.find((e) => e.kind === "command.started" && e.run_id === "nb-3:executor");
    assert.deepEqual(cmd?.data.sandbox, { os: "none" });
  });
});

Deno.test("a run started in the sandbox is never continued without it", async () => {
  await withEnv({
    "gated.yaml": [
      "name: gated",
      "steps:",
      "  - id: a",
      "    run: [escape, out/a, '1']",
      "  - id: b",
      "    needs: a",
      "    run: [escape, out/b, '1']",
      "    approve: { by: [alice] }",
    ].join("\n"),
  }, async (env) => {
    ok(await env.runbook("gated.yaml", "g-1", {}));
    // bubblewrap disappears before the approval: the gated command is refused, not run bare.
    const approved = await env.cli(
      ["approve", "--run-id", "g-1", "--step", "b", "--by", "alice"],
      { LOOM_OPS_BWRAP: `${env.dir}/no/bwrap` },
    );
    ok(approved, 1);
    assert.match(
      approved.stderr,
      /error: run g-1 failed: step b failed: refused by sandbox: --allow-shell runs every command inside the bubblewrap OS sandbox, which is not installed/,
    );
    await assert.rejects(Deno.stat(`${env.ws}/out/b`), Deno.errors.NotFound);
    const refusal = env.audit().find((e) => e.kind === "command.refused" && e.step === "b");
    assert.equal(refusal?.data.by, "sandbox");
  });
});

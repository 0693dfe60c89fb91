/**
 * A `deno compile`d loom-ops (issue 16): how it is detected, and that it starts itself as the
 * sandboxed child (`__sandbox-child`) instead of `deno run sandbox_child.ts`. Nothing here
 * compiles (that needs the network to fetch Deno's runtime): the decision is tested as a pure
 * function, the child mode by running `main.ts __sandbox-child`, and the executor's compiled path
 * with a stand-in "binary" that runs `main.ts` under the permissions a compiled one would bake in.
 */
import assert from "node:assert/strict";
import { Allowlist } from "./allowlist.ts";
import { isCompiled, SANDBOX_CHILD_COMMAND, selfRuntime } from "./compiled.ts";
import { runSandboxed, SANDBOX_RUNTIME_DIR, sandboxCommand, ShellExecutor } from "./executor.ts";
import type { HostLayout, SandboxPolicy } from "./sandbox.ts";
import type { SandboxRequest, SandboxResponse } from "./sandbox_child.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

const LAYOUT: HostLayout = { system: [{ path: "/usr" }], secrets: [] };
const POLICY: SandboxPolicy = {
  cwd: "/srv/ws",
  readOnly: [],
  writable: ["/srv/ws/state"],
  hidden: [],
  network: false,
};

Deno.test("isCompiled: Deno.build.standalone decides; without it, a deno-compile- module path", () => {
  const cases: [boolean | undefined, string, boolean][] = [
    [true, "file:///work/apps/ops/compiled.ts", true],
    [false, "file:///tmp/deno-compile-loom-ops/apps/ops/compiled.ts", false],
    [undefined, "file:///tmp/deno-compile-loom-ops/apps/ops/compiled.ts", true],
    [undefined, "file:///work/apps/ops/compiled.ts", false],
    [undefined, "https://jsr.io/@loom/ops/0.1.0/compiled.ts", false],
    [undefined, "not a url", false],
  ];
  for (const [standalone, moduleUrl, expected] of cases) {
    assert.equal(isCompiled({ standalone, moduleUrl }), expected, `${standalone} ${moduleUrl}`);
  }
  // These tests run from source.
  assert.deepEqual(selfRuntime(), { compiled: false, execPath: Deno.execPath() });
});

Deno.test("from source the child is `deno run --allow-run=… sandbox_child.ts`; compiled, the binary itself with __sandbox-child", async () => {
  const allowRun = ["/usr/bin/echo"];
  const path = ["/usr/bin"];
  const deno = { compiled: false, execPath: "/usr/local/bin/deno" };
  const binary = { compiled: true, execPath: "/opt/loom-ops" };

  const source = await sandboxCommand({ allowRun, path, runtime: deno });
  assert.equal(source.program, "/usr/local/bin/deno");
  assert.deepEqual(source.args.slice(0, 5), [
    "run",
    "--no-prompt",
    "--no-config",
    "--quiet",
    "--allow-run=/usr/bin/echo",
  ]);
  assert.match(source.args[5], /sandbox_child\.ts$/);

  const compiled = await sandboxCommand({ allowRun, path, runtime: binary });
  assert.equal(compiled.program, "/opt/loom-ops");
  assert.deepEqual(compiled.args, [SANDBOX_CHILD_COMMAND]);

  // Inside bubblewrap: the binary is mounted read-only and run in child mode; no script, no flags.
  const os = { bwrap: "/usr/bin/bwrap", policy: POLICY, layout: LAYOUT };
  const boxed = await sandboxCommand({ allowRun, path, runtime: binary, os });
  assert.equal(boxed.program, "/usr/bin/bwrap");
  const inside = `${SANDBOX_RUNTIME_DIR}/loom-ops`;
  assert.deepEqual(boxed.args.slice(-2), [inside, SANDBOX_CHILD_COMMAND]);
  const bind = boxed.args.findIndex((a, i) =>
    a === "--ro-bind" && boxed.args[i + 1] === "/opt/loom-ops" && boxed.args[i + 2] === inside
  );
  assert.ok(bind >= 0, boxed.args.join(" "));
  assert.ok(!boxed.args.some((a) => a.startsWith("--allow-run") || a.endsWith(".ts")));
  const fromSource = await sandboxCommand({ allowRun, path, runtime: deno, os });
  assert.deepEqual(fromSource.args.slice(-7), [
    `${SANDBOX_RUNTIME_DIR}/deno`,
    "run",
    "--no-prompt",
    "--no-config",
    "--quiet",
    "--allow-run=/usr/bin/echo",
    `${SANDBOX_RUNTIME_DIR}/sandbox_child.ts`,
  ]);
});

/** Runs `main.ts __sandbox-child` with only `permissions`, giving it one request. */
async function childMode(permissions: string[], req: SandboxRequest): Promise<SandboxResponse> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...permissions, MAIN, SANDBOX_CHILD_COMMAND],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(req)));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("main.ts __sandbox-child runs one request, limited by the run permission it was given", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-child-" });
  try {
    const req = (argv: string[]): SandboxRequest => ({
      argv,
      env: { PATH: "/usr/bin" },
      cwd: dir,
      timeoutMs: 30_000,
      maxOutputBytes: 1024,
    });
    // What a binary compiled with --allow-run=/usr/bin/echo holds: run that, nothing else.
    const echo = await childMode(["--allow-run=/usr/bin/echo"], req(["/usr/bin/echo", "hi"]));
    assert.equal(echo.exitCode, 0);
    assert.equal(echo.stdout, "hi\n");
    const touch = await childMode(
      ["--allow-run=/usr/bin/echo"],
      req(["/usr/bin/touch", `${dir}/x`]),
    );
    assert.equal(touch.failure?.kind, "denied");
    assert.match(touch.failure!.message, /run access to "\/usr\/bin\/touch"/);
    assert.equal(await Deno.stat(`${dir}/x`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a compiled loom-ops's shell executor starts the binary itself in child mode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-compiled-" });
  try {
    // A stand-in for the compiled binary: loom-ops (main.ts) under the permissions that
    // `deno compile --allow-run=/usr/bin/echo` would bake in. It records how it was called.
    const binary = `${dir}/loom-ops`;
    await Deno.writeTextFile(
      binary,
      [
        "#!/bin/sh",
        `printf '%s\\n' "$*" >> '${dir}/calls'`,
        `exec '${Deno.execPath()}' run --quiet --no-prompt --allow-run=/usr/bin/echo '${MAIN}' "$@"`,
      ].join("\n") + "\n",
    );
    await Deno.chmod(binary, 0o755);
    const runtime = { compiled: true, execPath: binary };
    const ex = new ShellExecutor(new Allowlist([["echo"]]), { runtime });
    const res = await ex.run({
      argv: ["echo", "from", "the", "binary"],
      timeoutMs: 30_000,
      cwd: dir,
    });
    assert.equal(res.refused, undefined, res.refused?.reason);
    assert.equal(res.exitCode, 0);
    assert.equal(res.stdout, "from the binary\n");
    assert.equal(await Deno.readTextFile(`${dir}/calls`), `${SANDBOX_CHILD_COMMAND}\n`);
    // The binary's own --allow-run still refuses what it was not compiled with.
    const denied = await runSandboxed(
      { argv: ["/usr/bin/touch", `${dir}/x`], timeoutMs: 30_000, cwd: dir },
      { allowRun: [], path: ["/usr/bin"], runtime },
    );
    assert.equal(denied.failure?.kind, "denied");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

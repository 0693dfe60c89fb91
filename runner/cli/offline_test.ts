/**
 * The libraries need no package at all: with an empty module cache (`DENO_DIR` a new empty
 * folder) and `--cached-only` (no download allowed), `loom-runner run --trace`, `trace`, `diff`
 * and `serve`, and `loom-xray html`, work. Only `@loom/runner/postgres` imports an npm package,
 * and only when a `postgres://` URL is opened.
 */
import assert from "node:assert/strict";
import { loadTrace } from "@loom/xray";

const root = new URL("../../", import.meta.url).pathname;
const runnerCli = `${root}runner/cli.ts`;
const xrayCli = `${root}xray/cli.ts`;
const counter = `${root}examples/counter_agent.ts`;

/** `deno run --cached-only -A SCRIPT ARGS` with an empty module cache, from the workspace root. */
function offline(denoDir: string, script: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--cached-only", "-A", script, ...args],
    cwd: root,
    env: { DENO_DIR: denoDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(denoDir: string, script: string, ...args: string[]) {
  const out = await offline(denoDir, script, args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("with an empty module cache and --cached-only, run --trace, trace, diff, serve and the xray CLI work", async (t) => {
  const denoDir = await Deno.makeTempDir({ prefix: "loom-empty-deno-dir-" });
  const dir = await Deno.makeTempDir();
  const db = `${dir}/runs.sqlite`;
  try {
    await t.step("run --trace writes an HTML trace", async () => {
      const a = await run(
        denoDir,
        runnerCli,
        "run",
        counter,
        "--run-id",
        "a",
        "--db",
        db,
        "--trace",
        `${dir}/a.html`,
      );
      assert.equal(a.code, 0, a.stderr);
      assert.match(await Deno.readTextFile(`${dir}/a.html`), /^<!DOCTYPE html>/i);
      const b = await run(denoDir, runnerCli, "run", counter, "--run-id", "b", "--db", db);
      assert.equal(b.code, 0, b.stderr);
    });

    await t.step("trace rebuilds a run; the xray CLI turns it into HTML", async () => {
      const traced = await run(
        denoDir,
        runnerCli,
        "trace",
        "--run-id",
        "a",
        "--db",
        db,
        "-o",
        `${dir}/a.json`,
      );
      assert.equal(traced.code, 0, traced.stderr);
      assert.ok((await loadTrace(`${dir}/a.json`)).spans.length > 0);
      const html = await run(denoDir, xrayCli, "html", `${dir}/a.json`, "-o", `${dir}/x.html`);
      assert.equal(html.code, 0, html.stderr);
      assert.match(await Deno.readTextFile(`${dir}/x.html`), /^<!DOCTYPE html>/i);
    });

    await t.step("diff compares two runs", async () => {
      const diff = await run(
        denoDir,
        runnerCli,
        "diff",
        "--run-id",
        "a",
        "--other-run-id",
        "b",
        "--db",
        db,
      );
      assert.equal(diff.code, 0, diff.stderr);
      assert.match(diff.stdout, /same within tolerances/);
    });

    await t.step("serve answers over HTTP on 127.0.0.1 and stops", async () => {
      const child = offline(denoDir, runnerCli, ["serve", "--db", db, "--port", "0"]).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      try {
        let banner = "";
        while (!/http:\/\/127\.0\.0\.1:\d+/.test(banner)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`serve exited: ${banner}`);
          banner += value;
        }
        const base = /http:\/\/127\.0\.0\.1:\d+/.exec(banner)![0];
        const page = await fetch(`${base}/runs/a`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /^<!DOCTYPE html>/i);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await reader.cancel().catch(() => {});
        await child.stderr.cancel();
      }
    });

    await t.step("nothing was downloaded: the module cache holds no npm package", async () => {
      const npm: string[] = [];
      try {
        for await (const e of Deno.readDir(`${denoDir}/npm`)) npm.push(e.name);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      assert.deepEqual(npm, []);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});

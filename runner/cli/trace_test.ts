import assert from "node:assert/strict";
import { loadTrace } from "@loom/xray";

const cli = new URL("../cli.ts", import.meta.url).pathname;
const counter = new URL("../../examples/counter_agent.ts", import.meta.url).pathname;

async function runner(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("loom-runner --trace, trace, diff and serve", async (t) => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/runs.sqlite`;
  try {
    await t.step(
      "run --trace writes this process's steps; trace rebuilds the whole run",
      async () => {
        const first = await runner(
          "run",
          counter,
          "--run-id",
          "a",
          "--db",
          db,
          "--max-steps",
          "4",
          "--trace",
          `${dir}/a.json`,
        );
        assert.equal(first.code, 0, first.stderr);
        const partial = await loadTrace(`${dir}/a.json`);
        assert.equal(partial.spans.filter((s) => s.kind === "step").length, 4);
        const second = await runner(
          "resume",
          counter,
          "--run-id",
          "a",
          "--db",
          db,
          "--trace",
          `${dir}/a.html`,
        );
        assert.equal(second.code, 0, second.stderr);
        assert.match(await Deno.readTextFile(`${dir}/a.html`), /^<!doctype html>/i);

        const whole = await runner("trace", "--run-id", "a", "--db", db, "-o", `${dir}/whole.json`);
        assert.equal(whole.code, 0, whole.stderr);
        const trace = await loadTrace(`${dir}/whole.json`);
        const steps = trace.spans.filter((s) => s.kind === "step");
        assert.deepEqual(steps.map((s) => s.attributes["loom.step.index"]), [...Array(11).keys()]);
        assert.deepEqual(steps[10].output, { current: 10, steps: 10 });
      },
    );

    await t.step(
      "diff passes for the same behaviour and fails, naming the change, otherwise",
      async () => {
        assert.equal(
          (await runner("run", counter, "--run-id", "b", "--db", db, "--quiet")).code,
          0,
        );
        const same = await runner(
          "diff",
          "--run-id",
          "a",
          "--other-run-id",
          "b",
          "--db",
          db,
          "--ignore",
          "event",
        );
        assert.equal(same.code, 0, same.stdout + same.stderr);
        assert.equal(
          (await runner(
            "run",
            counter,
            "--run-id",
            "c",
            "--db",
            db,
            "--input",
            '{"target":12}',
            "--quiet",
          )).code,
          0,
        );
        const differs = await runner("diff", "--run-id", "a", "--other-run-id", "c", "--db", db);
        assert.equal(differs.code, 1);
        assert.match(differs.stdout, /input\.target: 10 → 12/);
        const unknown = await runner("diff", "--run-id", "a", "--other-run-id", "zz", "--db", db);
        assert.equal(unknown.code, 2);
        assert.equal(unknown.stderr.trim(), `error: no run "zz" in ${db}`);
      },
    );

    await t.step(
      "serve is Loom Studio on 127.0.0.1: runs API, run page, trace page, the old JSON links",
      async () => {
        const server = await startServe(["--db", db]);
        try {
          const runs = await (await fetch(`${server.base}/api/runs`)).json();
          assert.deepEqual(runs.runs.map((r: { runId: string }) => r.runId).sort(), [
            "a",
            "b",
            "c",
          ]);
          assert.equal(runs.total, 3);
          const page = await fetch(`${server.base}/runs/a`);
          assert.equal(page.status, 200);
          assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
          assert.match(await page.text(), /<meta name="loom-studio-run" content="a">/);
          const trace = await fetch(`${server.base}/runs/a/trace`);
          assert.match(await trace.text(), /counter a/);
          const json = await (await fetch(`${server.base}/runs/a/trace.json`)).json();
          assert.equal(json.format, "loom-trace/1");
        } finally {
          await server.stop();
        }
      },
    );

    await t.step(
      "serve off loopback refuses to start without a token, in one sentence",
      async () => {
        const refused = await runner("serve", "--db", db, "--hostname", "0.0.0.0", "--port", "0");
        assert.equal(refused.code, 2);
        assert.equal(
          refused.stderr.trim(),
          "error: serving on 0.0.0.0 would show every run's states and tool data beyond this " +
            "machine; set --token (or LOOM_RUNNER_TOKEN)",
        );
      },
    );

    await t.step(
      "serve with a token (LOOM_RUNNER_TOKEN, on 0.0.0.0) answers 401 without it",
      async () => {
        const server = await startServe(["--db", db, "--hostname", "0.0.0.0"], {
          LOOM_RUNNER_TOKEN: "t0ken",
        });
        try {
          const base = server.base.replace("0.0.0.0", "127.0.0.1");
          for (const path of ["/", "/api/runs", "/runs/a", "/runs/a/trace", "/runs/a/trace.json"]) {
            const refused = await fetch(`${base}${path}`);
            assert.equal(refused.status, 401, path);
            await refused.body?.cancel();
          }
          const posted = await fetch(`${base}/api/runs`, { method: "POST", body: "x" });
          assert.equal(posted.status, 401);
          await posted.body?.cancel();
          const runs = await fetch(`${base}/api/runs`, {
            headers: { authorization: "Bearer t0ken" },
          });
          assert.equal(runs.status, 200);
          assert.equal((await runs.json()).total, 3);
          const page = await fetch(`${base}/runs/a/trace?token=t0ken`);
          assert.equal(page.status, 200);
          assert.match(page.headers.get("set-cookie")!, /HttpOnly; SameSite=Strict/);
          assert.match(await page.text(), /counter a/);
          const notAllowed = await fetch(`${base}/api/runs`, {
            method: "POST",
            body: "x",
            headers: { authorization: "Bearer t0ken" },
          });
          assert.equal(notAllowed.status, 405);
          await notAllowed.body?.cancel();
        } finally {
          await server.stop();
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts `loom-runner serve ARGS --port 0` and waits for its banner with the URL. */
async function startServe(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "serve", ...args, "--port", "0"],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  const url = /http:\/\/[\d.]+:\d+/;
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel().catch(() => {});
    await child.stderr.cancel();
  };
  while (!url.test(banner)) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(`serve exited: ${banner}`);
    }
    banner += value;
  }
  return { base: url.exec(banner)![0], stop };
}

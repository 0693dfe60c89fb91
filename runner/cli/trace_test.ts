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
      "serve lists the runs and serves each trace page over HTTP on 127.0.0.1",
      async () => {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", cli, "serve", "--db", db, "--port", "0"],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
          let banner = "";
          while (!/http:\/\/127\.0\.0\.1:\d+/.test(banner)) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`serve exited: ${banner}`);
            banner += value;
          }
          reader.releaseLock();
          const base = /http:\/\/127\.0\.0\.1:\d+/.exec(banner)![0];
          const runs = await (await fetch(`${base}/api/runs`)).json();
          assert.deepEqual(runs.map((r: { id: string }) => r.id).sort(), ["a", "b", "c"]);
          const page = await fetch(`${base}/runs/a`);
          assert.equal(page.status, 200);
          assert.match(await page.text(), /counter a/);
        } finally {
          child.kill("SIGTERM");
          await child.status;
          await child.stdout.cancel().catch(() => {});
          await child.stderr.cancel();
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { startRun } from "../mod.ts";
import { PG_TEST_URL, POSTGRES_BACKEND } from "../testing/_stores.ts";
import { waitFor } from "../testing/wait.ts";
import { gate } from "./testdata/studio_agents.ts";

const cli = new URL("../cli.ts", import.meta.url).pathname;
const agentsDir = new URL("./testdata", import.meta.url).pathname;

Deno.test("loom-runner serve --db postgres://… --agents DIR: the embedded worker finishes a run approved in the studio", async () => {
  const t = await POSTGRES_BACKEND.open();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "serve", "--db", PG_TEST_URL, "--agents", agentsDir, "--port", "0"],
    env: { LOOM_DB_SCHEMA: t.schema! },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    await startRun(gate, { store: t.store, runId: "cli-gate" });
    let banner = "";
    while (!/http:\/\/[\d.]+:\d+/.test(banner)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited: ${banner}`);
      banner += value;
    }
    assert.match(banner, /worker for counter, gate, waiter/);
    const origin = /http:\/\/[\d.]+:\d+/.exec(banner)![0];
    const info = await (await fetch(`${origin}/api/info`)).json();
    assert.equal(info.worker, true);
    const res = await fetch(`${origin}/api/runs/cli-gate/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-loom-studio": "1", origin },
      body: JSON.stringify({ decision: "approve", by: "ann" }),
    });
    assert.equal(res.status, 200, await res.text());
    await waitFor(
      "the studio's worker to complete the approved run",
      async () => (await t.store.getRun("cli-gate"))?.status === "completed",
    );
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await reader.cancel().catch(() => {});
    const stderr = await new Response(child.stderr).text();
    await t.cleanup();
    assert.equal(status.code, 0, stderr);
  }
});

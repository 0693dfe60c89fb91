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

/** Reads a text stream into `seen.text` until it matches `pattern`. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  seen: { text: string },
  pattern: RegExp,
): Promise<void> {
  while (!pattern.test(seen.text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the events stream ended before ${pattern}: ${seen.text}`);
    seen.text += value;
  }
}

/** Starts `loom-runner serve ARGS --port 0`; resolves with its origin once it listens. */
async function startServe(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "serve", ...args, "--port", "0"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const banner = { text: "" };
  await readUntil(out, banner, /http:\/\/[\d.]+:\d+/);
  const origin = /http:\/\/[\d.]+:\d+/.exec(banner.text)![0];
  return {
    origin,
    banner: banner.text,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      await out.cancel().catch(() => {});
      return { code: status.code, stderr: await new Response(child.stderr).text() };
    },
  };
}

Deno.test("loom-runner serve --db FILE --agents DIR: creates the file, sees runs of another process live, its worker finishes an approved run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-studio-cli-" });
  const db = `${dir}/runs.sqlite`; // not there yet: a worker creates it
  const agents = new URL("./testdata/agents", import.meta.url).pathname;
  const serve = await startServe(["--db", db, "--agents", agents]);
  let events: ReadableStreamDefaultReader<string> | undefined;
  try {
    assert.match(serve.banner, /worker for studio-counter, studio-gate, studio-parent/);
    const { origin } = serve;
    const res = await fetch(`${origin}/api/events`);
    events = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const seen = { text: "" };
    await readUntil(events, seen, /^: loom studio events/); // connected: later changes arrive

    // A run started by another process (the CLI) appears on the stream, waiting at its gate.
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "run", `${agents}/gate_agent.ts`, "--run-id", "g1", "--db", db],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    await readUntil(events, seen, /"runId":"g1"[^\n]*"status":"waiting"/);
    const list = await (await fetch(`${origin}/api/runs`)).json();
    assert.deepEqual(list.runs.map((r: { runId: string }) => r.runId), ["g1"]);

    const body = JSON.stringify({ decision: "approve", by: "ann" });
    const bare = await fetch(`${origin}/api/runs/g1/approve`, { method: "POST", body });
    assert.equal(bare.status, 403, "a POST without x-loom-studio is refused");
    assert.match((await bare.json()).error, /x-loom-studio/);
    const approved = await fetch(`${origin}/api/runs/g1/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-loom-studio": "1", origin },
      body,
    });
    assert.equal(approved.status, 200, await approved.text());
    // Nobody resumes it but the studio's worker.
    await readUntil(events, seen, /"runId":"g1"[^\n]*"status":"completed"/);
    const page = await fetch(`${origin}/runs/g1`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<meta name="loom-studio-base" content="">/);
  } finally {
    await events?.cancel().catch(() => {});
    const { code, stderr } = await serve.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0, stderr);
  }
});

Deno.test("loom-runner serve on a port in use: one sentence, exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-studio-cli-" });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        "serve",
        "--db",
        `${dir}/runs.sqlite`,
        "--agents",
        new URL("./testdata/agents", import.meta.url).pathname,
        "--port",
        String(busy.addr.port),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.equal(
      new TextDecoder().decode(out.stderr),
      `error: port ${busy.addr.port} of 127.0.0.1 is in use: stop what listens there or pick ` +
        "another port (0 picks a free one)\n",
    );
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

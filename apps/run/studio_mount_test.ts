// `loom-run serve` mounts Loom Studio at /studio (the real CLI process, real HTTP): its pages
// name the base path, its API answers, and SIGTERM stops the server while an events stream is
// open (the studio ends its streams first).
import assert from "node:assert/strict";
import { join } from "node:path";
import { CliProcess, tempWorkspace } from "./testing.ts";

Deno.test("loom-run serve mounts Loom Studio at /studio and stops cleanly with a live events stream", async () => {
  await using tmp = await tempWorkspace();
  const proc = new CliProcess([
    "serve",
    "--port",
    "0",
    "--db",
    join(tmp.dir, "runs.sqlite"),
    "--workspace",
    tmp.ws,
    "--mock-llm",
  ]);
  const m = await proc.waitFor(/listening on http:\/\/[^\s]+:(\d+) /);
  const base = `http://127.0.0.1:${m[1]}`;
  const page = await fetch(`${base}/studio/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<meta name="loom-studio-base" content="\/studio">/);
  const runs = await (await fetch(`${base}/studio/api/runs`)).json();
  assert.deepEqual(runs, { runs: [], total: 0, counts: {}, agents: [] });
  const events = await fetch(`${base}/studio/api/events`);
  const reader = events.body!.getReader();
  await reader.read(); // the opening comment: the stream is live
  proc.child.kill("SIGTERM");
  try {
    while (!(await reader.read()).done) { /* the server ends the stream */ }
  } catch { /* or the connection closes under it: either way it ended */ }
  const status = await proc.finished();
  assert.equal(status.code, 0, proc.stderr);
});

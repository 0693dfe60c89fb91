/**
 * The xray trace route mounted in a Hono app, as xray/README.md shows it: `@loom/xray/serve` is a
 * plain `(Request) => Response` handler with no dependency, and an app that uses Hono (as the
 * apps do, with the same `npm:hono` range) mounts it with `app.mount(prefix, handler)`.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { Hono } from "npm:hono@^4.6.0";
import { Recorder, writeTrace } from "@loom/xray";
import { createTraceHandler, dirSource, type RunInfo } from "@loom/xray/serve";

Deno.test("a Hono app mounts the trace handler under /traces and serves it over real HTTP on 127.0.0.1", async () => {
  const dir = await Deno.makeTempDir();
  const rec = new Recorder({ name: "mounted" });
  const run = rec.startSpan("run", "mounted", { parent: null });
  rec.startSpan("step", "step 1", { parent: run }).end();
  run.end();
  await writeTrace(rec.toJSON(), `${dir}/first run.json`);

  const app = new Hono();
  app.get("/", (c) => c.text("the app's own page"));
  app.mount("/traces", createTraceHandler(dirSource(dir), { basePath: "/traces" }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    equal(await (await fetch(`${base}/`)).text(), "the app's own page");

    const list = await fetch(`${base}/traces`);
    equal(list.status, 200);
    const page = await list.text();
    ok(page.includes('href="/traces/runs/first%20run"'), page);

    const runs: RunInfo[] = await (await fetch(`${base}/traces/api/runs`)).json();
    deepEqual(runs.map((r) => r.id), ["first run"]);

    // The link the runs page wrote leads to the trace page through the mount.
    const trace = await fetch(`${base}/traces/runs/first%20run`);
    equal(trace.status, 200);
    match(trace.headers.get("content-type") ?? "", /text\/html/);
    match(await trace.text(), /^<!DOCTYPE html>/i);
    const json = await (await fetch(`${base}/traces/runs/first%20run/trace.json`)).json();
    equal(json.spans.length, 2);

    const missing = await fetch(`${base}/traces/runs/nope/summary.json`);
    equal(missing.status, 404);
    deepEqual(await missing.json(), { error: 'No run "nope" in this source.' });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";
import { dirSource, type RunInfo, serveTraces, type TraceSource } from "./serve.ts";

function traceNamed(name: string, extraStep = false): TraceData {
  const rec = new Recorder({ name });
  const run = rec.startSpan("run", name, { parent: null });
  rec.startSpan("step", "step 1", { parent: run }).end();
  if (extraStep) rec.startSpan("step", "step 2", { parent: run }).end();
  run.end();
  return rec.toJSON();
}

Deno.test("the trace server lists runs and serves live trace pages over real HTTP on 127.0.0.1", async () => {
  // A source whose run grows between requests, as a runner database does while a run goes on.
  const runs: RunInfo[] = [
    { id: "run-1", name: "counter", status: "done", startedAt: 0 },
    { id: "run <2>", name: "<script>alert(1)</script>", status: "running" },
  ];
  let grown = false;
  const source: TraceSource = {
    listRuns: () => runs,
    traceFor: (id) =>
      id === "run-1"
        ? traceNamed("counter")
        : id === "run <2>"
        ? traceNamed("live", grown)
        : undefined,
  };
  const server = await serveTraces({ source, port: 0 });
  try {
    match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    ok(server.port > 0);

    const list = await fetch(`${server.url}/`);
    equal(list.status, 200);
    const page = await list.text();
    ok(page.includes('href="/runs/run-1"'));
    ok(page.includes('href="/runs/run%20%3C2%3E"'));
    ok(page.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    ok(!page.includes("<script>alert(1)"));

    deepEqual((await (await fetch(`${server.url}/api/runs`)).json()).map((r: RunInfo) => r.id), [
      "run-1",
      "run <2>",
    ]);

    const done = await fetch(`${server.url}/runs/run-1`);
    equal(done.status, 200);
    match(done.headers.get("content-type") ?? "", /text\/html/);
    equal(done.headers.get("refresh"), null);
    match(await done.text(), /^<!DOCTYPE html>/i);

    const live = await fetch(`${server.url}/runs/${encodeURIComponent("run <2>")}`);
    equal(live.headers.get("refresh"), "3");
    await live.body?.cancel();
    const before =
      await (await fetch(`${server.url}/runs/${encodeURIComponent("run <2>")}/trace.json`)).json();
    grown = true;
    const after =
      await (await fetch(`${server.url}/runs/${encodeURIComponent("run <2>")}/trace.json`)).json();
    deepEqual([before.spans.length, after.spans.length], [2, 3]);

    const otlp = await (await fetch(`${server.url}/runs/run-1/otlp.json`)).json();
    equal(otlp.resourceSpans[0].scopeSpans[0].spans.length, 2);
    const summary = await (await fetch(`${server.url}/runs/run-1/summary.json`)).json();
    equal(summary.totals.spans, 2);

    const missing = await fetch(`${server.url}/runs/nope/trace.json`);
    equal(missing.status, 404);
    deepEqual(await missing.json(), { error: 'No run "nope" in this source.' });
    const missingPage = await fetch(`${server.url}/runs/nope`);
    equal(missingPage.status, 404);
    await missingPage.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("dirSource serves a folder of trace files; a corrupt file is a 500 with one sentence", async () => {
  const dir = await Deno.makeTempDir();
  const server = await serveTraces({ source: dirSource(dir), port: 0 });
  try {
    await Deno.writeTextFile(`${dir}/first.json`, JSON.stringify(traceNamed("first")));
    await Deno.writeTextFile(`${dir}/broken.json`, "{not json");
    const runs = await (await fetch(`${server.url}/api/runs`)).json();
    deepEqual(runs.map((r: RunInfo) => r.id).sort(), ["broken", "first"]);
    const t = await (await fetch(`${server.url}/runs/first/trace.json`)).json();
    equal(t.name, "first");
    const bad = await fetch(`${server.url}/runs/broken/trace.json`);
    equal(bad.status, 500);
    match((await bad.json()).error, /broken\.json is not valid JSON/);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

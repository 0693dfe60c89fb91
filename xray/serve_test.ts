import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";
import {
  createTraceHandler,
  dirSource,
  type RunInfo,
  serveTraces,
  type TraceSource,
} from "./serve.ts";

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

Deno.test("a token guards every route: 401 without it; bearer, ?token= (which sets a cookie) or the cookie pass", async () => {
  const source: TraceSource = {
    listRuns: () => [{ id: "run-1", status: "done" }],
    traceFor: (id) => id === "run-1" ? traceNamed("counter") : undefined,
  };
  const server = await serveTraces({ source, port: 0, token: "s3cret" });
  try {
    for (const path of ["/", "/api/runs", "/runs/run-1", "/runs/run-1/trace.json", "/nope"]) {
      const refused = await fetch(`${server.url}${path}`);
      equal(refused.status, 401, path);
      deepEqual(await refused.json(), {
        error: "a valid token is required (Authorization: Bearer <token>, or ?token=)",
      });
    }
    const wrong = await fetch(`${server.url}/api/runs`, {
      headers: { authorization: "Bearer s3cre" },
    });
    equal(wrong.status, 401);
    await wrong.body?.cancel();

    const bearer = await fetch(`${server.url}/api/runs`, {
      headers: { authorization: "Bearer s3cret" },
    });
    equal(bearer.status, 200);
    equal(bearer.headers.get("set-cookie"), null);
    equal((await bearer.json())[0].id, "run-1");

    const browser = await fetch(`${server.url}/?token=s3cret`);
    equal(browser.status, 200);
    const cookie = browser.headers.get("set-cookie") ?? "";
    match(cookie, /^loom_trace_token=s3cret; Path=\/; HttpOnly; SameSite=Strict$/);
    await browser.body?.cancel();
    const link = await fetch(`${server.url}/runs/run-1`, {
      headers: { cookie: cookie.split(";")[0] },
    });
    equal(link.status, 200);
    await link.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveTraces refuses an address beyond loopback without a token, in one sentence", async () => {
  const source: TraceSource = { listRuns: () => [], traceFor: () => undefined };
  for (const hostname of ["0.0.0.0", "192.168.1.10", "::"]) {
    const error = await serveTraces({ source, port: 0, hostname }).then(() => undefined, (e) => e);
    ok(error instanceof TypeError, hostname);
    equal(
      error.message,
      `Cannot serve traces on ${hostname} without a token: it would expose every run's data beyond this machine`,
    );
  }
});

Deno.test("the handler only reads: other methods are 405 with no body read, HEAD has headers only, bad paths are 400/404", async () => {
  const source: TraceSource = {
    listRuns: () => [{ id: "team/1", status: "running" }],
    traceFor: (id) => id === "team/1" ? traceNamed("team") : undefined,
  };
  const handler = createTraceHandler(source);
  let pulled = false;
  const body = new ReadableStream({
    pull() {
      pulled = true;
    },
  }, { highWaterMark: 0 });
  const post = await handler(new Request("http://x/api/runs", { method: "POST", body }));
  equal(post.status, 405);
  equal(post.headers.get("allow"), "GET, HEAD");
  equal(pulled, false);

  const head = await handler(new Request("http://x/runs/team%2F1", { method: "HEAD" }));
  equal(head.status, 200);
  equal(head.body, null);
  equal(head.headers.get("refresh"), "3");
  equal(head.headers.get("cache-control"), "no-store");

  equal((await handler(new Request("http://x/runs/%E0%A4%A"))).status, 400);
  equal((await handler(new Request("http://x/runs/team%2F1/nope.json"))).status, 404);
  equal((await handler(new Request("http://x/runs/team%2F1/otlp.json"))).status, 200);
});

Deno.test("basePath: the runs page links under the mount prefix, and a full path still routes", async () => {
  const source: TraceSource = {
    listRuns: () => [{ id: "a b", status: "done" }],
    traceFor: (id) => id === "a b" ? traceNamed("ab") : undefined,
  };
  const handler = createTraceHandler(source, { basePath: "/traces/" });
  const page = await (await handler(new Request("http://x/"))).text();
  ok(page.includes('href="/traces/runs/a%20b"'));
  ok(page.includes('href="/traces/runs/a%20b/trace.json"'));
  equal((await handler(new Request("http://x/traces/runs/a%20b/trace.json"))).status, 200);
  equal((await handler(new Request("http://x/runs/a%20b/trace.json"))).status, 200);
  equal((await handler(new Request("http://x/traces"))).status, 200);
});

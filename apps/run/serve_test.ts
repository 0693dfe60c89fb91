// `loom-run serve` tested with real HTTP requests against the real CLI process.
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseTrace } from "@loom/xray";
import { readSse, type SseEvent } from "./sse.ts";
import { CliProcess, tempWorkspace } from "./testing.ts";

async function startServer(
  dir: string,
  ws: string,
  extra: string[] = [],
): Promise<{ proc: CliProcess; base: string }> {
  const proc = new CliProcess([
    "serve",
    "--port",
    "0",
    "--db",
    join(dir, "runs.sqlite"),
    "--workspace",
    ws,
    "--mock-llm",
    "--test-command",
    "deno run math_check.js",
    ...extra,
  ]);
  const m = await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { proc, base: m[1] };
}

async function stop(proc: CliProcess): Promise<void> {
  proc.child.kill("SIGTERM");
  const status = await proc.finished();
  assert.equal(status.code, 0, proc.stderr);
}

async function chat(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<SseEvent[]> {
  const res = await fetch(`${base}/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const events: SseEvent[] = [];
  for await (const e of readSse(res.body!)) events.push(e);
  return events;
}

Deno.test("serve: POST /chat streams a run as SSE, continues it, and GET /runs, /runs/:id, /runs/:id/trace report it", async () => {
  await using t = await tempWorkspace();
  const { proc, base } = await startServer(t.dir, t.ws);
  try {
    const first = await chat(base, { message: "why does the test fail?", runId: "web" });
    const kinds = first.map((e) => e.event);
    assert.equal(kinds[0], "run");
    assert.deepEqual(kinds.filter((k) => k === "tool_start").length, 4);
    assert.ok(kinds.includes("delta") && kinds.includes("llm") && kinds.includes("answer"));
    const done = JSON.parse(first.at(-1)!.data);
    assert.equal(first.at(-1)!.event, "done");
    assert.equal(done.status, "waiting", "the conversation stays open for a follow-up");
    assert.match(done.answer, /^The tests fail: `FAIL add\(2, 3\)/);
    const streamed = first.filter((e) => e.event === "delta").map((e) => JSON.parse(e.data).text)
      .join("");
    assert.equal(streamed, done.answer);

    // A follow-up continues the same durable run (a signal to the waiting run).
    const second = await chat(base, { message: "where are the TODO notes?", runId: "web" });
    const done2 = JSON.parse(second.at(-1)!.data);
    assert.equal(JSON.parse(second[0].data).kind, "continue");
    assert.match(done2.answer, /'TODO' is at src\/math\.js:1/);
    assert.ok(
      !second.some((e) => e.event === "answer" && JSON.parse(e.data).text === done.answer),
      "the old answer is not re-sent",
    );

    const runs = await (await fetch(`${base}/runs`)).json();
    assert.deepEqual(runs.runs.map((r: { runId: string; status: string }) => [r.runId, r.status]), [
      ["web", "waiting"],
    ]);
    const run = await (await fetch(`${base}/runs/web`)).json();
    assert.equal(run.agent, "loom-run.chat");
    assert.equal(run.answer, done2.answer);
    assert.deepEqual(
      run.transcript.filter((l: { role: string }) => l.role === "user").map((l: { text: string }) =>
        l.text
      ),
      [
        "why does the test fail?",
        "where are the TODO notes?",
      ],
    );
    const trace = await fetch(`${base}/runs/web/trace`);
    assert.equal(trace.status, 200);
    const html = await trace.text();
    assert.match(html, /^<!doctype html>/i);
    // The page's data is compressed: read it back through xray's own loader.
    const spans = parseTrace(html, "the served trace").spans;
    assert.ok(spans.some((s) => s.name === "execute_tool run_tests"));
    assert.ok(spans.some((s) => s.kind === "llm"), "LLM turns are drawn as llm spans");

    // Errors are JSON with a clear sentence.
    const missing = await fetch(`${base}/runs/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "there is no run 'nope'" });
    const bad = await fetch(`${base}/chat`, { method: "POST", body: "not json" });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const empty = await fetch(`${base}/chat`, {
      method: "POST",
      body: JSON.stringify({ runId: "new" }),
    });
    assert.equal(empty.status, 400);
    await empty.body?.cancel();
  } finally {
    await stop(proc);
  }
});

Deno.test("serve: with --token every request needs it", async () => {
  await using t = await tempWorkspace();
  const { proc, base } = await startServer(t.dir, t.ws, ["--token", "s3cret"]);
  try {
    const denied = await fetch(`${base}/runs`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const wrong = await fetch(`${base}/runs`, { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const chatDenied = await fetch(`${base}/chat`, {
      method: "POST",
      body: JSON.stringify({ message: "hi" }),
    });
    assert.equal(chatDenied.status, 401);
    await chatDenied.body?.cancel();
    const ok = await fetch(`${base}/runs`, { headers: { authorization: "Bearer s3cret" } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { runs: [] });
    const query = await fetch(`${base}/runs?token=s3cret`);
    assert.equal(query.status, 200);
    await query.body?.cancel();
  } finally {
    await stop(proc);
  }
});

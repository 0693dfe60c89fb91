// `loom-run serve` without a usable LLM (no API key for the default endpoint) still starts, so
// stored runs can be browsed; only a POST /chat that would call that LLM is refused, with one
// sentence. And a refusal reaches an API client as a refusal. Real process, real HTTP on
// 127.0.0.1.
import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeOpenAi } from "./llm/fake_openai_server.ts";
import { readSse, type SseEvent } from "./sse.ts";
import { CliProcess, runCli, tempWorkspace } from "./testing.ts";

Deno.test("serve without an API key: browsing works, POST /chat needing the LLM gets 503", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const made = await runCli([
    "chat",
    "why does the test fail?",
    "--mock-llm",
    "--run-id",
    "earlier",
    "--db",
    db,
    "--workspace",
    t.ws,
    "--test-command",
    "deno run math_check.js",
  ]);
  assert.equal(made.code, 0, made.stderr);

  // No key in the environment (cliEnv passes none) and the default remote endpoint.
  const serve = new CliProcess(["serve", "--port", "0", "--db", db, "--workspace", t.ws]);
  try {
    const [, url] = await serve.waitFor(/listening on (http:\/\/\S+)/);
    await serve.waitFor(/warning: no API key for https:\/\/api\.openai\.com\/v1/);
    assert.match(
      serve.stderr,
      /warning: no API key for https:\/\/api\.openai\.com\/v1: .*; stored runs can be browsed, but POST \/chat is refused until serve is restarted with a usable LLM/,
    );

    const runs = await fetch(`${url}/runs`);
    assert.equal(runs.status, 200);
    assert.deepEqual((await runs.json()).runs.map((r: { runId: string }) => r.runId), ["earlier"]);
    const run = await fetch(`${url}/runs/earlier`);
    assert.equal(run.status, 200);
    assert.match((await run.json()).answer, /mock answer/);
    const trace = await fetch(`${url}/runs/earlier/trace`);
    assert.equal(trace.status, 200);
    await trace.body?.cancel();

    const chat = await fetch(`${url}/chat`, {
      method: "POST",
      body: JSON.stringify({ message: "hi", runId: "new" }),
    });
    assert.equal(chat.status, 503);
    const { error } = await chat.json();
    assert.match(
      error,
      /^POST \/chat needs the LLM, but no API key for https:\/\/api\.openai\.com\/v1: set LOOM_LLM_API_KEY/,
    );
    // Nothing was started.
    assert.equal((await fetch(`${url}/runs/new`)).status, 404);
  } finally {
    await serve.kill();
  }
});

Deno.test("serve: a refusal streams as stoppedBy refusal, and done has no answer", async () => {
  await using t = await tempWorkspace();
  const fake = await startFakeOpenAi({
    script: [{ kind: "refusal", text: "I can't help with that." }],
  });
  // A loopback endpoint needs no key.
  const serve = new CliProcess([
    "serve",
    "--port",
    "0",
    "--db",
    join(t.dir, "runs.sqlite"),
    "--workspace",
    t.ws,
    "--base-url",
    fake.baseUrl,
  ]);
  try {
    const [, url] = await serve.waitFor(/listening on (http:\/\/\S+)/);
    const response = await fetch(`${url}/chat`, {
      method: "POST",
      body: JSON.stringify({ message: "hi", runId: "web" }),
    });
    assert.equal(response.status, 200);
    const events: SseEvent[] = [];
    for await (const event of readSse(response.body!)) events.push(event);
    const answer = JSON.parse(events.find((e) => e.event === "answer")!.data);
    assert.equal(answer.stoppedBy, "refusal");
    assert.equal(answer.refusal, "I can't help with that.");
    const done = JSON.parse(events.find((e) => e.event === "done")!.data);
    assert.deepEqual(
      {
        status: done.status,
        answer: done.answer,
        stoppedBy: done.stoppedBy,
        refusal: done.refusal,
      },
      { status: "waiting", answer: null, stoppedBy: "refusal", refusal: "I can't help with that." },
    );
  } finally {
    await serve.kill();
    await fake.close();
  }
});

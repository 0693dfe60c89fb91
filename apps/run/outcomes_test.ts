// How a chat run ends when the model does not give a complete answer, through the real CLI
// against the local fake OpenAI-compatible endpoint: a refusal, an answer cut at the token limit,
// and an endpoint that reports no usage.
import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeOpenAi } from "./llm/fake_openai_server.ts";
import { MockProvider } from "./llm/mock.ts";
import { runCli, tempWorkspace } from "./testing.ts";

const REFUSAL = "I'm sorry, but I can't help with that.";

function chatArgs(
  ws: string,
  db: string,
  baseUrl: string,
  runId: string,
  model = "gpt-4o-mini",
): string[] {
  return [
    "chat",
    "why does the test fail?",
    "--run-id",
    runId,
    "--db",
    db,
    "--workspace",
    ws,
    "--base-url",
    baseUrl,
    "--model",
    model,
    "--test-command",
    "deno run math_check.js",
  ];
}

Deno.test("outcome: a refusal is not a completed answer; the CLI says so in one sentence and exits 1", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const fake = await startFakeOpenAi({
    script: [{ kind: "refusal", text: REFUSAL }, { kind: "refusal", text: REFUSAL }],
  });
  try {
    const human = await runCli(chatArgs(t.ws, db, fake.baseUrl, "no"));
    assert.equal(human.code, 1, human.stderr);
    assert.equal(human.stdout, "", "a refusal is not printed as the answer");
    assert.match(human.stderr, /^run no ended with a refusal · 1 step · 0 tool calls · 49 tokens/m);
    assert.match(
      human.stderr,
      /^error: the model refused to answer: "I'm sorry, but I can't help with that\."$/m,
    );
    assert.doesNotMatch(human.stderr, /completed/);

    const json = await runCli([...chatArgs(t.ws, db, fake.baseUrl, "no2"), "--json"]);
    assert.equal(json.code, 1, json.stderr);
    const out = JSON.parse(json.stdout);
    assert.equal(out.stoppedBy, "refusal");
    assert.equal(out.answer, null);
    assert.equal(out.refusal, REFUSAL);

    // The run records it: explain shows the refusal, not an empty answer.
    const explain = await runCli(["explain", "--run-id", "no", "--db", db]);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /^ {2}refusal {3}I'm sorry, but I can't help with that\.$/m);
  } finally {
    await fake.close();
  }
});

Deno.test("outcome: an answer cut at the token limit (finish_reason length) is shown as cut, exit 1", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const fake = await startFakeOpenAi({
    script: [{ kind: "text", text: "The test fails because add", finishReason: "length" }],
  });
  try {
    const out = await runCli([...chatArgs(t.ws, db, fake.baseUrl, "cut"), "--json"]);
    assert.equal(out.code, 1, out.stderr);
    const json = JSON.parse(out.stdout);
    assert.equal(json.stoppedBy, "length");
    assert.equal(json.answer, "The test fails because add");
    const explain = await runCli(["explain", "--run-id", "cut", "--db", db]);
    assert.match(
      explain.stdout,
      /answer +The test fails because add \[cut off at the output token limit\]/,
    );
  } finally {
    await fake.close();
  }
  const again = await startFakeOpenAi({
    script: [{ kind: "text", text: "The test fails because add", finishReason: "length" }],
  });
  try {
    const human = await runCli(chatArgs(t.ws, db, again.baseUrl, "cut2"));
    assert.equal(human.code, 1, human.stderr);
    assert.equal(human.stdout, "The test fails because add\n");
    assert.match(human.stderr, /^run cut2 ended with a cut-off answer · 1 step/m);
    assert.match(
      human.stderr,
      /^error: the answer was cut off at the model's output token limit \(finish_reason "length"\); it is incomplete$/m,
    );
  } finally {
    await again.close();
  }
});

Deno.test("outcome: an endpoint that sends no usage gives unknown tokens and cost, not 0 and $0", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const fake = await startFakeOpenAi({ brain: new MockProvider("gpt-4o-mini"), sendUsage: false });
  try {
    const human = await runCli(chatArgs(t.ws, db, fake.baseUrl, "nousage"));
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stderr,
      /^run nousage completed · \d+ steps · \d+ tool calls · tokens unknown · cost unknown$/m,
    );
    const json = JSON.parse(
      (await runCli([...chatArgs(t.ws, db, fake.baseUrl, "nousage2"), "--json"])).stdout,
    );
    assert.equal(json.usage.promptTokens, 0);
    assert.equal(json.usage.callsWithoutUsage, json.usage.calls);
    assert.equal(json.usage.callsWithoutCost, json.usage.calls);
  } finally {
    await fake.close();
  }
  // With usage, a model without a known price: tokens known, cost unknown.
  const priced = await startFakeOpenAi({ brain: new MockProvider("llama3") });
  try {
    const out = await runCli(chatArgs(t.ws, db, priced.baseUrl, "noprice", "llama3"));
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /^run noprice completed · .* · \d+ tokens · cost unknown$/m);
  } finally {
    await priced.close();
  }
});

// The fake endpoint checked with the official `openai` SDK: if the SDK (and its stream helper,
// which assembles chunks by `index` and checks their shape) reads what the fake sends, the fake
// speaks the documented Chat Completions shapes, and so do the cassettes recorded from it.
import assert from "node:assert/strict";
import OpenAI from "npm:openai@7.60.0";
import { startFakeOpenAi } from "./fake_openai_server.ts";

const tools = [{
  type: "function" as const,
  function: {
    name: "read_file",
    description: "read a file",
    parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  },
}];
const messages = [{ role: "user" as const, content: "why does the test fail?" }];

function sdk(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 });
}

Deno.test("fake OpenAI server: stream false is one chat.completion the SDK reads", async () => {
  const fake = await startFakeOpenAi({ script: [{ kind: "text", text: "add is off by one" }] });
  try {
    const done = await sdk(fake.baseUrl).chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      stream: false,
    });
    assert.match(done.id, /^chatcmpl-/);
    assert.equal(done.object, "chat.completion");
    assert.equal(typeof done.created, "number");
    assert.equal(done.model, "gpt-4o-mini");
    assert.equal(done.choices[0].index, 0);
    assert.equal(done.choices[0].finish_reason, "stop");
    assert.deepEqual(done.choices[0].message, {
      role: "assistant",
      content: "add is off by one",
      refusal: null,
    });
    assert.deepEqual(done.usage, { prompt_tokens: 42, completion_tokens: 7, total_tokens: 49 });
    assert.equal(fake.requests[0].body.stream, false);
  } finally {
    await fake.close();
  }
});

Deno.test("fake OpenAI server: streamed chunks and the final usage chunk, read by the SDK", async () => {
  const fake = await startFakeOpenAi({
    script: [{ kind: "text", text: "The test fails because add is off by one.", pieces: 4 }],
  });
  try {
    const stream = await sdk(fake.baseUrl).chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "one id for the whole stream");
    assert.ok(chunks.every((c) => typeof c.created === "number" && c.model === "gpt-4o-mini"));
    const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
    assert.equal(text, "The test fails because add is off by one.");
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 42, completion_tokens: 7, total_tokens: 49 });
    assert.equal(chunks.at(-2)!.choices[0].finish_reason, "stop");
  } finally {
    await fake.close();
  }
  // Without include_usage there is no usage chunk.
  const plain = await startFakeOpenAi({ script: [{ kind: "text", text: "hi" }] });
  try {
    const stream = await sdk(plain.baseUrl).chat.completions.create({
      model: "m",
      messages,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
  } finally {
    await plain.close();
  }
});

Deno.test("fake OpenAI server: tool calls, streamed and not, assembled by the SDK", async () => {
  const calls = [
    { id: "call_a", name: "read_file", arguments: '{"path":"src/math.js"}' },
    { id: "call_b", name: "read_file", arguments: '{"path":"README.md"}' },
  ];
  const fake = await startFakeOpenAi({
    script: [{ kind: "tools", calls }, { kind: "tools", calls }],
  });
  try {
    const client = sdk(fake.baseUrl);
    const expected = calls.map((c) => ({
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
    const done = await client.chat.completions.create({ model: "m", messages, tools });
    assert.equal(done.choices[0].finish_reason, "tool_calls");
    assert.equal(done.choices[0].message.content, null);
    assert.deepEqual(done.choices[0].message.tool_calls, expected);
    // The SDK's stream helper accumulates tool-call deltas by index into a final completion.
    const runner = client.chat.completions.stream({
      model: "m",
      messages,
      tools,
      stream_options: { include_usage: true },
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assert.deepEqual(
      final.choices[0].message.tool_calls?.map((c) => ({
        id: c.id,
        type: c.type,
        function: c.type === "function" ? c.function : undefined,
      })),
      expected,
    );
    assert.equal(final.usage?.total_tokens, 49);
  } finally {
    await fake.close();
  }
});

Deno.test("fake OpenAI server: a refusal, streamed and not, as the SDK reports it", async () => {
  const text = "I'm sorry, I can't help with that.";
  const fake = await startFakeOpenAi({
    script: [{ kind: "refusal", text }, { kind: "refusal", text }],
  });
  try {
    const client = sdk(fake.baseUrl);
    const done = await client.chat.completions.create({ model: "m", messages });
    assert.equal(done.choices[0].message.refusal, text);
    assert.equal(done.choices[0].message.content, null);
    const final = await client.chat.completions.stream({ model: "m", messages })
      .finalChatCompletion();
    assert.equal(final.choices[0].message.refusal, text);
    assert.ok(!final.choices[0].message.content);
  } finally {
    await fake.close();
  }
});

Deno.test("fake OpenAI server: errors have OpenAI's shape, so the SDK raises its typed errors", async () => {
  const fake = await startFakeOpenAi({ apiKey: "right" });
  try {
    await assert.rejects(
      sdk(fake.baseUrl).chat.completions.create({ model: "m", messages }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
        assert.equal(e.status, 401);
        assert.match(e.message, /Incorrect API key/);
        return true;
      },
    );
  } finally {
    await fake.close();
  }
});

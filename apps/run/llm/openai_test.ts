import assert from "node:assert/strict";
import { startFakeOpenAi } from "./fake_openai_server.ts";
import { OpenAiProvider } from "./openai.ts";
import { LlmError, type ToolSpec } from "./types.ts";

const tools: ToolSpec[] = [{
  name: "read_file",
  description: "read a file",
  parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
}];
const user = [{ role: "user" as const, content: "hi" }];

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LlmError, `expected LlmError, got ${error}`);
    return error;
  }
  throw new Error("expected the call to fail");
}

Deno.test("openai client streams text deltas as they arrive and reports usage and cost", async () => {
  const fake = await startFakeOpenAi({
    script: [{ kind: "text", text: "The test fails because add is off by one.", pieces: 5 }],
  });
  try {
    const llm = new OpenAiProvider({
      baseUrl: fake.baseUrl,
      model: "gpt-4o-mini",
      apiKey: "sk-test",
    });
    const deltas: string[] = [];
    const reply = await llm.complete({ messages: user, tools: [], onDelta: (d) => deltas.push(d) });
    assert.equal(reply.content, "The test fails because add is off by one.");
    assert.equal(deltas.length, 5);
    assert.equal(deltas.join(""), reply.content);
    assert.deepEqual(reply.usage, { promptTokens: 42, completionTokens: 7 });
    assert.ok(Math.abs(reply.costUsd! - (42 * 0.15 + 7 * 0.6) / 1e6) < 1e-12);
    assert.equal(fake.requests[0].authorization, "Bearer sk-test");
    assert.equal(fake.requests[0].body.stream, true);
    assert.equal(fake.requests[0].body.tools, undefined);
  } finally {
    await fake.close();
  }
});

Deno.test("openai client assembles tool calls split over several chunks", async () => {
  const fake = await startFakeOpenAi({
    script: [{
      kind: "tools",
      calls: [
        { id: "call_a", name: "read_file", arguments: '{"path":"src/math.js"}' },
        { id: "call_b", name: "search", arguments: '{"query":"add("}' },
      ],
    }],
  });
  try {
    const llm = new OpenAiProvider({ baseUrl: fake.baseUrl, model: "local" });
    const reply = await llm.complete({ messages: user, tools });
    assert.deepEqual(reply.toolCalls, [
      {
        id: "call_a",
        type: "function",
        function: { name: "read_file", arguments: '{"path":"src/math.js"}' },
      },
      {
        id: "call_b",
        type: "function",
        function: { name: "search", arguments: '{"query":"add("}' },
      },
    ]);
    assert.equal(reply.finishReason, "tool_calls");
    assert.equal(reply.costUsd, undefined, "unknown model: no invented price");
    assert.equal(fake.requests[0].authorization, null);
    assert.deepEqual(fake.requests[0].body.tools?.[0].function.name, "read_file");
  } finally {
    await fake.close();
  }
});

Deno.test("openai client accepts a non-streaming JSON completion", async () => {
  const fake = await startFakeOpenAi({
    script: [{
      kind: "json",
      reply: {
        content: "plain",
        toolCalls: [],
        model: "m",
        finishReason: "stop",
        usage: { promptTokens: 3, completionTokens: 1 },
      },
    }],
  });
  try {
    const reply = await new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m" }).complete({
      messages: user,
      tools: [],
    });
    assert.equal(reply.content, "plain");
    assert.deepEqual(reply.usage, { promptTokens: 3, completionTokens: 1 });
  } finally {
    await fake.close();
  }
});

Deno.test("openai client: a wrong API key is a permission error with a clear sentence", async () => {
  const fake = await startFakeOpenAi({ apiKey: "right" });
  try {
    const e = await failure(
      new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m", apiKey: "wrong" }).complete({
        messages: user,
        tools: [],
      }),
    );
    assert.equal(e.category, "permission");
    assert.equal(e.status, 401);
    assert.match(e.message, /rejected the API key \(HTTP 401\); set LOOM_LLM_API_KEY/);
  } finally {
    await fake.close();
  }
});

Deno.test("openai client: an unknown model is a validation error naming the model", async () => {
  const fake = await startFakeOpenAi({ models: ["llama3"] });
  try {
    const e = await failure(
      new OpenAiProvider({ baseUrl: fake.baseUrl, model: "gpt-9" }).complete({
        messages: user,
        tools: [],
      }),
    );
    assert.equal(e.category, "validation");
    assert.match(e.message, /model 'gpt-9' is not available .*HTTP 404.*does not exist/);
  } finally {
    await fake.close();
  }
});

Deno.test("openai client: 429 and 5xx, bad chunks and refused connections are transient", async () => {
  const fake = await startFakeOpenAi({
    script: [{ kind: "status", status: 429 }, { kind: "status", status: 503 }, { kind: "garbage" }],
  });
  try {
    const llm = new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m" });
    const busy = await failure(llm.complete({ messages: user, tools: [] }));
    assert.equal(busy.category, "transient");
    assert.equal(busy.status, 429);
    assert.equal((await failure(llm.complete({ messages: user, tools: [] }))).status, 503);
    assert.match((await failure(llm.complete({ messages: user, tools: [] }))).message, /not JSON/);
  } finally {
    await fake.close();
  }
  const closed = new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m" });
  const e = await failure(closed.complete({ messages: user, tools: [] }));
  assert.equal(e.category, "transient");
  assert.match(e.message, /could not reach the LLM endpoint/);
});

Deno.test("openai client: a server that stops sending times out as a transient error", async () => {
  const fake = await startFakeOpenAi({ script: [{ kind: "hang" }] });
  try {
    const llm = new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m", timeoutMs: 200 });
    const e = await failure(llm.complete({ messages: user, tools: [] }));
    assert.equal(e.category, "transient");
    assert.match(e.message, /timed out after 200 ms/);
  } finally {
    await fake.close();
  }
});

Deno.test("openai client: a refusal, streamed or not, is kept as a refusal and not streamed as text", async () => {
  const text = "I'm sorry, I can't help with that.";
  const fake = await startFakeOpenAi({
    script: [
      { kind: "refusal", text },
      {
        kind: "json",
        reply: { content: "", refusal: text, toolCalls: [], model: "m", finishReason: "stop" },
      },
    ],
  });
  try {
    const llm = new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m" });
    const deltas: string[] = [];
    const streamed = await llm.complete({
      messages: user,
      tools: [],
      onDelta: (d) => deltas.push(d),
    });
    assert.equal(streamed.refusal, text);
    assert.equal(streamed.content, "");
    assert.deepEqual(deltas, [], "a refusal is not answer text");
    const plain = await llm.complete({ messages: user, tools: [] });
    assert.equal(plain.refusal, text);
    assert.equal(plain.content, "");
  } finally {
    await fake.close();
  }
});

Deno.test("openai client: finish_reason length is kept, so the caller knows the answer was cut", async () => {
  const fake = await startFakeOpenAi({
    script: [{ kind: "text", text: "The test fails because", finishReason: "length" }],
  });
  try {
    const reply = await new OpenAiProvider({ baseUrl: fake.baseUrl, model: "m" }).complete({
      messages: user,
      tools: [],
    });
    assert.equal(reply.content, "The test fails because");
    assert.equal(reply.finishReason, "length");
    assert.equal(reply.refusal, undefined);
  } finally {
    await fake.close();
  }
});

Deno.test("openai client: a server that sends no usage leaves tokens and cost unknown, not zero", async () => {
  const fake = await startFakeOpenAi({
    sendUsage: false,
    script: [{ kind: "text", text: "hi" }, {
      kind: "json",
      reply: { content: "hi", toolCalls: [], model: "gpt-4o-mini", finishReason: "stop" },
    }],
  });
  try {
    const llm = new OpenAiProvider({ baseUrl: fake.baseUrl, model: "gpt-4o-mini" });
    for (
      const reply of [
        await llm.complete({ messages: user, tools: [] }),
        await llm.complete({ messages: user, tools: [] }),
      ]
    ) {
      assert.equal(reply.content, "hi");
      assert.equal(reply.usage, undefined);
      assert.equal(
        reply.costUsd,
        undefined,
        "a known price without usage is still an unknown cost",
      );
    }
  } finally {
    await fake.close();
  }
});

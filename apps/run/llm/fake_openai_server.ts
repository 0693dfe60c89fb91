/**
 * A local fake of the OpenAI Chat Completions endpoint on 127.0.0.1, for tests and demos.
 * It speaks the real wire protocol (SSE streaming, tool-call deltas split over chunks, usage in
 * the last chunk). Replies come from a script of canned behaviours (errors, hangs, text, tool
 * calls) and, when the script is used up, from an optional "brain" provider such as the mock.
 *
 * @module
 */
import type { ChatMessage, LlmProvider, LlmReply, ToolSpec } from "./types.ts";

/** One scripted behaviour of the fake endpoint. */
export type FakeStep =
  | { kind: "text"; text: string; pieces?: number }
  | { kind: "tools"; calls: { id?: string; name: string; arguments: string }[]; text?: string }
  | { kind: "status"; status: number; body?: unknown }
  | { kind: "json"; reply: LlmReply }
  | { kind: "hang" }
  | { kind: "garbage" };

/** A received request, for assertions. */
export interface FakeRequest {
  /** Authorization header. */
  authorization: string | null;
  /** Parsed JSON body. */
  body: {
    model: string;
    messages: ChatMessage[];
    tools?: { function: ToolSpec }[];
    stream?: boolean;
  };
}

/** A running fake endpoint. */
export interface FakeOpenAi {
  /** Base URL to give the client (`http://127.0.0.1:PORT/v1`). */
  baseUrl: string;
  /** Requests received so far. */
  requests: FakeRequest[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Options of the fake endpoint. */
export interface FakeOptions {
  /** Behaviours consumed in order, one per request. */
  script?: FakeStep[];
  /** Answers requests once the script is used up. */
  brain?: LlmProvider;
  /** If set, requests without `Bearer <apiKey>` get 401. */
  apiKey?: string;
  /** Models that exist; others get 404 `model_not_found`. */
  models?: string[];
}

/** Starts the fake endpoint on an ephemeral port of 127.0.0.1. */
export function startFakeOpenAi(options: FakeOptions = {}): Promise<FakeOpenAi> {
  const script = [...(options.script ?? [])];
  const requests: FakeRequest[] = [];
  const hanging = new Set<AbortController>();
  const { promise, resolve } = Promise.withResolvers<FakeOpenAi>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) =>
      resolve({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        requests,
        close: async () => {
          for (const h of hanging) h.abort();
          await server.shutdown();
        },
      }),
  }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      return Response.json({ error: { message: "not found" } }, { status: 404 });
    }
    const body = await req.json();
    requests.push({ authorization: req.headers.get("authorization"), body });
    if (options.apiKey && req.headers.get("authorization") !== `Bearer ${options.apiKey}`) {
      return Response.json({ error: { message: "Incorrect API key provided" } }, { status: 401 });
    }
    if (options.models && !options.models.includes(body.model)) {
      return Response.json(
        { error: { message: `The model '${body.model}' does not exist`, code: "model_not_found" } },
        { status: 404 },
      );
    }
    const step = script.shift();
    if (step?.kind === "status") {
      return Response.json(step.body ?? { error: { message: "scripted" } }, {
        status: step.status,
      });
    }
    if (step?.kind === "hang") {
      const stop = new AbortController();
      hanging.add(stop);
      // Sends headers, then nothing: the client must time out.
      return new Response(
        new ReadableStream({
          start: (c) => stop.signal.addEventListener("abort", () => c.close()),
        }),
        {
          headers: { "content-type": "text/event-stream" },
        },
      );
    }
    if (step?.kind === "garbage") {
      return new Response("data: {not json\n\n", {
        headers: { "content-type": "text/event-stream" },
      });
    }
    if (step?.kind === "json") {
      const r = step.reply;
      return Response.json({
        model: r.model,
        choices: [{
          finish_reason: r.finishReason,
          message: { role: "assistant", content: r.content, tool_calls: r.toolCalls },
        }],
        usage: r.usage &&
          { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens },
      });
    }
    let reply: LlmReply;
    if (step?.kind === "text") {
      reply = { content: step.text, toolCalls: [], model: body.model, finishReason: "stop" };
    } else if (step?.kind === "tools") {
      reply = {
        content: step.text ?? "",
        toolCalls: step.calls.map((c, i) => ({
          id: c.id ?? `call_${requests.length}_${i}`,
          type: "function",
          function: { name: c.name, arguments: c.arguments },
        })),
        model: body.model,
        finishReason: "tool_calls",
      };
    } else if (options.brain) {
      reply = await options.brain.complete({
        messages: body.messages,
        tools: (body.tools ?? []).map((t: { function: ToolSpec }) => t.function),
      });
    } else {
      return Response.json({ error: { message: "fake server: script used up" } }, { status: 500 });
    }
    return new Response(
      streamReply(reply, body.model, step?.kind === "text" ? step.pieces : undefined),
      {
        headers: { "content-type": "text/event-stream" },
      },
    );
  });
  return promise;
}

/** Encodes a reply as the SSE chunks OpenAI sends, splitting text and tool arguments. */
function streamReply(reply: LlmReply, model: string, pieces = 3): ReadableStream<Uint8Array> {
  const chunks: unknown[] = [];
  const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", model };
  chunks.push({
    ...base,
    choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }],
  });
  for (const part of split(reply.content, pieces)) {
    chunks.push({
      ...base,
      choices: [{ index: 0, delta: { content: part }, finish_reason: null }],
    });
  }
  reply.toolCalls.forEach((call, index) => {
    const [first, ...more] = split(call.function.arguments, 2);
    chunks.push({
      ...base,
      choices: [{
        index: 0,
        delta: {
          tool_calls: [{
            index,
            id: call.id,
            type: "function",
            function: { name: call.function.name, arguments: first ?? "" },
          }],
        },
        finish_reason: null,
      }],
    });
    for (const part of more) {
      chunks.push({
        ...base,
        choices: [{
          index: 0,
          delta: { tool_calls: [{ index, function: { arguments: part } }] },
          finish_reason: null,
        }],
      });
    }
  });
  const finish = reply.toolCalls.length > 0 ? "tool_calls" : "stop";
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
  const promptTokens = reply.usage?.promptTokens ?? 42;
  const completionTokens = reply.usage?.completionTokens ?? 7;
  chunks.push({
    ...base,
    choices: [],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  });
  const events = [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), "data: [DONE]\n\n"];
  const encoder = new TextEncoder();
  // One network write per chunk, a few ms apart, like a real endpoint generating tokens.
  return new ReadableStream({
    async pull(controller) {
      const next = events.shift();
      if (next === undefined) return controller.close();
      await new Promise((r) => setTimeout(r, 2));
      controller.enqueue(encoder.encode(next));
    },
  });
}

function split(text: string, pieces: number): string[] {
  if (text === "") return [];
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * A local fake of the OpenAI Chat Completions endpoint on 127.0.0.1, for tests and demos.
 * It speaks the documented wire shapes, checked with the official `openai` SDK in
 * `fake_openai_server_test.ts`: with `stream: true` server-sent `chat.completion.chunk` events
 * (tool-call deltas split over chunks, `delta.refusal`, and a final usage chunk with empty
 * `choices` when `stream_options.include_usage` is set), otherwise one JSON `chat.completion`
 * (`id`, `object`, `created`, `model`, `choices[].index`, `message.refusal`, `finish_reason`,
 * `usage` with `total_tokens`). Replies come from a script of canned behaviours (errors, hangs,
 * text, tool calls, refusals) and, when the script is used up, from an optional "brain" provider
 * such as the mock.
 *
 * @module
 */
import type { ChatMessage, ChatModel, LlmReply, ToolSpec } from "./types.ts";

/**
 * One scripted behaviour of the fake endpoint. `json` always answers with one JSON completion,
 * even to `stream: true` (as some servers do); the others follow the request's `stream` flag.
 */
export type FakeStep =
  /** Text in `pieces` chunks; `finishReason: "length"` plays an answer cut at the token limit. */
  | { kind: "text"; text: string; pieces?: number; finishReason?: string }
  | { kind: "tools"; calls: { id?: string; name: string; arguments: string }[]; text?: string }
  /** The model declines: `delta.refusal` pieces, or `message.refusal` when not streaming. */
  | { kind: "refusal"; text: string }
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
    stream_options?: { include_usage?: boolean };
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
  brain?: ChatModel;
  /** If set, requests without `Bearer <apiKey>` get 401. */
  apiKey?: string;
  /** Models that exist; others get 404 `model_not_found`. */
  models?: string[];
  /** Send `usage` (like OpenAI) or leave it out (like some local servers). @default true */
  sendUsage?: boolean;
}

/** Starts the fake endpoint on an ephemeral port of 127.0.0.1. */
export function startFakeOpenAi(options: FakeOptions = {}): Promise<FakeOpenAi> {
  const fake: Fake = {
    options,
    script: [...(options.script ?? [])],
    requests: [],
    hanging: new Set<AbortController>(),
    sendUsage: options.sendUsage ?? true,
  };
  const { promise, resolve } = Promise.withResolvers<FakeOpenAi>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) =>
      resolve({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        requests: fake.requests,
        close: async () => {
          for (const h of fake.hanging) h.abort();
          await server.shutdown();
        },
      }),
  }, (req) => handleRequest(fake, req));
  return promise;
}

/** The state of one fake endpoint: its options, the script left, requests, hanging responses. */
interface Fake {
  options: FakeOptions;
  script: FakeStep[];
  requests: FakeRequest[];
  hanging: Set<AbortController>;
  sendUsage: boolean;
}

/** Answers one request: route, API key and model checks, then the next scripted behaviour. */
async function handleRequest(fake: Fake, req: Request): Promise<Response> {
  const { options, requests, sendUsage } = fake;
  const url = new URL(req.url);
  if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
    return apiError(404, "not found");
  }
  const body: FakeRequest["body"] = await req.json();
  requests.push({ authorization: req.headers.get("authorization"), body });
  if (options.apiKey && req.headers.get("authorization") !== `Bearer ${options.apiKey}`) {
    return apiError(401, "Incorrect API key provided", "invalid_api_key");
  }
  if (options.models && !options.models.includes(body.model)) {
    return apiError(404, `The model '${body.model}' does not exist`, "model_not_found");
  }
  const step = fake.script.shift();
  const canned = cannedResponse(step, fake.hanging);
  if (canned) return canned;
  const meta = {
    id: `chatcmpl-fake${requests.length}`,
    created: Math.floor(Date.now() / 1000),
    model: body.model,
  };
  if (step?.kind === "json") {
    // Answers JSON whatever `stream` said, as servers that ignore streaming do.
    return Response.json(completion(step.reply, { ...meta, model: step.reply.model }, sendUsage));
  }
  const reply = await replyFor(step, body, fake);
  if (!reply) return apiError(500, "fake server: script used up");
  reply.usage ??= { promptTokens: 42, completionTokens: 7 };
  if (body.stream !== true) return Response.json(completion(reply, meta, sendUsage));
  const includeUsage = sendUsage && body.stream_options?.include_usage === true;
  return new Response(
    streamReply(reply, meta, {
      pieces: step?.kind === "text" ? step.pieces : undefined,
      includeUsage,
    }),
    {
      headers: { "content-type": "text/event-stream" },
    },
  );
}

/** The response of a behaviour that is not a reply (a status, a hang, garbage), else undefined. */
function cannedResponse(
  step: FakeStep | undefined,
  hanging: Set<AbortController>,
): Response | undefined {
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
  return undefined;
}

/** The reply a text, refusal or tools step scripts, else the brain's; undefined without one. */
async function replyFor(
  step: FakeStep | undefined,
  body: FakeRequest["body"],
  { options, requests }: Fake,
): Promise<LlmReply | undefined> {
  if (step?.kind === "text") {
    return {
      content: step.text,
      toolCalls: [],
      model: body.model,
      finishReason: step.finishReason ?? "stop",
    };
  }
  if (step?.kind === "refusal") {
    return {
      content: "",
      refusal: step.text,
      toolCalls: [],
      model: body.model,
      finishReason: "stop",
    };
  }
  if (step?.kind === "tools") {
    return {
      content: step.text ?? "",
      toolCalls: step.calls.map((c, i) => ({
        id: c.id ?? `call_${requests.length}_${i}`,
        type: "function",
        function: { name: c.name, arguments: c.arguments },
      })),
      model: body.model,
      finishReason: "tool_calls",
    };
  }
  if (options.brain) {
    return await options.brain.complete({
      messages: body.messages,
      tools: (body.tools ?? []).map((t: { function: ToolSpec }) => t.function),
    });
  }
  return undefined;
}

/** An error body as OpenAI sends it. */
function apiError(status: number, message: string, code: string | null = null): Response {
  const type = status === 401
    ? "invalid_request_error"
    : status >= 500
    ? "server_error"
    : "invalid_request_error";
  return Response.json({ error: { message, type, param: null, code } }, { status });
}

/** `id`, `created` and `model` of one response. */
interface Meta {
  id: string;
  created: number;
  model: string;
}

/** The `usage` object: prompt, completion and total tokens. */
function usageJson(usage: LlmReply["usage"]): Record<string, number> | undefined {
  if (!usage) return undefined;
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/** A non-streamed `chat.completion` object. */
function completion(reply: LlmReply, meta: Meta, sendUsage: boolean): Record<string, unknown> {
  const toolCalls = reply.toolCalls ?? [];
  const message: Record<string, unknown> = {
    role: "assistant",
    // Like OpenAI: null content when the model only called tools or refused.
    content: reply.content === "" && (toolCalls.length > 0 || reply.refusal) ? null : reply.content,
    refusal: reply.refusal ?? null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const json: Record<string, unknown> = {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: reply.finishReason }],
  };
  const usage = sendUsage ? usageJson(reply.usage) : undefined;
  if (usage) json.usage = usage;
  return json;
}

/** Encodes a reply as the SSE chunks OpenAI sends, splitting text and tool arguments. */
function streamReply(
  reply: LlmReply,
  meta: Meta,
  options: { pieces?: number; includeUsage: boolean },
): ReadableStream<Uint8Array> {
  const { pieces = 3, includeUsage } = options;
  const chunks: unknown[] = [];
  const base = {
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
  };
  // With include_usage every chunk carries `usage: null` until the last one, as OpenAI does.
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  chunks.push(
    chunk(
      reply.refusal
        ? { role: "assistant", content: null, refusal: "" }
        : { role: "assistant", content: "", refusal: null },
    ),
  );
  for (const part of split(reply.refusal ?? "", pieces)) chunks.push(chunk({ refusal: part }));
  for (const part of split(reply.content, pieces)) chunks.push(chunk({ content: part }));
  reply.toolCalls.forEach((call, index) => {
    const [first, ...more] = split(call.function.arguments, 2);
    chunks.push(chunk({
      tool_calls: [{
        index,
        id: call.id,
        type: "function",
        function: { name: call.function.name, arguments: first ?? "" },
      }],
    }));
    for (const part of more) {
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  const finish = reply.toolCalls.length > 0 ? "tool_calls" : reply.finishReason || "stop";
  chunks.push(chunk({}, finish));
  if (includeUsage) chunks.push({ ...base, choices: [], usage: usageJson(reply.usage) });
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

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type {
  AttributeValue,
  EndSpanOptions,
  ExitKind,
  ExitSite,
  LlmCall,
  ModelPrice,
  ParentRef,
  PriceTable,
  RecordedTiming,
  Recorder,
  RecordErrorOptions,
  Span,
  SpanError,
  SpanHandle,
  SpanKind,
  SpanStatus,
  StartSpanOptions,
  ToolCall as RecordedToolCall,
  TraceData,
} from "@loom/xray";
export type {
  ChatMessage,
  ChatModel,
  LlmReply,
  LlmRequest,
  ToolCall,
  ToolSpec,
  Usage,
} from "../mod.ts";

/**
 * An OpenAI-compatible Chat Completions client over `fetch`, with tool calling and streaming.
 * Works with OpenAI, Ollama's `/v1`, vLLM and the llama.cpp server. Failures become `LlmError`s
 * whose category tells the runner's retry policy what to retry (429, 5xx, network, timeout).
 * A refusal (`delta.refusal`, `message.refusal`) is kept in `LlmReply.refusal`, `finish_reason`
 * as it came (`length` = the answer was cut), and a reply without `usage` has no `usage` and no
 * `costUsd` (unknown, not zero).
 *
 * @module
 */
import { readSse } from "../sse.ts";
import {
  type ChatMessage,
  type ChatModel,
  LlmError,
  type LlmReply,
  type LlmRequest,
  type ToolCall,
} from "./types.ts";

/** Options of the OpenAI-compatible client. */
export interface OpenAiOptions {
  /** Base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  /** Model name. */
  model: string;
  /** Bearer token; optional for local servers. */
  apiKey?: string;
  /** Timeout of one request in ms (whole response, streaming included). */
  timeoutMs?: number;
  /** Price in US dollars per million tokens, when known: `[input, output]`. */
  pricePerMTok?: [number, number];
}

/** Options of `openAiCompatible`; each has a default, so `openAiCompatible()` works as it is. */
export interface OpenAiCompatibleOptions {
  /**
   * Base URL of the Chat Completions API: OpenAI, Ollama (`http://127.0.0.1:11434/v1`), vLLM,
   * llama.cpp, a regression-lab cassette. Undefined or empty takes the default.
   * @default `$LOOM_LLM_BASE_URL`, else `https://api.openai.com/v1`
   */
  baseUrl?: string;
  /** Model name sent to the endpoint. @default `$LOOM_LLM_MODEL`, else `gpt-4o-mini` */
  model?: string;
  /** Bearer token; local servers need none. @default `$LOOM_LLM_API_KEY`, else `$OPENAI_API_KEY` */
  apiKey?: string;
  /** Time limit of one request in ms, streaming included. @default 120000 */
  timeoutMs?: number;
  /**
   * Price in US dollars per million tokens, `[input, output]`, for the trace's and the budget's
   * cost. @default the list price for a few OpenAI models; unknown (no cost) for others
   */
  pricePerMTok?: [number, number];
}

/** An environment variable, when it is set and readable without a permission prompt. */
function envValue(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    const value = Deno.env.get(name);
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * A chat model behind an OpenAI-compatible Chat Completions endpoint, streamed, with tool calls.
 * Options left out come from `LOOM_LLM_BASE_URL`, `LOOM_LLM_MODEL` and `LOOM_LLM_API_KEY` (or
 * `OPENAI_API_KEY`), read only when env access is already granted. Failures are `LlmError`s:
 * 429, 5xx, network errors and timeouts are `transient` (retried by the chat agent), a rejected
 * key is `permission`, an unknown model `validation`. A refusal is `reply.refusal`, a cut answer
 * `finishReason: "length"`, and a reply without `usage` has no tokens or cost (unknown, not 0).
 *
 * @param options Endpoint, model, key, timeout, price.
 * @returns The model.
 * @throws {TypeError} When `baseUrl` is not an http(s) URL, or `model` is empty.
 * @throws {RangeError} When `timeoutMs` or a price is not a positive (or zero) number.
 *
 * @example
 * ```ts
 * import { openAiCompatible } from "@loom/run";
 *
 * const local = openAiCompatible({ baseUrl: "http://127.0.0.1:11434/v1", model: "qwen2.5" });
 * console.log(local.model); // "qwen2.5"
 * ```
 */
export function openAiCompatible(options: OpenAiCompatibleOptions = {}): ChatModel {
  const {
    baseUrl = envValue("LOOM_LLM_BASE_URL") ?? "https://api.openai.com/v1",
    model = envValue("LOOM_LLM_MODEL") ?? "gpt-4o-mini",
    apiKey = envValue("LOOM_LLM_API_KEY") ?? envValue("OPENAI_API_KEY"),
    timeoutMs = 120_000,
    pricePerMTok,
  } = { ...options, baseUrl: options.baseUrl || undefined };
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new TypeError(
      `Cannot create the OpenAI-compatible model as 'baseUrl' must be an http(s) URL: current value is ${
        JSON.stringify(baseUrl)
      }`,
    );
  }
  if (typeof model !== "string" || model.trim() === "") {
    throw new TypeError(
      `Cannot create the OpenAI-compatible model as 'model' must be a non-empty string: current value is ${
        JSON.stringify(model)
      }`,
    );
  }
  if (!(typeof timeoutMs === "number" && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError(
      `Cannot create the OpenAI-compatible model as 'timeoutMs' must be a positive number: current value is ${timeoutMs}`,
    );
  }
  if (
    pricePerMTok !== undefined &&
    !(Array.isArray(pricePerMTok) && pricePerMTok.length === 2 &&
      pricePerMTok.every((p) => typeof p === "number" && Number.isFinite(p) && p >= 0))
  ) {
    throw new RangeError(
      `Cannot create the OpenAI-compatible model as 'pricePerMTok' must be [input, output] dollars per million tokens: current value is ${
        JSON.stringify(pricePerMTok)
      }`,
    );
  }
  return new OpenAiProvider({ baseUrl, model, apiKey, timeoutMs, pricePerMTok });
}

/** Public list prices (USD per million tokens) of a few common models, for the trace's cost. */
const KNOWN_PRICES: Record<string, [number, number]> = {
  "gpt-4o-mini": [0.15, 0.6],
  "gpt-4o": [2.5, 10],
  "gpt-4.1-mini": [0.4, 1.6],
  "gpt-4.1": [2, 8],
};

/** Chat Completions client; see the module doc. */
export class OpenAiProvider implements ChatModel {
  /** Who serves it. */
  readonly provider = "openai";
  /** Model name. */
  readonly model: string;
  readonly #options: OpenAiOptions;

  /** @param options endpoint, model, key and timeout */
  constructor(options: OpenAiOptions) {
    this.model = options.model;
    this.#options = options;
  }

  /** Runs one streaming chat completion; see `ChatModel.complete`. */
  async complete(request: LlmRequest): Promise<LlmReply> {
    const { baseUrl, apiKey, timeoutMs = 120_000 } = this.#options;
    const url = `${baseUrl.replace(/\/+$/, "")}/chat/completions`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const body: Record<string, unknown> = {
      model: this.model,
      messages: request.messages.map(wireMessage),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (request.tools.length > 0) {
      body.tools = request.tools.map((t) => ({
        type: "function",
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    let response: Response;
    try {
      response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal });
    } catch (error) {
      throw this.#networkError(error, url, timeout, timeoutMs);
    }
    if (!response.ok) throw await httpError(response, url, this.model);
    try {
      const type = response.headers.get("content-type") ?? "";
      // Some servers ignore `stream: true`; accept a plain JSON completion too.
      if (type.includes("application/json")) return this.#fromJson(await response.json());
      return await this.#fromStream(response.body!, request.onDelta);
    } catch (error) {
      if (error instanceof LlmError) throw error;
      throw this.#networkError(error, url, timeout, timeoutMs);
    }
  }

  #networkError(error: unknown, url: string, timeout: AbortSignal, timeoutMs: number): LlmError {
    if (timeout.aborted) {
      return new LlmError(`the LLM request to ${url} timed out after ${timeoutMs} ms`, "transient");
    }
    if (error instanceof DOMException && error.name === "AbortError") {
      return new LlmError("the LLM request was cancelled", "unknown");
    }
    const detail = error instanceof Error ? error.message : String(error);
    return new LlmError(`could not reach the LLM endpoint ${url}: ${detail}`, "transient");
  }

  async #fromStream(
    body: ReadableStream<Uint8Array>,
    onDelta?: (text: string) => void,
  ): Promise<LlmReply> {
    let content = "";
    let refusal = "";
    let model = this.model;
    let finishReason = "stop";
    let usage: LlmReply["usage"];
    const calls: { id: string; name: string; arguments: string }[] = [];
    for await (const event of readSse(body)) {
      if (event.data === "[DONE]") break;
      let chunk: ChunkJson;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        throw new LlmError(`the LLM endpoint sent a stream chunk that is not JSON`, "transient");
      }
      if (chunk.error) {
        throw new LlmError(
          `the LLM endpoint reported: ${chunk.error.message ?? "error"}`,
          "transient",
        );
      }
      if (chunk.model) model = chunk.model;
      if (chunk.usage) {
        usage = {
          promptTokens: chunk.usage.prompt_tokens ?? 0,
          completionTokens: chunk.usage.completion_tokens ?? 0,
        };
      }
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      if (choice.finish_reason) finishReason = choice.finish_reason;
      const delta = choice.delta ?? {};
      if (typeof delta.content === "string" && delta.content !== "") {
        content += delta.content;
        onDelta?.(delta.content);
      }
      // A refusal streams in its own field; it is not answer text, so it is not streamed out.
      if (typeof delta.refusal === "string") refusal += delta.refusal;
      // Tool calls arrive in pieces keyed by index: the first piece has id and name, the
      // following ones append to the JSON arguments string.
      for (const piece of delta.tool_calls ?? []) {
        const index = piece.index ?? calls.length;
        const call = calls[index] ??= { id: "", name: "", arguments: "" };
        if (piece.id) call.id = piece.id;
        if (piece.function?.name) call.name += piece.function.name;
        if (piece.function?.arguments) call.arguments += piece.function.arguments;
      }
    }
    return this.#reply(content, refusal, calls, model, finishReason, usage);
  }

  #fromJson(json: CompletionJson): LlmReply {
    const message = json.choices?.[0]?.message ?? {};
    const calls = (message.tool_calls ?? []).map((c) => ({
      id: c.id ?? "",
      name: c.function?.name ?? "",
      arguments: c.function?.arguments ?? "",
    }));
    const usage = json.usage
      ? {
        promptTokens: json.usage.prompt_tokens ?? 0,
        completionTokens: json.usage.completion_tokens ?? 0,
      }
      : undefined;
    return this.#reply(
      message.content ?? "",
      message.refusal ?? "",
      calls,
      json.model ?? this.model,
      json.choices?.[0]?.finish_reason ?? "stop",
      usage,
    );
  }

  #reply(
    content: string,
    refusal: string,
    calls: { id: string; name: string; arguments: string }[],
    model: string,
    finishReason: string,
    usage: LlmReply["usage"],
  ): LlmReply {
    const toolCalls: ToolCall[] = calls.filter((c) => c.name !== "").map((c, i) => ({
      id: c.id || `call_${i + 1}`,
      type: "function",
      function: { name: c.name, arguments: c.arguments || "{}" },
    }));
    const reply: LlmReply = { content, toolCalls, model, finishReason };
    if (refusal !== "") reply.refusal = refusal;
    // No usage from the endpoint means unknown tokens and cost, not zero: both stay absent.
    if (usage) {
      reply.usage = usage;
      const price = this.#options.pricePerMTok ?? KNOWN_PRICES[this.model];
      if (price) {
        reply.costUsd = (usage.promptTokens * price[0] + usage.completionTokens * price[1]) / 1e6;
      }
    }
    return reply;
  }
}

/** The message as the endpoint expects it (drops empty tool call lists some servers reject). */
function wireMessage(message: ChatMessage): ChatMessage {
  if (message.role === "assistant" && message.tool_calls?.length === 0) {
    return { role: "assistant", content: message.content };
  }
  return message;
}

/** Turns a non-2xx response into an `LlmError` with a clear sentence and a retry category. */
async function httpError(response: Response, url: string, model: string): Promise<LlmError> {
  const text = await response.text().catch(() => "");
  let detail = text.slice(0, 200);
  try {
    const json = JSON.parse(text);
    detail = json?.error?.message ?? json?.message ?? detail;
  } catch {
    // not JSON: keep the text
  }
  const status = response.status;
  const suffix = detail ? `: ${detail}` : "";
  if (status === 401 || status === 403) {
    return new LlmError(
      `the LLM endpoint ${url} rejected the API key (HTTP ${status}); set LOOM_LLM_API_KEY or OPENAI_API_KEY${suffix}`,
      "permission",
      status,
    );
  }
  if (status === 404 || (status === 400 && /model/i.test(detail))) {
    return new LlmError(
      `model '${model}' is not available at ${url} (HTTP ${status})${suffix}`,
      "validation",
      status,
    );
  }
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    return new LlmError(
      `the LLM endpoint is busy or failing (HTTP ${status})${suffix}`,
      "transient",
      status,
    );
  }
  return new LlmError(
    `the LLM endpoint refused the request (HTTP ${status})${suffix}`,
    "validation",
    status,
  );
}

interface ChunkJson {
  model?: string;
  error?: { message?: string };
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  choices?: {
    finish_reason?: string | null;
    delta?: {
      content?: string | null;
      refusal?: string | null;
      tool_calls?: {
        index?: number;
        id?: string;
        function?: { name?: string; arguments?: string };
      }[];
    };
  }[];
}

interface CompletionJson {
  model?: string;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  choices?: {
    finish_reason?: string;
    message?: {
      content?: string | null;
      refusal?: string | null;
      tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[];
    };
  }[];
}

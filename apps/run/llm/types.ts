/**
 * The conversation and model shapes shared by every chat model (OpenAI-compatible, scripted, mock).
 * Messages use the Chat Completions wire format so a run's state can be sent as it is.
 *
 * @module
 */

/** A tool call the assistant asked for (Chat Completions format). */
export interface ToolCall {
  /** Id the tool result must refer to. */
  id: string;
  /** Always `function`. */
  type: "function";
  /** Name and JSON-encoded arguments. */
  function: { name: string; arguments: string };
}

/** One message of a conversation. */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: ToolCall[]; refusal?: string }
  | { role: "tool"; tool_call_id: string; content: string };

/** A tool offered to the LLM: name, description and JSON Schema of its arguments. */
export interface ToolSpec {
  /** Name the LLM calls it by (`^[A-Za-z0-9_-]{1,64}$`). */
  name: string;
  /** What it does, for the LLM. */
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

/** Token usage of one LLM call. */
export interface Usage {
  /** Prompt tokens. */
  promptTokens: number;
  /** Completion tokens. */
  completionTokens: number;
}

/** What one LLM call produced. Plain JSON: it is stored as a durable tool result. */
export interface LlmReply {
  /** Assistant text (may be empty when only tools were called). */
  content: string;
  /** Tools the assistant asked for. */
  toolCalls: ToolCall[];
  /** Model that answered. */
  model: string;
  /** Why it stopped (`stop`, `tool_calls`, `length` = cut at the output limit, ...). */
  finishReason: string;
  /**
   * The model's refusal message (`delta.refusal` / `message.refusal`), when it declined to
   * answer; absent otherwise. A refusal is not an answer: `content` is then usually empty.
   */
  refusal?: string;
  /** Token usage when the endpoint reported it (the mock estimates it); absent = unknown. */
  usage?: Usage;
  /** Cost in US dollars when the usage and the model's price are known; absent = unknown. */
  costUsd?: number;
}

/** One request to a provider. */
export interface LlmRequest {
  /** The conversation so far. */
  messages: ChatMessage[];
  /** Tools the LLM may call; empty means "answer now". */
  tools: ToolSpec[];
  /** Aborts the request. */
  signal?: AbortSignal;
  /** Called with each piece of assistant text as it arrives. */
  onDelta?: (text: string) => void;
}

/**
 * A chat model: one Chat Completions call at a time. `openAiCompatible()` talks to an endpoint,
 * `scriptedModel()` plays scripted turns in tests; any object of this shape works.
 *
 * @example
 * ```ts
 * import type { ChatModel } from "@loom/run";
 *
 * const echo: ChatModel = {
 *   provider: "echo",
 *   model: "echo-1",
 *   complete: (request) => {
 *     const last = request.messages.at(-1);
 *     return Promise.resolve({
 *       content: `you said: ${last?.content ?? ""}`,
 *       toolCalls: [],
 *       model: "echo-1",
 *       finishReason: "stop",
 *     });
 *   },
 * };
 * ```
 */
export interface ChatModel {
  /** Who serves it, for traces: `openai`, `mock`, `scripted`... */
  readonly provider: string;
  /** Model name. */
  readonly model: string;
  /**
   * Runs one chat completion. Throws `LlmError` on failure; its `category` tells the runner's
   * retry policy whether to try again (`transient`: 429, 5xx, network, timeout).
   */
  complete(request: LlmRequest): Promise<LlmReply>;
}

/** How an LLM failure should be treated: retried (`transient`) or reported. */
export type LlmErrorCategory = "transient" | "permission" | "validation" | "unknown";

/**
 * A failed LLM call, with a one-sentence message and a retry category.
 *
 * @example
 * ```ts
 * import { LlmError } from "@loom/run";
 *
 * const busy = new LlmError("the endpoint is busy (HTTP 429)", "transient", 429);
 * console.log(busy.category); // "transient": the chat agent tries again with backoff
 * ```
 */
export class LlmError extends Error {
  /** Retry category (matches the runner's error categories). */
  readonly category: LlmErrorCategory;
  /** HTTP status when there was one. */
  readonly status?: number;
  /**
   * Creates the error.
   *
   * @param message one clear sentence
   * @param category retry category
   * @param status HTTP status
   */
  constructor(message: string, category: LlmErrorCategory, status?: number) {
    super(message);
    this.name = "LlmError";
    this.category = category;
    this.status = status;
  }
}

/** Rough token count for text (4 characters a token), used where no tokenizer is available. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

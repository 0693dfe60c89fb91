/**
 * `scriptedModel()`: a chat model for tests that plays scripted turns (answers, tool calls,
 * refusals, cut answers) instead of asking an LLM. Which turn it plays is read from the
 * conversation (the number of assistant messages so far), not from a counter, so a resumed run
 * in a fresh process gets the same turn as the one that was killed. As the "brain" of the fake
 * OpenAI-compatible server (`@loom/run/testing`) it also records regression-lab cassettes.
 *
 * @module
 */
import {
  type ChatMessage,
  type ChatModel,
  estimateTokens,
  LlmError,
  type LlmReply,
  type LlmRequest,
  type ToolCall,
  type Usage,
} from "./types.ts";

/** A tool call in a scripted turn. */
export interface ScriptedToolCall {
  /** Tool name. */
  name: string;
  /** Arguments: an object (sent as JSON) or the raw JSON text (to script malformed calls). */
  arguments?: Record<string, unknown> | string;
  /** Tool-call id. @default `call_<turn>_<n>` */
  id?: string;
}

/** One scripted turn: an answer's text, or the reply in parts. */
export type ScriptedTurn = string | {
  /** Assistant text. @default "" */
  content?: string;
  /** Tools to call. */
  toolCalls?: ScriptedToolCall[];
  /** A refusal instead of an answer. */
  refusal?: string;
  /** `finish_reason`; `length` plays an answer cut at the output limit. @default `stop` or `tool_calls` */
  finishReason?: string;
  /** Token usage; `null` plays an endpoint that reports none. @default estimated from the text */
  usage?: Usage | null;
  /** Cost in US dollars. @default 0, or none when `usage` is `null` */
  costUsd?: number;
};

/** Options of `scriptedModel`. */
export interface ScriptedModelOptions {
  /** Model name reported in replies and traces. @default "scripted-1" */
  model?: string;
}

/** How many assistant messages the conversation holds: the index of the turn to play. */
function turnIndex(messages: ChatMessage[]): number {
  return messages.filter((m) => m.role === "assistant").length;
}

/** A scripted turn as a reply. */
function replyOf(turn: ScriptedTurn, index: number, model: string, request: LlmRequest): LlmReply {
  const t = typeof turn === "string" ? { content: turn } : turn;
  const toolCalls: ToolCall[] = (t.toolCalls ?? []).map((call, i) => ({
    id: call.id ?? `call_${index + 1}_${i + 1}`,
    type: "function",
    function: {
      name: call.name,
      arguments: typeof call.arguments === "string"
        ? call.arguments
        : JSON.stringify(call.arguments ?? {}),
    },
  }));
  const content = t.content ?? "";
  const reply: LlmReply = {
    content,
    toolCalls,
    model,
    finishReason: t.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
  };
  if (t.refusal !== undefined) reply.refusal = t.refusal;
  if (t.usage !== null) {
    reply.usage = t.usage ?? {
      promptTokens: request.messages.reduce((n, m) => n + estimateTokens(m.content ?? ""), 0),
      completionTokens: estimateTokens(content + JSON.stringify(toolCalls)),
    };
    reply.costUsd = t.costUsd ?? 0;
  } else if (t.costUsd !== undefined) reply.costUsd = t.costUsd;
  return reply;
}

/**
 * A chat model that plays `turns` in order: turn N answers the request whose conversation holds
 * N assistant messages. Text is streamed word by word, like an endpoint does. A conversation
 * longer than the script fails with an `LlmError` (`validation`) naming the missing turn.
 *
 * @param turns The turns, or a function choosing one from the request and the turn index.
 * @param options Model name.
 * @returns The model.
 * @throws {TypeError} When `turns` is neither a non-empty array nor a function.
 *
 * @example
 * ```ts
 * import { scriptedModel } from "@loom/run";
 *
 * const model = scriptedModel([
 *   { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
 *   "Sunny in Oslo tomorrow.",
 * ]);
 * const first = await model.complete({ messages: [{ role: "user", content: "Oslo?" }], tools: [] });
 * console.log(first.toolCalls[0].function.name); // "forecast"
 * ```
 */
export function scriptedModel(
  turns: readonly ScriptedTurn[] | ((request: LlmRequest, turn: number) => ScriptedTurn),
  options: ScriptedModelOptions = {},
): ChatModel {
  if (typeof turns !== "function" && !(Array.isArray(turns) && turns.length > 0)) {
    throw new TypeError(
      `Cannot create a scripted model as 'turns' must be a non-empty array of turns or a function: current value is ${
        JSON.stringify(turns)
      }`,
    );
  }
  const { model = "scripted-1" } = options;
  return {
    provider: "scripted",
    model,
    complete(request: LlmRequest): Promise<LlmReply> {
      const index = turnIndex(request.messages);
      const turn = typeof turns === "function" ? turns(request, index) : turns[index];
      if (turn === undefined) {
        const count = (turns as readonly ScriptedTurn[]).length;
        return Promise.reject(
          new LlmError(
            `the scripted model has ${count} turn${
              count === 1 ? "" : "s"
            }, and the conversation asks for turn ${index + 1}`,
            "validation",
          ),
        );
      }
      const reply = replyOf(turn, index, model, request);
      for (const piece of reply.content.match(/\S+\s*|\s+/g) ?? []) request.onDelta?.(piece);
      return Promise.resolve(reply);
    },
  };
}

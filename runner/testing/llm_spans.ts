/**
 * LLM calls made through `ctx.callTool("llm", …)` are stored as tool calls, so a trace rebuilt
 * from the store shows them as tools. This turns them back into LLM spans (model, messages,
 * response, tokens, cost) so golden traces compare tokens and cost too.
 *
 * @module
 */
import {
  costOf,
  GEN_AI_OPERATION_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  LOOM_COST_USD,
  type Span,
  type TraceData,
} from "@loom/xray";
import type { Store } from "../store/store.ts";
import { traceRun } from "../trace.ts";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null;

/** Token counts in the OpenAI wire shape (`prompt_tokens`) or camel case (`promptTokens`). */
function usageOf(output: unknown): { input: number; output: number } | undefined {
  const u = isObject(output) ? output.usage : undefined;
  if (!isObject(u)) return undefined;
  const input = u.prompt_tokens ?? u.promptTokens ?? u.input_tokens ?? u.inputTokens;
  const out = u.completion_tokens ?? u.completionTokens ?? u.output_tokens ?? u.outputTokens;
  return typeof input === "number" && typeof out === "number" ? { input, output: out } : undefined;
}

/**
 * Rewrites the tool spans of `toolName` into LLM spans.
 *
 * @param trace A trace (not changed).
 * @param toolName Name the agent gives its LLM calls. @default "llm"
 * @returns A new trace.
 */
export function llmCallsFromTools(trace: TraceData, toolName = "llm"): TraceData {
  return {
    ...trace,
    spans: trace.spans.map((s) => {
      if (s.kind !== "tool" || s.attributes["gen_ai.tool.name"] !== toolName) return s;
      const args = isObject(s.input) ? s.input : {};
      const model = String(args.model ?? (isObject(s.output) ? s.output.model : "") ?? "unknown");
      const usage = usageOf(s.output);
      const attributes: Span["attributes"] = { ...s.attributes, [GEN_AI_OPERATION_NAME]: "chat" };
      delete attributes["gen_ai.tool.name"];
      attributes[GEN_AI_REQUEST_MODEL] = model;
      if (usage) {
        attributes[GEN_AI_USAGE_INPUT_TOKENS] = usage.input;
        attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output;
        const cost = costOf({ model, inputTokens: usage.input, outputTokens: usage.output });
        if (cost !== undefined) attributes[LOOM_COST_USD] = cost;
      }
      return { ...s, kind: "llm" as const, name: `chat ${model}`, attributes };
    }),
  };
}

/**
 * A scenario `trace` builder: `traceRun`, with the agent's `llm` tool calls as LLM spans.
 *
 * @param toolName Name the agent gives its LLM calls. @default "llm"
 * @returns The builder.
 */
export function traceWithLlmCalls(
  toolName = "llm",
): (store: Store, runId: string) => Promise<TraceData> {
  return async (store, runId) => llmCallsFromTools(await traceRun(store, runId), toolName);
}

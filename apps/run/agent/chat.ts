/**
 * The chat agent: one durable step = one LLM turn plus the tool calls it asked for. The
 * conversation is the run's state. The LLM call and every tool call go through `ctx.callTool`,
 * so a resumed run replays finished calls from the store instead of repeating them.
 *
 * @module
 */
import { type Agent, defineAgent, recur, type RetryPolicy, type StepContext } from "@loom/runner";
import type { RunSettings } from "../config.ts";
import { CHAT_SYSTEM } from "../llm/prompts.ts";
import {
  type ChatMessage,
  LlmError,
  type LlmReply,
  type ToolSpec,
  type Usage,
} from "../llm/types.ts";
import { ToolError } from "../tools/types.ts";
import type { Runtime, Runtimes } from "./runtime.ts";

/** What a chat run starts from. */
export interface ChatInput {
  /** The user's question. */
  question: string;
  /** Settings (workspace, LLM, limits) stored with the run. */
  settings: RunSettings;
  /** Keep the conversation open after answering: wait for a `message` signal (serve). */
  followUps?: boolean;
}

/**
 * Totals of LLM usage. Tokens and cost count only the calls that reported them; the calls that
 * did not are counted apart, so a summary can say "unknown" instead of a false zero.
 */
export interface UsageTotals extends Usage {
  /** LLM calls made. */
  calls: number;
  /** Cost in USD of the calls whose price is known. */
  costUsd: number;
  /** LLM calls whose endpoint reported no token usage (absent when none). */
  callsWithoutUsage?: number;
  /** LLM calls whose cost is unknown: no usage, or no known price (absent when none). */
  callsWithoutCost?: number;
}

/** The state of a chat run: the conversation and the budgets spent. */
export interface ChatState {
  /** Settings stored with the run. */
  settings: RunSettings;
  /** The conversation in Chat Completions format. */
  messages: ChatMessage[];
  /** LLM turns since the last user message. */
  turns: number;
  /** Tool calls since the last user message. */
  toolCalls: number;
  /** Total LLM turns of the run (names the durable LLM calls). */
  totalTurns: number;
  /** True once `--max-tool-calls` is reached: the LLM gets no more tools. */
  toolsExhausted: boolean;
  /** Keep the conversation open after answering. */
  followUps: boolean;
  /** LLM usage so far. */
  usage: UsageTotals;
  /** The last answer, when the run waits for a follow-up. */
  answer?: string;
}

/**
 * Why a chat run stopped: `answer` (a complete answer), `max-steps` (no answer within
 * `--max-steps`), `refusal` (the model declined; see `ChatResult.refusal`) or `length` (the answer
 * was cut at the model's output token limit, `finish_reason: "length"`).
 */
export type StoppedBy = "answer" | "max-steps" | "refusal" | "length";

/** How a chat run ended. */
export interface ChatResult {
  /** The final answer (empty after a refusal; incomplete when `stoppedBy` is `length`). */
  answer: string;
  /** Why the run stopped; anything but `answer` means there is no complete answer. */
  stoppedBy: StoppedBy;
  /** The model's refusal message, when `stoppedBy` is `refusal`. */
  refusal?: string;
  /** LLM turns taken for the last question. */
  turns: number;
  /** Tool calls made for the last question. */
  toolCalls: number;
  /** LLM usage of the run. */
  usage: UsageTotals;
}

/** The outcome of one tool call as stored (errors are results the LLM sees, not failures). */
interface ToolOutcome {
  ok: boolean;
  output: string;
}

/** Signal name a chat run in follow-up mode waits for; its payload is `{ message: string }`. */
export const MESSAGE_SIGNAL = "message";

/** Retries of LLM calls: transient HTTP errors (429, 5xx, network, timeout) with backoff. */
export const LLM_RETRY: RetryPolicy = {
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 8000,
  multiplier: 2,
  jitter: 0.2,
  retryOn: ["transient"],
  classify: (e) => (e instanceof LlmError ? e.category : undefined),
};

/** Name of the chat agent in the run store. */
export const CHAT_AGENT = "loom-run.chat";

/** Usage totals of nothing. */
export const NO_USAGE: UsageTotals = { calls: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };

/** Usage totals with the unknown counts set only when there are any (stored states stay small). */
function usageTotals(
  base: Usage & { calls: number; costUsd: number },
  callsWithoutUsage: number,
  callsWithoutCost: number,
): UsageTotals {
  const totals: UsageTotals = { ...base };
  if (callsWithoutUsage > 0) totals.callsWithoutUsage = callsWithoutUsage;
  if (callsWithoutCost > 0) totals.callsWithoutCost = callsWithoutCost;
  return totals;
}

/** Sums usage totals. */
export function sumUsage(...all: UsageTotals[]): UsageTotals {
  return all.reduce((a, b) =>
    usageTotals(
      {
        calls: a.calls + b.calls,
        promptTokens: a.promptTokens + b.promptTokens,
        completionTokens: a.completionTokens + b.completionTokens,
        costUsd: a.costUsd + b.costUsd,
      },
      (a.callsWithoutUsage ?? 0) + (b.callsWithoutUsage ?? 0),
      (a.callsWithoutCost ?? 0) + (b.callsWithoutCost ?? 0),
    ), NO_USAGE);
}

/** The initial state of a chat run. */
export function chatInitialState(input: ChatInput): ChatState {
  return {
    settings: input.settings,
    messages: [{ role: "system", content: CHAT_SYSTEM }, { role: "user", content: input.question }],
    turns: 0,
    toolCalls: 0,
    totalTurns: 0,
    toolsExhausted: false,
    followUps: input.followUps ?? false,
    usage: NO_USAGE,
  };
}

/**
 * Makes one durable LLM call through `ctx.callTool`, streaming text to the run's events while it
 * arrives. A replayed call returns the stored reply without calling the LLM (`fresh: false`).
 */
export async function durableLlmCall(
  ctx: StepContext,
  runtime: Runtime,
  runtimes: Runtimes,
  call: {
    key: string;
    purpose: string;
    turn: number;
    messages: ChatMessage[];
    tools: ToolSpec[];
    /** Stream text to the run's events (default true; off for machine-read replies like plans). */
    stream?: boolean;
  },
): Promise<{ reply: LlmReply; fresh: boolean }> {
  const { llm } = runtime;
  let fresh = false;
  const reply = await ctx.callTool<LlmReply>(
    "llm",
    { purpose: call.purpose, turn: call.turn, model: llm.model, messages: call.messages.length },
    async (_args, { signal }) => {
      fresh = true;
      const startedAt = Date.now();
      const base = {
        type: "llm" as const,
        runId: ctx.runId,
        turn: call.turn,
        purpose: call.purpose,
        provider: llm.kind,
        model: llm.model,
        messages: call.messages,
        startedAt,
      };
      try {
        const reply = await llm.complete({
          messages: call.messages,
          tools: call.tools,
          signal,
          onDelta: call.stream === false
            ? undefined
            : (text) => runtimes.events.emit({ type: "delta", runId: ctx.runId, text }),
        });
        runtimes.events.emit({ ...base, reply, durationMs: Date.now() - startedAt });
        return reply;
      } catch (error) {
        runtimes.events.emit({
          ...base,
          error: (error as Error).message,
          durationMs: Date.now() - startedAt,
        });
        throw error;
      }
    },
    { key: call.key, retry: LLM_RETRY },
  );
  return { reply, fresh };
}

/** Runs one tool for the LLM; every failure becomes an error result the LLM can read. */
async function runTool(
  ctx: StepContext,
  runtime: Runtime,
  runtimes: Runtimes,
  call: { id: string; name: string; arguments: string },
  key: string,
  signal: AbortSignal,
): Promise<ToolOutcome> {
  const { knobs } = runtimes;
  let args: Record<string, unknown>;
  try {
    const parsed = JSON.parse(call.arguments || "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error("not an object");
    }
    args = parsed;
  } catch {
    return {
      ok: false,
      output: `error: the arguments of ${call.name} are not a JSON object: ${
        call.arguments.slice(0, 200)
      }`,
    };
  }
  const tool = runtime.tools.tools.get(call.name);
  if (!tool) {
    return {
      ok: false,
      output: `error: there is no tool named '${call.name}'; available: ${
        [...runtime.tools.tools.keys()].join(", ")
      }`,
    };
  }
  const startedAt = Date.now();
  runtimes.events.emit({
    type: "tool_start",
    runId: ctx.runId,
    name: call.name,
    args,
    key,
    callId: call.id,
  });
  if (knobs.toolDelayMs > 0) await abortableSleep(knobs.toolDelayMs, signal);
  // The test log records real executions only: a call killed during the delay never ran.
  if (knobs.toolLog) {
    await Deno.writeTextFile(knobs.toolLog, `${ctx.runId}\t${key}\t${call.name}\n`, {
      append: true,
    });
  }
  let outcome: ToolOutcome;
  try {
    const warn = (message: string) =>
      runtimes.events.emit({ type: "warning", runId: ctx.runId, message });
    outcome = { ok: true, output: await tool.run(args, { signal, warn }) };
  } catch (error) {
    if (signal.aborted) throw error;
    // Tool failures (bad path, crashed MCP server, timeout) are information for the LLM.
    const message = error instanceof ToolError
      ? error.message
      : `${call.name} failed: ${(error as Error)?.message ?? error}`;
    outcome = { ok: false, output: `error: ${message}` };
  }
  runtimes.events.emit({
    type: "tool_end",
    runId: ctx.runId,
    name: call.name,
    args,
    key,
    callId: call.id,
    ok: outcome.ok,
    output: outcome.output,
    startedAt,
    durationMs: Date.now() - startedAt,
  });
  return outcome;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Adds one reply's usage to the totals (a reply without usage or cost counts as unknown). */
export function addUsage(total: UsageTotals, reply: LlmReply): UsageTotals {
  return usageTotals(
    {
      calls: total.calls + 1,
      promptTokens: total.promptTokens + (reply.usage?.promptTokens ?? 0),
      completionTokens: total.completionTokens + (reply.usage?.completionTokens ?? 0),
      costUsd: total.costUsd + (reply.costUsd ?? 0),
    },
    (total.callsWithoutUsage ?? 0) + (reply.usage ? 0 : 1),
    (total.callsWithoutCost ?? 0) + (reply.costUsd === undefined ? 1 : 0),
  );
}

/** Why a reply without tool calls ends the turn: an answer, a refusal, or a cut answer. */
export function stopReason(reply: LlmReply): "answer" | "refusal" | "length" {
  if (reply.refusal) return "refusal";
  return reply.finishReason === "length" ? "length" : "answer";
}

/** The assistant message of a reply, as the conversation keeps it (refusals included). */
function assistantMessage(reply: LlmReply): ChatMessage {
  if (reply.toolCalls.length > 0) {
    return { role: "assistant", content: reply.content || null, tool_calls: reply.toolCalls };
  }
  if (reply.refusal) {
    return { role: "assistant", content: reply.content || null, refusal: reply.refusal };
  }
  return { role: "assistant", content: reply.content };
}

/** Builds the chat agent; its steps get their LLM and tools from `runtimes`. */
export function chatAgent(runtimes: Runtimes): Agent<ChatState, ChatResult, ChatInput> {
  return defineAgent<ChatState, ChatResult, ChatInput>({
    name: CHAT_AGENT,
    version: 1,
    initialState: chatInitialState,
    // LLM and tool calls retry on their own; a step that still fails should stop the run.
    retry: { maxAttempts: 1 },
    async step(state, ctx) {
      const runtime = await runtimes.get(state.settings);
      const { maxSteps, maxToolCalls } = state.settings;
      if (state.turns >= maxSteps) {
        const last = [...state.messages].reverse().find((m) => m.role === "assistant" && m.content);
        return {
          answer: (last?.content as string | undefined) ??
            `No final answer within ${maxSteps} LLM turns (--max-steps ${maxSteps}).`,
          stoppedBy: "max-steps",
          turns: state.turns,
          toolCalls: state.toolCalls,
          usage: state.usage,
        };
      }
      const turn = state.totalTurns + 1;
      const { reply, fresh } = await durableLlmCall(ctx, runtime, runtimes, {
        key: `llm:${turn}`,
        purpose: "chat",
        turn,
        messages: state.messages,
        tools: state.toolsExhausted ? [] : runtime.specs,
      });
      const usage = addUsage(state.usage, reply);
      const messages = [...state.messages, assistantMessage(reply)];
      const next = { ...state, messages, usage, turns: state.turns + 1, totalTurns: turn };

      if (reply.toolCalls.length === 0) {
        const stoppedBy = stopReason(reply);
        // A replayed answer was already shown by the process that got it.
        if (fresh) {
          runtimes.events.emit({
            type: "answer",
            runId: ctx.runId,
            text: reply.content,
            stoppedBy,
            refusal: reply.refusal,
          });
        }
        const result: ChatResult = {
          answer: reply.content,
          stoppedBy,
          turns: next.turns,
          toolCalls: state.toolCalls,
          usage,
        };
        if (reply.refusal) result.refusal = reply.refusal;
        if (!state.followUps) return result;
        // Serve mode: the run stays open until the next user message arrives as a signal.
        const payload = await ctx.waitForSignal<{ message: string }>(MESSAGE_SIGNAL, {
          validate: (data) => {
            const message = (data as { message?: unknown })?.message;
            if (typeof message !== "string" || message.trim() === "") {
              throw new Error("a follow-up needs a non-empty message");
            }
            return { message };
          },
        });
        if (!("message" in payload)) return result;
        return recur({
          ...next,
          answer: reply.content,
          messages: [...messages, { role: "user", content: payload.message }],
          turns: 0,
          toolCalls: 0,
          toolsExhausted: false,
        });
      }

      let toolCalls = state.toolCalls;
      let toolsExhausted = state.toolsExhausted;
      for (const call of reply.toolCalls) {
        let outcome: ToolOutcome;
        if (toolCalls >= maxToolCalls) {
          toolsExhausted = true;
          outcome = {
            ok: false,
            output:
              `error: the tool-call budget of this run is spent (--max-tool-calls ${maxToolCalls}); answer with what you have`,
          };
        } else {
          toolCalls++;
          const key = `tool:${turn}:${call.id}`;
          outcome = await ctx.callTool<ToolOutcome>(
            call.function.name,
            { arguments: call.function.arguments, callId: call.id },
            (_args, { signal }) =>
              runTool(ctx, runtime, runtimes, { id: call.id, ...call.function }, key, signal),
            { key },
          );
        }
        messages.push({ role: "tool", tool_call_id: call.id, content: outcome.output });
      }
      if (toolCalls >= maxToolCalls) toolsExhausted = true;
      return recur({ ...next, messages, toolCalls, toolsExhausted });
    },
  });
}

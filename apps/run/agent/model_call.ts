/**
 * `callModel`: one LLM call as a durable call of the run. The reply is stored before the step
 * goes on, so a run killed later resumes with the stored reply instead of asking the model again;
 * transient failures (429, 5xx, network, timeout) are retried with backoff, each failed attempt
 * recorded.
 *
 * @module
 */
import type { RetryPolicy, StepContext } from "@loom/runner";
import {
  type ChatMessage,
  type ChatModel,
  LlmError,
  type LlmReply,
  type ToolSpec,
} from "../llm/types.ts";
import type { ChatEvent } from "./events.ts";

/**
 * Retries of LLM calls: transient failures (429, 5xx, network, timeout) with backoff, 4 attempts
 * in all; an `LlmError`'s own category decides.
 */
export const LLM_RETRY: RetryPolicy = {
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 8000,
  multiplier: 2,
  jitter: 0.2,
  retryOn: ["transient"],
  classify: (e) => (e instanceof LlmError ? e.category : undefined),
};

/** One LLM call for `callModel`. */
export interface ModelCall {
  /** Idempotency key of the call in the run, e.g. `llm:3`; the same key replays the reply. */
  key: string;
  /** What the call is for, shown in traces (`chat`, `plan`...). @default "chat" */
  purpose?: string;
  /** Turn number, for events and traces. @default 1 */
  turn?: number;
  /** The conversation. */
  messages: ChatMessage[];
  /** Tools the model may call; empty means "answer now". @default [] */
  tools?: ToolSpec[];
  /** Send answer text to `onEvent` as `delta` events while it arrives. @default true */
  stream?: boolean;
  /** Receives `delta` and `llm` events. */
  onEvent?: (event: ChatEvent) => void;
  /** Retry policy. @default LLM_RETRY */
  retry?: RetryPolicy;
}

/**
 * Makes one durable LLM call through `ctx.callTool("llm", ...)`. A call already made (before a
 * crash, or in an earlier attempt of the step) returns its stored reply without asking the
 * model (`fresh: false`), and sends no events.
 *
 * @param ctx The step's context.
 * @param model The chat model.
 * @param call Key, conversation, tools, events.
 * @returns The reply, and whether it was asked for now.
 * @throws {LlmError} When the call fails for good (after the retries of transient failures).
 *
 * @example
 * ```ts
 * import { defineAgent, openStore, startRun } from "@loom/runner";
 * import { callModel, scriptedModel } from "@loom/run";
 *
 * const model = scriptedModel(["Paris."]);
 * const capital = defineAgent({
 *   name: "capital",
 *   initialState: (country: string) => ({ country }),
 *   async step(state, ctx) {
 *     const { reply } = await callModel(ctx, model, {
 *       key: "llm:1",
 *       messages: [{ role: "user", content: `Capital of ${state.country}?` }],
 *     });
 *     return reply.content;
 *   },
 * });
 * const store = openStore(":memory:");
 * console.log((await startRun(capital, { store, runId: "c", input: "France" })).result);
 * store.close();
 * ```
 */
export async function callModel(
  ctx: StepContext,
  model: ChatModel,
  call: ModelCall,
): Promise<{ reply: LlmReply; fresh: boolean }> {
  const { purpose = "chat", turn = 1, messages, tools = [], stream = true } = call;
  const emit = (event: ChatEvent) => {
    try {
      call.onEvent?.(event);
    } catch {
      // an observer must never break a run
    }
  };
  let fresh = false;
  const reply = await ctx.callTool<LlmReply>(
    "llm",
    { purpose, turn, model: model.model, messages: messages.length },
    async (_args, { signal }) => {
      fresh = true;
      const startedAt = Date.now();
      const base = {
        type: "llm" as const,
        runId: ctx.runId,
        turn,
        purpose,
        provider: model.provider,
        model: model.model,
        messages,
        startedAt,
      };
      try {
        const reply = await model.complete({
          messages,
          tools,
          signal,
          onDelta: stream ? (text) => emit({ type: "delta", runId: ctx.runId, text }) : undefined,
        });
        emit({ ...base, reply, durationMs: Date.now() - startedAt });
        return reply;
      } catch (error) {
        emit({
          ...base,
          error: (error as Error)?.message ?? String(error),
          durationMs: Date.now() - startedAt,
        });
        throw error;
      }
    },
    { key: call.key, retry: call.retry ?? LLM_RETRY },
  );
  return { reply, fresh };
}

/**
 * Live traces of chat runs: the runner's own trace observer (`@loom/runner/trace`: run and step
 * spans, failed attempts, waits) with the chat agent's calls drawn as what they are: each LLM
 * turn an `llm` span with its messages, tokens and cost, each tool call a `tool` span (an error
 * the model was shown is a failed span), replayed calls marked. loom-run's `--trace` uses it; a
 * trace of a stored run, from any process, is `traceChatRun` (`store_trace.ts`).
 *
 * @module
 */
import type { RunObserver, ToolCallEvent } from "@loom/runner";
import { traceObserver } from "@loom/runner/trace";
import type { Recorder } from "@loom/xray";
import type { ChatEvent } from "./agent/events.ts";
import type { LlmReply } from "./llm/types.ts";
import { failedOutcome, toolOutcomeError } from "./store_trace.ts";

/** Records chat runs into a recorder; see the module doc. */
export interface ChatTracer {
  /** Where the spans go. */
  readonly recorder: Recorder;
  /** Pass as the runs' `observer` (with `combineObservers` next to others). */
  readonly observer: RunObserver;
  /**
   * Pass as the chat agent's `onEvent` (or call it from yours): records fresh LLM calls and
   * warnings; other events (yours too) are ignored.
   */
  readonly onEvent: (event: ChatEvent | { readonly type: string }) => void;
}

/** The model's arguments of a stored tool call, parsed when they are JSON. */
function toolArgs(args: unknown): unknown {
  const text = (args as { arguments?: unknown } | null)?.arguments;
  if (typeof text !== "string") return args;
  try {
    return JSON.parse(text || "{}");
  } catch {
    return text;
  }
}

/** True for a durable call the chat agent made for a tool (its outcome is `{ok, output}`). */
function isChatToolCall(info: ToolCallEvent): boolean {
  const outcome = info.result as { ok?: unknown; output?: unknown } | undefined;
  return typeof outcome?.ok === "boolean" && typeof outcome.output === "string";
}

/**
 * Records chat runs live: pass `observer` to `startRun`/`resumeRun` and `onEvent` to the agent
 * (`chatAgent({ onEvent })`). Built on the runner's `traceObserver`, so runs, steps, attempts,
 * child runs and other tools are drawn exactly as the runner draws them.
 *
 * @param recorder The xray recorder to write into (one can hold several runs).
 * @returns The observer and the event sink.
 *
 * @example
 * ```ts
 * import { openStore, startRun } from "@loom/runner";
 * import { Recorder } from "@loom/xray";
 * import { chatAgent, chatTracer, scriptedModel } from "@loom/run";
 *
 * const tracer = chatTracer(new Recorder({ name: "hello" }));
 * const agent = chatAgent({
 *   name: "hello",
 *   model: scriptedModel(["Hello!"]),
 *   onEvent: tracer.onEvent,
 * });
 * const store = openStore(":memory:");
 * await startRun(agent, { store, runId: "h", input: { question: "Hi?" }, observer: tracer.observer });
 * console.log(tracer.recorder.toJSON().spans.map((s) => s.kind)); // run, step, llm
 * store.close();
 * ```
 */
export function chatTracer(recorder: Recorder): ChatTracer {
  const base = traceObserver(recorder);
  const parent = (runId: string) => base.stepSpan(runId) ?? null;
  const onToolCall = (info: ToolCallEvent): void => {
    if (info.name === "llm") {
      // A fresh LLM call is recorded from its events (messages, failed attempts); a replayed one
      // only here.
      if (!info.replayed) return;
      const reply = info.result as LlmReply;
      recorder.recordLlm({
        parent: parent(info.runId),
        model: reply.model ?? "unknown",
        response: { content: reply.content, tool_calls: reply.toolCalls },
        inputTokens: reply.usage?.promptTokens,
        outputTokens: reply.usage?.completionTokens,
        costUsd: reply.costUsd,
        finishReasons: reply.finishReason ? [reply.finishReason] : undefined,
        durationMs: 0,
        attributes: { "loom.tool.replayed": true, "loom.tool.idempotency_key": info.key },
      });
      return;
    }
    if (!isChatToolCall(info)) return base.onToolCall?.(info);
    const outcome = info.result as { ok: boolean; output: string };
    const failed = failedOutcome(outcome);
    recorder.recordTool({
      parent: parent(info.runId),
      name: info.name,
      args: toolArgs(info.args),
      result: outcome.output,
      key: info.key,
      callId: (info.args as { callId?: string } | null)?.callId,
      replayed: info.replayed,
      error: failed ? toolOutcomeError(failed) : undefined,
      startTime: info.startedAt,
      durationMs: info.durationMs,
      attributes: { "loom.tool.attempts": info.attempts },
    });
  };
  const onEvent = (any: ChatEvent | { readonly type: string }): void => {
    const event = any as ChatEvent;
    if (event.type === "llm") {
      recorder.recordLlm({
        parent: parent(event.runId),
        name: `${event.purpose} ${event.model}`,
        model: event.model,
        provider: event.provider,
        messages: event.messages,
        response: event.reply
          ? { content: event.reply.content, tool_calls: event.reply.toolCalls }
          : undefined,
        inputTokens: event.reply?.usage?.promptTokens,
        outputTokens: event.reply?.usage?.completionTokens,
        costUsd: event.reply?.costUsd,
        responseModel: event.reply?.model,
        finishReasons: event.reply ? [event.reply.finishReason] : undefined,
        error: event.error ? new Error(event.error) : undefined,
        startTime: event.startedAt,
        durationMs: event.durationMs,
      });
    } else if (event.type === "warning") {
      recorder.recordEvent("warning", {
        input: event.message,
        parent: event.runId ? parent(event.runId) : null,
      });
    }
  };
  return { recorder, observer: { ...base, onToolCall }, onEvent };
}

/**
 * The trace of a stored run (and its child runs), rebuilt from the run store by the runner's
 * `traceRun`, with loom-run's durable LLM turns (tool calls named `llm`) drawn as `llm` spans
 * carrying the model, tokens and cost of the stored reply. `serve` uses it for
 * `GET /runs/:id/trace`, so any run has a trace, even one started by another process.
 *
 * @module
 */
import type { Store } from "@loom/runner";
import { traceRun } from "@loom/runner/trace";
import type { TraceData } from "@loom/xray";
import type { LlmReply } from "./llm/types.ts";

/** Builds the trace of `runId` and its descendants from the store; undefined for no such run. */
export async function traceFromStore(store: Store, runId: string): Promise<TraceData | undefined> {
  if (!(await store.getRun(runId))) return undefined;
  return await traceRun(store, runId, {
    recordCall(call, parent, recorder) {
      if (call.kind !== "tool" || call.name !== "llm" || call.result === null) return false;
      const reply = JSON.parse(call.result) as LlmReply;
      recorder.recordLlm({
        parent,
        startTime: call.startedAt,
        durationMs: call.durationMs ?? 0,
        model: reply.model ?? "unknown",
        response: { content: reply.content, tool_calls: reply.toolCalls },
        inputTokens: reply.usage?.promptTokens,
        outputTokens: reply.usage?.completionTokens,
        costUsd: reply.costUsd,
        finishReasons: reply.finishReason ? [reply.finishReason] : undefined,
        error: call.status === "failed" ? new Error(call.error ?? "failed") : undefined,
      });
      return true;
    },
  });
}

/**
 * The trace of a stored chat run (and its child runs), rebuilt from the run store by the
 * runner's `traceRun`, with the chat agent's durable LLM turns (calls named `llm`) drawn as `llm`
 * spans carrying the model, tokens and cost of the stored reply, and its failed tool calls
 * (stored as completed calls whose outcome is `{ok: false}`, so a resume replays them) drawn as
 * failed `tool` spans: status error and the error message, hence an `exception` event in OTLP.
 * loom-run's `serve` uses it for `GET /runs/:id/trace`, so any run has a trace, even one started
 * by another process; a regression-lab scenario can use it as its `trace`.
 *
 * @module
 */
import type { CallRecord, Store } from "@loom/runner";
import { traceRun } from "@loom/runner/trace";
import type { Recorder, SpanHandle, TraceData } from "@loom/xray";
import type { LlmReply } from "./llm/types.ts";

/** The stored outcome of one of loom-run's tool calls. */
interface ToolOutcome {
  ok: boolean;
  output: string;
}

/** The outcome of a completed tool call when it is a failure the LLM was shown, else undefined. */
export function failedOutcome(result: unknown): ToolOutcome | undefined {
  const outcome = result as Partial<ToolOutcome> | null;
  return outcome !== null && typeof outcome === "object" && outcome.ok === false &&
      typeof outcome.output === "string"
    ? outcome as ToolOutcome
    : undefined;
}

/** The error of a failed tool outcome, named like the tool errors it came from. */
export function toolOutcomeError(outcome: ToolOutcome): Error {
  return Object.assign(new Error(outcome.output.replace(/^error: /, "")), { name: "ToolError" });
}

/** Draws a completed tool call whose outcome is `{ok: false}` as a failed tool span. */
function recordFailedTool(call: CallRecord, parent: SpanHandle, recorder: Recorder): boolean {
  if (call.kind !== "tool" || call.status !== "completed" || call.result === null) return false;
  const outcome = failedOutcome(JSON.parse(call.result));
  if (!outcome) return false;
  recorder.recordTool({
    parent,
    name: call.name,
    args: call.args === null ? undefined : JSON.parse(call.args),
    result: outcome,
    key: call.key,
    error: toolOutcomeError(outcome),
    startTime: call.startedAt,
    durationMs: call.durationMs ?? 0,
    attributes: {
      "loom.tool.attempts": call.attempts,
      "loom.tool.status": call.status,
      "loom.tool.capped": call.capped,
    },
  });
  return true;
}

/**
 * Builds the trace of a chat run and its child runs from the store: runs, steps, attempts and
 * events as the runner draws them, LLM turns as `llm` spans with tokens and cost, tool calls as
 * `tool` spans (failed when the model was shown an error).
 *
 * @param store The run store.
 * @param runId The run.
 * @returns The trace, or undefined when there is no such run.
 *
 * @example
 * ```ts
 * import { openStore, startRun } from "@loom/runner";
 * import { chatAgent, scriptedModel, traceChatRun } from "@loom/run";
 *
 * const agent = chatAgent({ name: "hi", model: scriptedModel(["Hello!"]) });
 * const store = openStore(":memory:");
 * await startRun(agent, { store, runId: "h", input: { question: "Hi?" } });
 * const trace = await traceChatRun(store, "h");
 * console.log(trace?.spans.filter((s) => s.kind === "llm").length); // 1
 * store.close();
 * ```
 */
export async function traceChatRun(store: Store, runId: string): Promise<TraceData | undefined> {
  if (!(await store.getRun(runId))) return undefined;
  return await traceRun(store, runId, {
    recordCall(call, parent, recorder) {
      if (call.kind === "tool" && call.name !== "llm") {
        return recordFailedTool(call, parent, recorder);
      }
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

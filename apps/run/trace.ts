/**
 * `--trace FILE`: records a run with `@loom/xray` (a span per run and step, LLM calls with tokens
 * and cost, tool calls with their idempotency keys, replayed calls marked) and writes one offline
 * HTML file (or JSON when the name does not end in `.html`).
 *
 * @module
 */
import type { RunObserver } from "@loom/runner";
import { Recorder, type SpanHandle } from "@loom/xray";
import type { RunEvent } from "./agent/events.ts";
import { failedOutcome, toolOutcomeError } from "./store_trace.ts";

/** Records the runs of one process into one trace. */
export class RunTracer {
  /** The xray recorder. */
  readonly recorder: Recorder;
  readonly #runs = new Map<string, SpanHandle>();
  readonly #steps = new Map<string, SpanHandle>();

  /**
   * @param name trace name (the main run id)
   * @param meta trace metadata
   */
  constructor(name: string, meta: Record<string, unknown>) {
    this.recorder = new Recorder({ name, meta });
  }

  #parent(runId: string): SpanHandle | null {
    return this.#steps.get(runId) ?? this.#runs.get(runId) ?? null;
  }

  /** Runner hooks: run and step spans, replayed calls, retried attempts. */
  observer: RunObserver = {
    onRunStart: (info) => {
      const parent = info.parentRunId ? this.#parent(info.parentRunId) : null;
      this.#runs.set(
        info.runId,
        this.recorder.startSpan("run", info.runId, {
          parent,
          input: info.resumed ? undefined : info.state,
          attributes: {
            "loom.run.id": info.runId,
            "loom.agent.name": info.agentName,
            "loom.run.resumed": info.resumed,
          },
        }),
      );
    },
    onStepStart: (info) => {
      this.#steps.set(
        info.runId,
        this.recorder.startSpan("step", `step ${info.stepIndex}`, {
          parent: this.#runs.get(info.runId) ?? null,
          attributes: { "loom.step.index": info.stepIndex, "loom.step.attempt": info.attempt },
        }),
      );
    },
    onStepEnd: (info) => {
      this.#steps.get(info.runId)?.end({ output: info.final ? info.result : undefined });
      this.#steps.delete(info.runId);
    },
    onToolCall: (info) => {
      if (!info.replayed) return; // fresh calls are recorded from the run's own events
      // A tool failure the LLM was shown is stored as a result; replayed, it is still a failure.
      const failed = info.name === "llm" ? undefined : failedOutcome(info.result);
      this.recorder.recordTool({
        parent: this.#parent(info.runId),
        name: info.name,
        args: info.args,
        result: info.result,
        key: info.key,
        replayed: true,
        error: failed ? toolOutcomeError(failed) : undefined,
        durationMs: 0,
      });
    },
    onAttemptError: (info) => {
      this.recorder.recordError(info.error, {
        parent: this.#parent(info.runId),
        name: `${info.scope === "tool" ? info.toolName : "step"} attempt ${info.attempt} failed`,
        attributes: { "error.category": info.category },
      });
    },
    onRunEnd: (info) => {
      const span = this.#steps.get(info.runId);
      span?.end({ error: info.error ? new Error(info.error.message) : undefined });
      this.#steps.delete(info.runId);
      this.#runs.get(info.runId)?.end({
        output: info.result,
        error: info.error ? new Error(info.error.message) : undefined,
        attributes: { "loom.run.status": info.status, "loom.run.steps": info.steps },
      });
      this.#runs.delete(info.runId);
    },
  };

  /** Run events: LLM calls and tool executions. */
  onEvent = (event: RunEvent): void => {
    if (event.type === "llm") {
      this.recorder.recordLlm({
        parent: this.#parent(event.runId),
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
    } else if (event.type === "tool_end") {
      this.recorder.recordTool({
        parent: this.#parent(event.runId),
        name: event.name,
        args: event.args,
        result: event.output,
        key: event.key,
        callId: event.callId,
        replayed: false,
        error: event.ok ? undefined : toolOutcomeError(event),
        startTime: event.startedAt,
        durationMs: event.durationMs,
      });
    } else if (event.type === "warning") {
      this.recorder.recordEvent("warning", { input: event.message });
    }
  };

  /** Writes the trace file. */
  async write(path: string): Promise<void> {
    await this.recorder.flushTo(path);
  }
}

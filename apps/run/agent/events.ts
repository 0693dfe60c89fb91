/**
 * What a run reports while it works: streamed text, tool calls, LLM calls, answers. The CLI prints
 * these, `serve` sends them as server-sent events and the tracer records them.
 *
 * @module
 */
import type { ChatMessage, LlmReply } from "../llm/types.ts";

/** One event of a run. `runId` tells child runs of a supervisor apart. */
export type RunEvent =
  | { type: "delta"; runId: string; text: string }
  | {
    type: "llm";
    runId: string;
    turn: number;
    purpose: string;
    provider: string;
    model: string;
    messages: ChatMessage[];
    reply?: LlmReply;
    error?: string;
    startedAt: number;
    durationMs: number;
  }
  | { type: "tool_start"; runId: string; name: string; args: unknown; key: string; callId: string }
  | {
    type: "tool_end";
    runId: string;
    name: string;
    args: unknown;
    key: string;
    callId: string;
    ok: boolean;
    output: string;
    startedAt: number;
    durationMs: number;
  }
  | {
    type: "answer";
    runId: string;
    text: string;
    /** `answer`, or `refusal` / `length` when there is no complete answer (absent = `answer`). */
    stoppedBy?: "answer" | "refusal" | "length";
    /** The model's refusal message. */
    refusal?: string;
  }
  | { type: "plan"; runId: string; tasks: string[] }
  | {
    type: "child";
    runId: string;
    childRunId: string;
    task: string;
    status: "started" | "completed" | "failed";
    answer?: string;
  }
  | { type: "warning"; runId: string; message: string };

/** Receives run events. Must not throw. */
export type EventSink = (event: RunEvent) => void;

/** Fans events out to several sinks; a sink that throws does not stop the others. */
export class EventHub {
  readonly #sinks = new Set<EventSink>();

  /** Adds a sink; returns a function that removes it. */
  subscribe(sink: EventSink): () => void {
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  /** Delivers an event to every sink. */
  emit(event: RunEvent): void {
    for (const sink of this.#sinks) {
      try {
        sink(event);
      } catch {
        // an observer must never break a run
      }
    }
  }
}

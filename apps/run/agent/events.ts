/**
 * What a run reports while it works: streamed text, tool calls, LLM calls, answers. The chat
 * agent sends `ChatEvent`s to its `onEvent`; loom-run adds its supervisor's events, prints them
 * (CLI), sends them as server-sent events (`serve`) and traces them.
 *
 * @module
 */
import type { ChatMessage, LlmReply } from "../llm/types.ts";

/**
 * One event of a chat run. `runId` tells runs apart (a supervisor's children, several runs of
 * one agent in a process). Events describe work done in this process: a call replayed from the
 * store after a crash sends none (the runner's `onToolCall` observer sees it as `replayed`).
 */
export type ChatEvent =
  /** A piece of answer text as the model streams it. */
  | { type: "delta"; runId: string; text: string }
  /** An LLM call finished (`reply`) or failed for good (`error`). */
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
  /** A tool call starts (once per attempt). `args` are the parsed arguments when they parse. */
  | { type: "tool_start"; runId: string; name: string; args: unknown; key: string; callId: string }
  /** A tool call ended: `ok` false when the model is shown an error. */
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
  /** The model replied without tool calls: an answer, a refusal, or an answer cut off. */
  | {
    type: "answer";
    runId: string;
    text: string;
    /** `answer`, or `refusal` / `length` when there is no complete answer (absent = `answer`). */
    stoppedBy?: "answer" | "refusal" | "length";
    /** The model's refusal message. */
    refusal?: string;
  }
  /** Something the user should know that does not stop the run (a tool's warning). */
  | { type: "warning"; runId: string; message: string };

/** One event of a loom-run process: a chat event, or one of the supervisor's. */
export type RunEvent =
  | ChatEvent
  | { type: "plan"; runId: string; tasks: string[] }
  | {
    type: "child";
    runId: string;
    childRunId: string;
    task: string;
    status: "started" | "completed" | "failed";
    answer?: string;
  };

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

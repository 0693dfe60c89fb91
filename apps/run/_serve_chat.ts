/**
 * `POST /chat` of `loom-run serve`: starts a run, continues one that waits for the next message,
 * or resumes an interrupted one, streaming its events as SSE.
 *
 * @module
 */
import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { resumeRun, type RunRecord, sendSignal, startRun, type Store } from "@loom/runner";
import { type ChatResult, type ChatState, MESSAGE_SIGNAL } from "./agent/chat.ts";
import type { RunEvent } from "./agent/events.ts";
import type { Agents } from "./agent/agents.ts";
import { isValidRunId, type LlmSettings, type RunSettings } from "./config.ts";
import { messageOf } from "./errors.ts";

/** What `POST /chat` needs. */
export interface ChatRouteOptions {
  /** The run store. */
  store: Store;
  /** Agents and their runtimes. */
  agents: Agents;
  /** Settings of runs started through the API. */
  settings: RunSettings;
  /** Why a run with these LLM settings cannot reach its LLM, or `undefined` when it can. */
  llmProblem: (llm: LlmSettings) => string | undefined;
}

/** What a request asks of a run: start it, continue it with a message, or resume it. */
type ChatKind = "start" | "continue" | "resume";

/** The handler of `POST /chat`; a run id is served by one request at a time. */
export function chatRoute(options: ChatRouteOptions): (c: Context) => Promise<Response> {
  const active = new Set<string>();
  return async (c) => {
    const request = await readChatRequest(c);
    if (request instanceof Response) return request;
    const { message, runId } = request;
    if (!isValidRunId(runId)) {
      return c.json({ error: `run id '${runId}' has characters that are not allowed` }, 400);
    }
    if (active.has(runId)) return c.json({ error: `run '${runId}' is already running` }, 409);
    const existing = await options.store.getRun(runId);
    const kind = chatKind(c, options.agents, runId, message, existing);
    if (kind instanceof Response) return kind;
    // Only now is the LLM needed: the new run's settings, or the stored run's.
    const llm = kind === "start" ? options.settings.llm : storedLlm(existing!.input);
    const problem = llm ? options.llmProblem(llm) : undefined;
    if (problem) return c.json({ error: `POST /chat needs the LLM, but ${problem}` }, 503);
    active.add(runId);
    return streamSSE(c, async (stream) => {
      try {
        await streamChatRun(stream, options, runId, kind, message);
      } finally {
        active.delete(runId);
      }
    });
  };
}

/** The body's message (undefined when empty) and run id (a new one when not given). */
async function readChatRequest(
  c: Context,
): Promise<{ message: string | undefined; runId: string } | Response> {
  let body: { message?: unknown; runId?: unknown };
  try {
    body = await c.req.json();
  } catch {
    return c.json(
      { error: 'the body must be JSON like {"message": "why does the test fail?"}' },
      400,
    );
  }
  const message = typeof body?.message === "string" && body.message.trim() !== ""
    ? body.message
    : undefined;
  const runId = body?.runId === undefined
    ? `chat-${crypto.randomUUID().slice(0, 8)}`
    : String(body.runId);
  return { message, runId };
}

/** Whether the request starts, continues or resumes the run, or the error response if none. */
function chatKind(
  c: Context,
  agents: Agents,
  runId: string,
  message: string | undefined,
  existing: RunRecord | undefined,
): ChatKind | Response {
  if (!existing) {
    if (!message) return c.json({ error: "a new run needs a non-empty message" }, 400);
    return "start";
  }
  if (existing.agentName !== agents.chat.name) {
    return c.json({ error: `run '${runId}' is not a chat run` }, 409);
  }
  if (existing.status === "waiting") {
    if (!message) {
      return c.json({ error: `run '${runId}' waits for the next message; send one` }, 400);
    }
    return "continue";
  }
  if ((existing.status === "running" || existing.status === "paused") && !message) {
    return "resume";
  }
  return c.json(
    { error: `run '${runId}' is ${existing.status} and cannot take a message` },
    409,
  );
}

/** The LLM settings stored with a run (its input), if readable. */
function storedLlm(input: string | null): LlmSettings | undefined {
  try {
    return (JSON.parse(input ?? "null") as { settings?: RunSettings } | null)?.settings?.llm;
  } catch {
    return undefined;
  }
}

/** Runs the chat run, writing its events, then `done` (or `error`), to the stream. */
async function streamChatRun(
  stream: SSEStreamingApi,
  { store, agents, settings }: ChatRouteOptions,
  runId: string,
  kind: ChatKind,
  message: string | undefined,
): Promise<void> {
  let answer: string | undefined;
  let stopped: { stoppedBy?: string; refusal?: string } = {};
  const unsubscribe = agents.runtimes.events.subscribe((event) => {
    if (event.runId !== runId) return;
    if (event.type === "answer") {
      answer = event.text;
      stopped = { stoppedBy: event.stoppedBy, refusal: event.refusal };
    }
    stream.writeSSE({ event: event.type, data: JSON.stringify(publicEvent(event)) }).catch(
      () => {},
    );
  });
  try {
    await stream.writeSSE({ event: "run", data: JSON.stringify({ runId, kind }) });
    if (kind === "continue") await sendSignal(store, runId, MESSAGE_SIGNAL, { message });
    const result = kind === "start"
      ? await startRun(agents.chat, {
        store,
        runId,
        input: { question: message!, settings, followUps: true },
      })
      : await resumeRun(agents.chat, { store, runId });
    answer ??= (result.result as ChatResult | undefined)?.answer ??
      (result.state as ChatState | undefined)?.answer;
    await stream.writeSSE({
      event: "done",
      data: JSON.stringify({
        runId,
        status: result.status,
        answer: stopped.stoppedBy === "refusal" ? null : answer ?? null,
        stoppedBy: stopped.stoppedBy ?? (answer === undefined ? null : "answer"),
        refusal: stopped.refusal ?? null,
        error: result.error ?? null,
      }),
    });
  } catch (error) {
    await stream.writeSSE({
      event: "error",
      data: JSON.stringify({ runId, message: messageOf(error) }),
    });
  } finally {
    unsubscribe();
  }
}

/** The SSE form of a run event: small, without full prompts. */
function publicEvent(event: RunEvent): Record<string, unknown> {
  switch (event.type) {
    case "llm":
      return {
        runId: event.runId,
        turn: event.turn,
        purpose: event.purpose,
        model: event.model,
        usage: event.reply?.usage,
        costUsd: event.reply?.costUsd,
        toolCalls: event.reply?.toolCalls.map((c) => c.function.name),
        error: event.error,
        durationMs: event.durationMs,
      };
    case "tool_end":
      return { ...event, output: event.output.slice(0, 2000) };
    default:
      return { ...event };
  }
}

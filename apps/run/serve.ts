/**
 * `loom-run serve`: an HTTP API over the same durable runs (Hono).
 *
 * - `POST /chat` `{"message", "runId"?}` starts a run, or continues one that waits for the next
 *   message, or resumes an interrupted one (no message), streaming its events as SSE.
 * - `GET /runs`, `GET /runs/:id` (JSON), `GET /runs/:id/trace` (offline HTML trace).
 *
 * It listens on 127.0.0.1 by default; binding to another address requires a token, and when a
 * token is set every request must carry it (`Authorization: Bearer <token>`, or `?token=` for
 * opening a trace in a browser). It starts without a usable LLM (no API key) too, so stored runs
 * can be browsed; only a `POST /chat` that would call that LLM is refused (503, one sentence).
 * A request body larger than {@link MAX_BODY_BYTES} (1 MiB) is answered 413 without being read
 * further; with a token, a request without it is answered 401 before its body is read at all.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { explainRun, resumeRun, sendSignal, startRun, type Store } from "@loom/runner";
import { toHtml } from "@loom/xray";
import { type ChatResult, type ChatState, MESSAGE_SIGNAL } from "./agent/chat.ts";
import type { RunEvent } from "./agent/events.ts";
import {
  type Agents,
  checkApiKey,
  checkSettings,
  llmOverride,
  makeAgents,
} from "./agent/agents.ts";
import {
  type Config,
  isLoopback,
  isValidRunId,
  type LlmSettings,
  type RunSettings,
} from "./config.ts";
import { messageOf, UsageError } from "./errors.ts";
import { transcript } from "./explain.ts";
import type { LlmReply } from "./llm/types.ts";
import type { ProgressOutput } from "./progress.ts";
import { latestState, openRunStore } from "./runs.ts";
import { traceChatRun } from "./store_trace.ts";

/** What the HTTP app needs. */
export interface ServeOptions {
  /** The run store. */
  store: Store;
  /** Agents and their runtimes. */
  agents: Agents;
  /** Settings of runs started through the API. */
  settings: RunSettings;
  /** When set, every request must carry this token. */
  token?: string;
  /**
   * Why a run with these LLM settings cannot reach its LLM (e.g. no API key), or `undefined`
   * when it can. A `POST /chat` whose run would need an unusable LLM is refused with 503.
   * @default every LLM is usable
   */
  llmProblem?: (llm: LlmSettings) => string | undefined;
  /**
   * Largest request body accepted, in bytes; a larger one is answered 413.
   * @default {MAX_BODY_BYTES}
   */
  maxBodyBytes?: number;
}

/**
 * The largest request body `serve` accepts: 1 MiB, a chat message of about 250 000 tokens, more
 * than a model's context holds. A larger body, declared (`Content-Length`) or streamed (chunked),
 * is answered 413 as soon as it is known to be larger, without being read further.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

function sameToken(given: string, expected: string): boolean {
  // Constant-time comparison, so response timing does not reveal the token.
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
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

/** The last answer the LLM gave in a run (a waiting run has it only in its LLM call record). */
async function lastAnswer(store: Store, runId: string): Promise<string | undefined> {
  const run = await store.getRun(runId);
  if (run?.result) return (JSON.parse(run.result) as { answer?: string }).answer;
  const calls = await store.listCalls(runId);
  for (let i = calls.length - 1; i >= 0; i--) {
    const c = calls[i];
    if (c.kind !== "tool" || c.name !== "llm" || c.status !== "completed" || !c.result) continue;
    const reply = JSON.parse(c.result) as LlmReply;
    return reply.toolCalls?.length ? undefined : reply.content;
  }
  return undefined;
}

/** Builds the Hono app; see the module doc. */
export function createServeApp(options: ServeOptions): Hono {
  const {
    store,
    agents,
    settings,
    token,
    llmProblem = () => undefined,
    maxBodyBytes = MAX_BODY_BYTES,
  } = options;
  const active = new Set<string>();
  const app = new Hono();

  app.onError((error, c) => c.json({ error: messageOf(error) }, 500));

  if (token) {
    app.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const given = header.startsWith("Bearer ") ? header.slice(7) : c.req.query("token") ?? "";
      if (!sameToken(given, token)) {
        return c.json({ error: "a valid token is required (Authorization: Bearer <token>)" }, 401);
      }
      await next();
    });
  }
  // After the token check: a request without the token is refused before its body is read.
  app.use(
    "*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) =>
        c.json({ error: `the request body is larger than ${maxBodyBytes} bytes` }, 413),
    }),
  );

  app.post("/chat", async (c) => {
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
    if (!isValidRunId(runId)) {
      return c.json({ error: `run id '${runId}' has characters that are not allowed` }, 400);
    }
    if (active.has(runId)) return c.json({ error: `run '${runId}' is already running` }, 409);
    const existing = await store.getRun(runId);
    let kind: "start" | "continue" | "resume";
    if (!existing) {
      if (!message) return c.json({ error: "a new run needs a non-empty message" }, 400);
      kind = "start";
    } else if (existing.agentName !== agents.chat.name) {
      return c.json({ error: `run '${runId}' is not a chat run` }, 409);
    } else if (existing.status === "waiting") {
      if (!message) {
        return c.json({ error: `run '${runId}' waits for the next message; send one` }, 400);
      }
      kind = "continue";
    } else if ((existing.status === "running" || existing.status === "paused") && !message) {
      kind = "resume";
    } else {
      return c.json(
        { error: `run '${runId}' is ${existing.status} and cannot take a message` },
        409,
      );
    }
    // Only now is the LLM needed: the new run's settings, or the stored run's.
    const llm = kind === "start" ? settings.llm : storedLlm(existing!.input);
    const problem = llm ? llmProblem(llm) : undefined;
    if (problem) return c.json({ error: `POST /chat needs the LLM, but ${problem}` }, 503);
    active.add(runId);
    return streamSSE(c, async (stream) => {
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
        active.delete(runId);
      }
    });
  });

  app.get("/runs", async (c) => {
    const runs = await store.listRuns({ limit: 200 });
    return c.json({
      runs: runs.map((r) => ({
        runId: r.runId,
        agent: r.agentName,
        status: r.status,
        parentRunId: r.parentRunId,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      })),
    });
  });

  // Run ids may contain "/" (children of a supervisor: team/1), hence the `.+` patterns.
  app.get("/runs/:id{.+/trace}", async (c) => {
    const runId = c.req.param("id").replace(/\/trace$/, "");
    const trace = await traceChatRun(store, runId);
    if (!trace) return c.json({ error: `there is no run '${runId}'` }, 404);
    return c.html(toHtml(trace));
  });

  app.get("/runs/:id{.+}", async (c) => {
    const runId = c.req.param("id");
    const run = await store.getRun(runId);
    if (!run) return c.json({ error: `there is no run '${runId}'` }, 404);
    return c.json({
      runId,
      agent: run.agentName,
      status: run.status,
      parentRunId: run.parentRunId,
      answer: (await lastAnswer(store, runId)) ?? null,
      error: run.error,
      transcript: transcript(await latestState(store, runId)),
      explain: await explainRun(store, runId),
    });
  });

  app.notFound((c) =>
    c.json({ error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404)
  );
  return app;
}

/** The LLM settings stored with a run (its input), if readable. */
function storedLlm(input: string | null): LlmSettings | undefined {
  try {
    return (JSON.parse(input ?? "null") as { settings?: RunSettings } | null)?.settings?.llm;
  } catch {
    return undefined;
  }
}

/** Runs `serve` until SIGINT or SIGTERM; returns the exit code. */
export async function serveCommand(config: Config, io: ProgressOutput): Promise<number> {
  if (!isLoopback(config.host) && !config.token) {
    throw new UsageError(
      `binding to ${config.host} exposes the API beyond this machine; set --token (or LOOM_RUN_TOKEN)`,
    );
  }
  // The workspace and the MCP file are checked now; the LLM only when a request needs it, so a
  // server without an API key still serves the stored runs.
  await checkSettings(config, { llm: false });
  const override = llmOverride(config);
  const llmProblem = (llm: LlmSettings) => {
    try {
      checkApiKey({ ...llm, ...override }, config.apiKey);
      return undefined;
    } catch (error) {
      return messageOf(error);
    }
  };
  const store = openRunStore(config.db);
  const agents = makeAgents(config);
  const app = createServeApp({
    store,
    agents,
    settings: config.settings,
    token: config.token,
    llmProblem,
  });
  const problem = llmProblem(config.settings.llm);
  const stop = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<void>();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      signal: stop.signal,
      onListen: ({ hostname, port }) => {
        io.err(
          `loom-run serve listening on http://${
            hostname.includes(":") ? `[${hostname}]` : hostname
          }:${port} (db ${config.db})`,
        );
        if (problem) {
          io.err(
            `warning: ${problem}; stored runs can be browsed, but POST /chat is refused until serve is restarted with a usable LLM`,
          );
        }
        resolve();
      },
    }, app.fetch);
  } catch (error) {
    store.close();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${config.port} is already in use`);
    }
    throw error;
  }
  await listening;
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await server.finished;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  await agents.runtimes.close();
  store.close();
  io.err("loom-run serve stopped");
  return 0;
}

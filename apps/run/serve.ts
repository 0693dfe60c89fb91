/**
 * `loom-run serve`: an HTTP API over the same durable runs (Hono).
 *
 * - `POST /chat` `{"message", "runId"?}` starts a run, or continues one that waits for the next
 *   message, or resumes an interrupted one (no message), streaming its events as SSE.
 * - `GET /runs`, `GET /runs/:id` (JSON), `GET /runs/:id/trace` (offline HTML trace).
 * - `/studio/`: Loom Studio over the same store (`@loom/runner/studio`), in a browser.
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
import type { Store } from "@loom/runner";
import {
  type Agents,
  checkApiKey,
  checkSettings,
  llmOverride,
  makeAgents,
} from "./agent/agents.ts";
import { type Config, isLoopback, type LlmSettings, type RunSettings } from "./config.ts";
import { messageOf, UsageError } from "./errors.ts";
import type { ProgressOutput } from "./progress.ts";
import { openRunStore } from "./runs.ts";
import { chatRoute } from "./_serve_chat.ts";
import { runRoutes } from "./_serve_runs.ts";
import { createStudioHandler } from "@loom/runner/studio";

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
  /** Loom Studio's handler (`@loom/runner/studio`), mounted at `/studio` when given. */
  studio?: (request: Request) => Promise<Response>;
}

/**
 * The largest request body `serve` accepts: 1 MiB, a chat message of about 250 000 tokens, more
 * than a model's context holds. A larger body, declared (`Content-Length`) or streamed (chunked),
 * is answered 413 as soon as it is known to be larger, without being read further.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

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
  const app = new Hono();
  app.onError((error, c) => c.json({ error: messageOf(error) }, 500));
  guardRequests(app, token, maxBodyBytes);
  if (options.studio) app.mount("/studio", options.studio);
  app.post("/chat", chatRoute({ store, agents, settings, llmProblem }));
  runRoutes(app, store);
  app.notFound((c) =>
    c.json({ error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404)
  );
  return app;
}

/** The token check (when a token is set), then the body limit. */
function guardRequests(app: Hono, token: string | undefined, maxBodyBytes: number): void {
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
}

function sameToken(given: string, expected: string): boolean {
  // Constant-time comparison, so response timing does not reveal the token.
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
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
  const studio = createStudioHandler({ store, basePath: "/studio", token: config.token });
  const app = createServeApp({
    store,
    agents,
    settings: config.settings,
    token: config.token,
    llmProblem,
    studio,
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
    await studio.close();
    store.close();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${config.port} is already in use`);
    }
    throw error;
  }
  await listening;
  const onSignal = () => {
    void studio.close(); // ends its event streams, which would keep the server from finishing
    stop.abort();
  };
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

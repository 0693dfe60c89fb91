/**
 * Loom Studio's fetch handler: the pages, the JSON API, the live events stream and the steering
 * routes over one store (routes and shapes in `API.md`). It is a plain
 * `(request: Request) => Promise<Response>`: `Deno.serve` runs it (`serveStudio`, `loom-runner
 * serve`), and a Hono app mounts it (`app.mount("/studio", handler)` with `basePath: "/studio"`).
 *
 * With `agents`, an embedded worker (`runWorker` of `@loom/runner/worker`) advances the runs of
 * those agents, so a signal, a retry or a fork takes effect without a CLI.
 *
 * @module
 */
import type { Agent } from "../engine/agent.ts";
import { resumeRun } from "../engine/engine.ts";
import { errorMessage, RunnerError } from "../errors.ts";
import type { RunRecord, Store } from "../store/store.ts";
import { isWorkQueue, type WorkQueue } from "../store/work_queue.ts";
import { runWorker } from "../worker/worker.ts";
import { EventsHub } from "./events.ts";
import { routeOf, type StudioRoute } from "./routes.ts";
import {
  BodyTooLargeError,
  checkToken,
  jsonError,
  MAX_BODY_BYTES,
  readBody,
  refuseWrite,
} from "./security.ts";
import { steer } from "./steer.ts";
import { answerGet } from "./get_routes.ts";

/** Options of {@linkcode createStudioHandler}. */
export interface StudioOptions {
  /** The store whose runs the studio shows (the caller opens and closes it). */
  store: Store;
  /**
   * The path prefix the studio is mounted under (`"/studio"`); pages build their URLs from it.
   * A request path that still starts with it has it removed before routing.
   * @default ""
   */
  basePath?: string;
  /**
   * When set, every request must carry it (`Authorization: Bearer T`, or `?token=T` once in a
   * browser, which sets an HttpOnly SameSite=Strict cookie), else 401.
   */
  token?: string;
  /**
   * Agents an embedded worker advances (`--agents DIR`). Needs a store workers can share
   * (PostgreSQL; SQLite with a work queue).
   * @default none: no worker, steering only writes
   */
  // deno-lint-ignore no-explicit-any
  agents?: readonly Agent<any, any, any>[];
  /** Refuse every state-changing request (403). @default false */
  readOnly?: boolean;
  /** How often the events stream looks for changed runs, ms. @default 250 */
  pollMs?: number;
  /** Comment line interval keeping an idle events stream open, ms. @default 15_000 */
  heartbeatMs?: number;
  /** Largest request body, bytes. @default 65_536 */
  maxBodyBytes?: number;
  /** Told about background failures (worker, events watcher). @default console.error */
  onError?: (message: string) => void;
}

/** The studio's handler, plus `close()`. */
export interface StudioHandler {
  /** Answers one request. */
  (request: Request): Promise<Response>;
  /** Ends the events streams, stops the embedded worker and waits for runs it advances. */
  close(): Promise<void>;
}

/** The handler's shared parts, for the route modules. */
export interface StudioContext {
  /** The store. */
  store: Store;
  /** The base path, without a trailing slash. */
  base: string;
  /** The events hub. */
  events: EventsHub;
  /** Agents of the embedded worker, by name. */
  agents: Map<string, Agent<unknown, unknown, unknown>>;
  /** Whether steering is refused. */
  readOnly: boolean;
}

/**
 * Builds the studio's fetch handler over a store.
 *
 * @param options Store, mount path, token, agents of the embedded worker, limits.
 * @returns The handler; call `close()` before closing the store.
 * @throws {RunnerError} When `agents` are given for a store workers cannot share.
 *
 * @example
 * ```ts
 * import { openStore } from "@loom/runner";
 * import { createStudioHandler } from "@loom/runner/studio";
 *
 * const store = openStore(":memory:");
 * const studio = createStudioHandler({ store });
 * const res = await studio(new Request("http://127.0.0.1/api/runs"));
 * console.log(res.status, (await res.json()).total); // 200 0
 * await studio.close();
 * store.close();
 * ```
 */
export function createStudioHandler(options: StudioOptions): StudioHandler {
  const { store, token, readOnly = false, maxBodyBytes = MAX_BODY_BYTES } = options;
  const onError = options.onError ?? ((m: string) => console.error(`studio: ${m}`));
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  const agents = new Map<string, Agent<unknown, unknown, unknown>>(
    (options.agents ?? []).map((a) => [a.name, a]),
  );
  if (agents.size > 0 && !isWorkQueue(store)) {
    throw new RunnerError(
      `the embedded worker needs a store workers can share; ${store.location} is not one ` +
        "(use a PostgreSQL URL)",
    );
  }
  const events = new EventsHub(store, {
    pollMs: options.pollMs,
    heartbeatMs: options.heartbeatMs,
    onError: (e) => onError(`looking for changed runs failed: ${errorMessage(e)}`),
  });
  const ctx: StudioContext = { store, base, events, agents, readOnly };
  const stop = new AbortController();
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const done = p.catch(() => {}).finally(() => background.delete(done));
    background.add(done);
  };
  if (agents.size > 0) {
    track(
      runWorker({
        store: store as Store & WorkQueue,
        agents: [...agents.values()],
        abortSignal: stop.signal,
        logger: quietLogger,
        onRun: () => events.kick(),
        onWarning: onError,
      }).catch((e) => onError(`the embedded worker stopped: ${errorMessage(e)}`)),
    );
  }
  const advance = (run: RunRecord) => {
    const agent = agents.get(run.agentName);
    if (!agent || stop.signal.aborted) return;
    track(
      resumeRun(agent, { store, runId: run.runId, abortSignal: stop.signal, logger: quietLogger })
        .catch((e) => {
          // The embedded worker taking the run first is expected; anything else is worth a line.
          if (!/being advanced by another process/.test(errorMessage(e))) {
            onError(`resuming run ${run.runId} failed: ${errorMessage(e)}`);
          }
        })
        .finally(() => events.kick()),
    );
  };

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    let cookie: string | undefined;
    if (token) {
      const checked = checkToken(request, url, token, base);
      if ("refused" in checked) {
        await request.body?.cancel().catch(() => {});
        return checked.refused;
      }
      cookie = checked.cookie;
    }
    let response: Response;
    try {
      response = await dispatch(request, url);
    } catch (e) {
      response = jsonError(500, `the studio failed: ${errorMessage(e)}`);
    }
    if (cookie) response.headers.set("set-cookie", cookie);
    return response;
  };

  async function dispatch(request: Request, url: URL): Promise<Response> {
    const route = routeOf(localPath(url.pathname, base));
    if (route.kind === "bad") {
      await request.body?.cancel().catch(() => {});
      return jsonError(route.status, route.error);
    }
    const method = request.method;
    const allowed = route.kind === "steer" ? ["POST"] : ["GET", "HEAD"];
    if (!allowed.includes(method)) {
      await request.body?.cancel().catch(() => {});
      const r = jsonError(405, `${method} is not allowed here; use ${allowed.join(" or ")}`);
      r.headers.set("allow", allowed.join(", "));
      return r;
    }
    if (route.kind !== "steer") {
      const r = await answerGet(ctx, route, url, request);
      return method === "HEAD" ? new Response(null, { status: r.status, headers: r.headers }) : r;
    }
    return await answerPost(request, url, route);
  }

  async function answerPost(
    request: Request,
    url: URL,
    route: Extract<StudioRoute, { kind: "steer" }>,
  ): Promise<Response> {
    const refusal = readOnly
      ? "this studio is read-only"
      : refuseWrite(request, url, token !== undefined);
    if (refusal) {
      await request.body?.cancel().catch(() => {});
      return jsonError(403, refusal);
    }
    let text: string;
    try {
      text = await readBody(request, maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLargeError) return jsonError(413, e.message);
      throw e;
    }
    let body: unknown = {};
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        return jsonError(400, "the request body is not valid JSON");
      }
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return jsonError(400, "the request body must be a JSON object");
    }
    const run = await store.getRun(route.runId);
    if (!run) return jsonError(404, `no run "${route.runId}" in this store`);
    const answer = await steer(
      { store, agents, advance },
      route.action,
      run,
      body as Record<string, unknown>,
    );
    events.kick();
    return answer;
  }

  return Object.assign(handler, {
    async close() {
      events.close();
      stop.abort();
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  });
}

/** Step log lines of runs the embedded worker advances go nowhere (the run's events stay). */
const quietLogger = { info() {}, warn() {}, error() {} };

/** The path the handler routes: the request's, without `base` when it still starts with it. */
function localPath(pathname: string, base: string): string {
  if (base && (pathname === base || pathname.startsWith(`${base}/`))) {
    return pathname.slice(base.length) || "/";
  }
  return pathname;
}

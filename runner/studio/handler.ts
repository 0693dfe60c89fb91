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
import { errorMessage } from "../errors.ts";
import type { RunRecord, Store } from "../store/store.ts";
import { EmbeddedWorker } from "./embedded_worker.ts";
import { EventsHub } from "./events.ts";
import { routeOf } from "./routes.ts";
import { baseHeaders, checkToken, jsonError, MAX_BODY_BYTES, refuseHost } from "./security.ts";
import { answerPost } from "./post_route.ts";
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
  const events = new EventsHub(store, {
    pollMs: options.pollMs,
    heartbeatMs: options.heartbeatMs,
    onError: (e) => onError(`looking for changed runs failed: ${errorMessage(e)}`),
  });
  const worker = new EmbeddedWorker(store, options.agents ?? [], () => events.kick(), onError);
  const ctx: StudioContext = { store, base, events, agents: worker.agents, readOnly };
  const advance = (run: RunRecord) => worker.advance(run);

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
    } else {
      const refusal = refuseHost(request, url);
      if (refusal) {
        await request.body?.cancel().catch(() => {});
        return jsonError(403, refusal);
      }
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
    if (route.kind === "events" && method === "HEAD") {
      // Opening a stream for a HEAD would register a client nobody reads.
      return new Response(null, { headers: baseHeaders("text/event-stream; charset=UTF-8") });
    }
    if (route.kind !== "steer") {
      const r = await answerGet(ctx, route, url, request);
      return method === "HEAD" ? new Response(null, { status: r.status, headers: r.headers }) : r;
    }
    const post = { ...ctx, tokenChecked: token !== undefined, maxBodyBytes, advance };
    return await answerPost(post, request, url, route);
  }

  return Object.assign(handler, {
    async close() {
      events.close();
      await worker.close();
    },
  });
}

/** The path the handler routes: the request's, without `base` when it still starts with it. */
function localPath(pathname: string, base: string): string {
  if (base && (pathname === base || pathname.startsWith(`${base}/`))) {
    return pathname.slice(base.length) || "/";
  }
  return pathname;
}

/**
 * Optional trace server: lists the runs of a source (a runner database, a folder of trace files)
 * and serves each run's trace page, rebuilt on every request so a running run's page is live
 * (it also asks the browser to reload while the run is still going).
 *
 * The route is a plain fetch handler, `(request: Request) => Promise<Response>`, with no
 * dependency: `Deno.serve(handler)` runs it, and a Hono app mounts it with
 * `app.mount("/traces", handler)`. `serveTraces` listens on 127.0.0.1 by default and refuses
 * another address without a token. xray does not know the runner: the runner passes a
 * `TraceSource`.
 *
 * Routes (GET or HEAD; other methods are answered 405 and no route reads a request body):
 * `/` (runs page), `/api/runs`, `/runs/:id` (trace page), `/runs/:id/trace.json`,
 * `/runs/:id/otlp.json`, `/runs/:id/summary.json`.
 *
 * @module
 */

import { escapeHtml } from "./escape.ts";
import { toHtml } from "./html.ts";
import { loadTrace, TraceFormatError } from "./load.ts";
import type { TraceData } from "./model.ts";
import { toOtlpJson } from "./otlp.ts";
import { summarize } from "./summary.ts";
/** One run as listed by a source. Extra fields are shown as they are. */
export interface RunInfo {
  /** Run id (used in URLs). */
  id: string;
  /** Display name (agent, scenario...). */
  name?: string;
  /** `running`, `done`, `failed`, ... A page of a `running`/`pending`/`waiting` run reloads itself. */
  status?: string;
  /** When it started: ms since the epoch or an ISO string. */
  startedAt?: number | string;
  /** When it last changed. */
  updatedAt?: number | string;
  /** Anything else to show in the list. */
  [key: string]: unknown;
}

/** Where runs and their traces come from (the runner implements this over its database). */
export interface TraceSource {
  /** The runs, most recent first preferably. */
  listRuns(): RunInfo[] | Promise<RunInfo[]>;
  /** The trace of one run, or `undefined` when there is no such run. */
  traceFor(runId: string): TraceData | undefined | Promise<TraceData | undefined>;
}

/** A fetch handler: what `Deno.serve` runs and what a Hono app mounts with `app.mount`. */
export type TraceHandler = (request: Request) => Promise<Response>;

/** Options for `createTraceHandler`. */
export interface TraceHandlerOptions {
  /** Title of the runs page. @default "Loom runs" */
  title?: string;
  /** Seconds between reloads of a live run's page. @default 3 */
  refreshSeconds?: number;
  /**
   * The path prefix the handler is mounted under (`"/traces"`), used in the links the runs page
   * writes; a request path that still starts with it (a mount that keeps the full path) has it
   * removed before routing.
   * @default ""
   */
  basePath?: string;
  /**
   * When set, every request must carry this token, else it is answered 401 before anything is
   * read: `Authorization: Bearer <token>`, or `?token=<token>` in a browser (the answer then
   * sets an HttpOnly, SameSite=Strict cookie, so the page's links work without it).
   */
  token?: string;
}

const LIVE_STATUSES = new Set(["running", "pending", "waiting", "active", "queued"]);
const TOKEN_COOKIE = "loom_trace_token";

/** `true` when a run is still going, so its page should reload. */
function isLive(run: RunInfo | undefined): boolean {
  return run !== undefined && typeof run.status === "string" &&
    LIVE_STATUSES.has(run.status.toLowerCase());
}

/** Text of a time field for the list. */
function when(v: unknown): string {
  if (typeof v === "number") return new Date(v).toISOString().replace("T", " ").slice(0, 19);
  return typeof v === "string" ? v : "";
}

/** The runs page: a plain table, no script, everything escaped. */
function runsPage(title: string, runs: RunInfo[], base: string): string {
  const rows = runs.map((r) => {
    const href = `${base}/runs/${encodeURIComponent(r.id)}`;
    const status = escapeHtml(String(r.status ?? ""));
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(r.id)}</a></td>` +
      `<td>${escapeHtml(String(r.name ?? ""))}</td><td class="s-${status}">${status}</td>` +
      `<td>${escapeHtml(when(r.startedAt))}</td><td>${escapeHtml(when(r.updatedAt))}</td>` +
      `<td><a href="${escapeHtml(href)}/trace.json">json</a> · ` +
      `<a href="${escapeHtml(href)}/otlp.json">otlp</a></td></tr>`;
  }).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}.s-failed{color:#c62828}.s-running{color:#1565c0}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${
    runs.length === 0
      ? "<p>No runs yet.</p>"
      : `<table><thead><tr><th>run</th><th>name</th><th>status</th><th>started</th><th>updated</th><th>data</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
  }
</body></html>`;
}

/** Headers every answer carries: nothing is cached (pages are live), nothing is sniffed. */
function headers(contentType: string, extra: HeadersInit = {}): Headers {
  const h = new Headers(extra);
  h.set("content-type", contentType);
  h.set("cache-control", "no-store");
  h.set("x-content-type-options", "nosniff");
  return h;
}

function htmlResponse(body: string, status = 200, extra: HeadersInit = {}): Response {
  return new Response(body, { status, headers: headers("text/html; charset=UTF-8", extra) });
}

function jsonResponse(value: unknown, status = 200, extra: HeadersInit = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: headers("application/json; charset=UTF-8", extra),
  });
}

/** What a request path asks for. */
type Route =
  | { kind: "runs" }
  | { kind: "api" }
  | { kind: "page"; id: string }
  | { kind: "data"; id: string; format: "trace" | "otlp" | "summary" };

/**
 * The route of a path (`basePath` already removed), or `undefined`. Segments are split before
 * they are decoded, so a run id may contain `/` (`team%2F1`); bad percent-encoding throws.
 */
function routeOf(path: string): Route | undefined {
  if (path === "/" || path === "") return { kind: "runs" };
  if (path === "/api/runs") return { kind: "api" };
  const parts = path.split("/");
  if (parts[1] !== "runs" || !parts[2] || parts.length > 4) return undefined;
  const id = decodeURIComponent(parts[2]);
  if (parts.length === 3) return { kind: "page", id };
  const format = /^(trace|otlp|summary)\.json$/.exec(parts[3])?.[1];
  return format ? { kind: "data", id, format: format as "trace" | "otlp" | "summary" } : undefined;
}

/** The path the handler routes: the request's, without `base` when it still starts with it. */
function localPath(pathname: string, base: string): string {
  if (base && (pathname === base || pathname.startsWith(`${base}/`))) {
    return pathname.slice(base.length) || "/";
  }
  return pathname;
}

/** What `checkRequestToken` found. */
export type TokenCheck =
  | { accepted: false }
  | {
    accepted: true;
    /** The `set-cookie` value to send when the token came as `?token=` (a browser's first visit). */
    setCookie?: string;
  };

/** Where `checkRequestToken` keeps a token that came as `?token=`. */
export interface TokenCookie {
  /** The cookie's name. */
  name: string;
  /** The cookie's path (the handler's base path). @default "/" */
  path?: string;
}

/**
 * Checks the token a request carries: an `Authorization: Bearer` header, `?token=` (then the
 * answer should set an HttpOnly SameSite=Strict cookie so the page's own requests carry it), or
 * that cookie. The comparison takes the same time wherever the strings differ.
 *
 * @example
 * ```ts
 * import { checkRequestToken } from "@loom/xray/serve";
 * const request = new Request("http://127.0.0.1/?token=s3cret");
 * const check = checkRequestToken(request, new URL(request.url), "s3cret", { name: "t" });
 * console.log(check.accepted); // true, with a setCookie value for the browser
 * ```
 */
export function checkRequestToken(
  request: Request,
  url: URL,
  token: string,
  cookie: TokenCookie,
): TokenCheck {
  const given = givenToken(request, url, cookie.name);
  if (!sameToken(given.token, token)) return { accepted: false };
  if (!given.fromQuery) return { accepted: true };
  return {
    accepted: true,
    setCookie: `${cookie.name}=${encodeURIComponent(token)}; Path=${
      cookie.path || "/"
    }; HttpOnly; SameSite=Strict`,
  };
}

/** Compares two strings in time that does not depend on where they differ. */
function sameToken(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/** The token a request carries: bearer header, `?token=`, or the cookie a `?token=` set. */
function givenToken(
  request: Request,
  url: URL,
  cookieName: string,
): { token: string; fromQuery: boolean } {
  const header = request.headers.get("authorization") ?? "";
  if (header.startsWith("Bearer ")) return { token: header.slice(7), fromQuery: false };
  const query = url.searchParams.get("token");
  if (query !== null) return { token: query, fromQuery: true };
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name !== cookieName) continue;
    try {
      return { token: decodeURIComponent(value.join("=")), fromQuery: false };
    } catch {
      break;
    }
  }
  return { token: "", fromQuery: false };
}

/**
 * Builds the fetch handler serving a source's runs and traces: serve it with
 * `Deno.serve(handler)` (or `serveTraces`), or mount it in a Hono app with
 * `app.mount("/traces", handler)` and `basePath: "/traces"`. Pages and JSON are rebuilt from
 * the source on every request; every text from the source is escaped in the runs page, and the
 * trace page is `toHtml`'s. A source that throws is answered 500 with one sentence.
 *
 * @param source Where runs and traces come from.
 * @param options Title, live-reload interval, mount prefix, token.
 * @returns The handler; it never reads a request body (other methods than GET/HEAD get 405).
 *
 * @example Serve a folder of trace files with `Deno.serve`
 * ```ts
 * import { createTraceHandler, dirSource } from "@loom/xray/serve";
 * const dir = await Deno.makeTempDir();
 * const handler = createTraceHandler(dirSource(dir), { title: "My traces" });
 * const page = await handler(new Request("http://localhost/"));
 * console.log(page.status); // 200: the runs page (empty folder: "No runs yet.")
 * // Deno.serve({ hostname: "127.0.0.1", port: 8787 }, handler);
 * ```
 */
export function createTraceHandler(
  source: TraceSource,
  options: TraceHandlerOptions = {},
): TraceHandler {
  const { title = "Loom runs", refreshSeconds = 3, basePath = "", token } = options;
  const base = basePath.replace(/\/+$/, "");
  return async (request) => {
    const url = new URL(request.url);
    let setCookie: HeadersInit = {};
    if (token) {
      const check = checkRequestToken(request, url, token, { name: TOKEN_COOKIE, path: base });
      if (!check.accepted) {
        return jsonResponse(
          { error: "a valid token is required (Authorization: Bearer <token>, or ?token=)" },
          401,
          { "www-authenticate": 'Bearer realm="loom traces"' },
        );
      }
      if (check.setCookie) setCookie = { "set-cookie": check.setCookie };
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonResponse(
        { error: `${request.method} is not allowed: the routes only read` },
        405,
        {
          allow: "GET, HEAD",
        },
      );
    }
    let response: Response;
    try {
      response = await answer(localPath(url.pathname, base));
    } catch (err) {
      response = failure(err);
    }
    for (const [name, value] of new Headers(setCookie)) response.headers.set(name, value);
    return request.method === "HEAD"
      ? new Response(null, { status: response.status, headers: response.headers })
      : response;
  };

  async function answer(path: string): Promise<Response> {
    let route: Route | undefined;
    try {
      route = routeOf(path);
    } catch {
      return jsonResponse({ error: `the path ${path} is not valid percent-encoding` }, 400);
    }
    if (!route) return jsonResponse({ error: `no route for ${path}` }, 404);
    if (route.kind === "runs") return htmlResponse(runsPage(title, await source.listRuns(), base));
    if (route.kind === "api") return jsonResponse(await source.listRuns());
    const { id } = route;
    const trace = await source.traceFor(id);
    const notFound = `No run "${id}" in this source.`;
    if (route.kind === "page") {
      if (!trace) return htmlResponse(`<!DOCTYPE html><p>${escapeHtml(notFound)}</p>`, 404);
      const run = (await source.listRuns()).find((r) => r.id === id);
      return htmlResponse(
        toHtml(trace),
        200,
        isLive(run) ? { refresh: String(refreshSeconds) } : {},
      );
    }
    if (!trace) return jsonResponse({ error: notFound }, 404);
    const formats = {
      trace: () => trace,
      otlp: () => toOtlpJson(trace),
      summary: () => summarize(trace),
    };
    return jsonResponse(formats[route.format]());
  }
}

/** A broken source (corrupt file, locked database) is a server-side problem: say so briefly. */
function failure(err: unknown): Response {
  const message = err instanceof TraceFormatError
    ? err.message
    : `the trace source failed: ${err instanceof Error ? err.message : String(err)}`;
  return jsonResponse({ error: message }, 500);
}

/**
 * `true` for an address only this machine reaches: `localhost`, `127.x.x.x`, `::1`.
 *
 * @param hostname An interface to listen on.
 * @returns Whether listening there keeps the server on this machine.
 */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Options for `serveTraces`. */
export interface ServeOptions extends Omit<TraceHandlerOptions, "basePath"> {
  /** Where runs and traces come from. */
  source: TraceSource;
  /** Port; 0 picks a free one. @default 8787 */
  port?: number;
  /**
   * Interface. Any other than loopback needs `token`.
   * @default "127.0.0.1" (never exposed beyond this machine by default)
   */
  hostname?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/** A running trace server. */
export interface TraceServer {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** Stops accepting requests and waits for open ones to finish. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Serves a source's runs and traces over HTTP, on 127.0.0.1 unless told otherwise: `Deno.serve`
 * running `createTraceHandler`.
 *
 * @param options Source, port, hostname, token, abort signal.
 * @returns Once listening: the URL and a way to stop.
 * @throws {TypeError} When `hostname` is not a loopback address and no `token` is given: every
 * run's states and tool data would be readable by anyone who reaches the port.
 *
 * @example
 * ```ts ignore
 * import { dirSource, serveTraces } from "@loom/xray/serve";
 * const server = await serveTraces({ source: dirSource("./traces"), port: 8787 });
 * console.log(`traces at ${server.url}`);
 * ```
 */
export function serveTraces(options: ServeOptions): Promise<TraceServer> {
  const { source, port = 8787, hostname = "127.0.0.1", signal, ...handlerOptions } = options;
  if (!isLoopback(hostname) && !handlerOptions.token) {
    return Promise.reject(
      new TypeError(
        `Cannot serve traces on ${hostname} without a token: it would expose every run's data beyond this machine`,
      ),
    );
  }
  const handler = createTraceHandler(source, handlerOptions);
  // Deno.serve binds synchronously: the address is known as soon as it returns.
  const server = Deno.serve({ port, hostname, signal, onListen: () => {} }, handler);
  const bound = server.addr.port;
  const host = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  return Promise.resolve({
    url: `http://${host}:${bound}`,
    port: bound,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  });
}

/**
 * A source over a folder of trace files (`*.json`, `*.jsonl`): each file is a run whose id is
 * its file name without the extension. Files are read on every request, so a trace being
 * streamed to `*.jsonl` shows up live.
 *
 * @param dir The folder.
 * @returns The source.
 */
export function dirSource(dir: string): TraceSource {
  const files = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for await (const e of Deno.readDir(dir)) {
      const m = /^(.+)\.(jsonl?)$/.exec(e.name);
      if (e.isFile && m) out.set(m[1], `${dir}/${e.name}`);
    }
    return out;
  };
  return {
    async listRuns() {
      const runs: RunInfo[] = [];
      for (const [id, path] of await files()) {
        const stat = await Deno.stat(path);
        const streaming = path.endsWith(".jsonl");
        runs.push({
          id,
          name: path.slice(dir.length + 1),
          status: streaming && Date.now() - (stat.mtime?.getTime() ?? 0) < 10_000
            ? "running"
            : "recorded",
          updatedAt: stat.mtime?.getTime(),
        });
      }
      return runs.sort((a, b) => Number(b.updatedAt ?? 0) - Number(a.updatedAt ?? 0));
    },
    async traceFor(runId) {
      const path = (await files()).get(runId);
      return path === undefined ? undefined : await loadTrace(path);
    },
  };
}

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type { AttributeValue, Span, SpanError, SpanKind, SpanStatus, TraceData } from "./mod.ts";

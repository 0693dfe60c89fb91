/**
 * Optional trace server: lists the runs of a source (a runner database, a folder of trace files)
 * and serves each run's trace page, rebuilt on every request so a running run's page is live
 * (it also asks the browser to reload while the run is still going). Listens on 127.0.0.1.
 *
 * This is the one module of `@loom/xray` that uses `npm:hono`; import it from
 * `@loom/xray/serve`. xray does not know the runner: the runner passes a `TraceSource`.
 *
 * Routes: `GET /` (runs page), `GET /api/runs`, `GET /runs/:id` (trace page),
 * `GET /runs/:id/trace.json`, `GET /runs/:id/otlp.json`, `GET /runs/:id/summary.json`.
 *
 * @module
 */

import { Hono } from "hono";
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

/**
 * The app `createTraceApp` returns: a fetch handler. Serve it with `Deno.serve(app.fetch)` or
 * mount it in a Hono app with `app.mount("/traces", traceApp.fetch)`.
 */
export interface TraceApp {
  /** Answers one HTTP request. */
  fetch(request: Request): Response | Promise<Response>;
}

/** Options for `createTraceApp`. */
export interface TraceAppOptions {
  /** Title of the runs page. @default "Loom runs" */
  title?: string;
  /** Seconds between reloads of a live run's page. @default 3 */
  refreshSeconds?: number;
}

const LIVE_STATUSES = new Set(["running", "pending", "waiting", "active", "queued"]);

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
function runsPage(title: string, runs: RunInfo[]): string {
  const rows = runs.map((r) =>
    `<tr><td><a href="/runs/${encodeURIComponent(r.id)}">${escapeHtml(r.id)}</a></td>` +
    `<td>${escapeHtml(String(r.name ?? ""))}</td><td class="s-${
      escapeHtml(String(r.status ?? ""))
    }">${escapeHtml(String(r.status ?? ""))}</td>` +
    `<td>${escapeHtml(when(r.startedAt))}</td><td>${escapeHtml(when(r.updatedAt))}</td>` +
    `<td><a href="/runs/${encodeURIComponent(r.id)}/trace.json">json</a> · <a href="/runs/${
      encodeURIComponent(r.id)
    }/otlp.json">otlp</a></td></tr>`
  ).join("\n");
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

/**
 * Builds the Hono app serving a source's runs and traces. Mount it in a bigger app or serve it
 * with `serveTraces`.
 *
 * @param source Where runs and traces come from.
 * @param options Title and live-reload interval.
 * @returns The app (a Hono app, exposed as its fetch handler).
 */
export function createTraceApp(source: TraceSource, options: TraceAppOptions = {}): TraceApp {
  const { title = "Loom runs", refreshSeconds = 3 } = options;
  const app = new Hono();
  const runInfo = async (id: string) => (await source.listRuns()).find((r) => r.id === id);
  const notFound = (id: string) => `No run "${id}" in this source.`;

  app.get("/", async (c) => c.html(runsPage(title, await source.listRuns())));
  app.get("/api/runs", async (c) => c.json(await source.listRuns()));
  app.get("/runs/:id", async (c) => {
    const id = c.req.param("id");
    const trace = await source.traceFor(id);
    if (!trace) return c.html(`<!DOCTYPE html><p>${escapeHtml(notFound(id))}</p>`, 404);
    if (isLive(await runInfo(id))) c.header("Refresh", String(refreshSeconds));
    return c.html(toHtml(trace));
  });
  app.get("/runs/:id/trace.json", async (c) => {
    const trace = await source.traceFor(c.req.param("id"));
    return trace ? c.json(trace) : c.json({ error: notFound(c.req.param("id")) }, 404);
  });
  app.get("/runs/:id/otlp.json", async (c) => {
    const trace = await source.traceFor(c.req.param("id"));
    return trace ? c.json(toOtlpJson(trace)) : c.json({ error: notFound(c.req.param("id")) }, 404);
  });
  app.get("/runs/:id/summary.json", async (c) => {
    const trace = await source.traceFor(c.req.param("id"));
    return trace ? c.json(summarize(trace)) : c.json({ error: notFound(c.req.param("id")) }, 404);
  });
  app.onError((err, c) => {
    // A broken source (corrupt file, locked database) is a server-side problem: say so briefly.
    const message = err instanceof TraceFormatError
      ? err.message
      : `the trace source failed: ${err.message}`;
    return c.json({ error: message }, 500);
  });
  return { fetch: (request) => app.fetch(request) };
}

/** Options for `serveTraces`. */
export interface ServeOptions extends TraceAppOptions {
  /** Where runs and traces come from. */
  source: TraceSource;
  /** Port; 0 picks a free one. @default 8787 */
  port?: number;
  /** Interface. @default "127.0.0.1" (never exposed beyond this machine by default) */
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
 * Serves a source's runs and traces over HTTP on 127.0.0.1.
 *
 * @param options Source, port, hostname, abort signal.
 * @returns Once listening: the URL and a way to stop.
 *
 * @example
 * ```ts ignore
 * import { dirSource, serveTraces } from "@loom/xray/serve";
 * const server = await serveTraces({ source: dirSource("./traces"), port: 8787 });
 * console.log(`traces at ${server.url}`);
 * ```
 */
export function serveTraces(options: ServeOptions): Promise<TraceServer> {
  const { source, port = 8787, hostname = "127.0.0.1", signal, ...appOptions } = options;
  const app = createTraceApp(source, appOptions);
  // Deno.serve binds synchronously: the address is known as soon as it returns.
  const server = Deno.serve({ port, hostname, signal, onListen: () => {} }, app.fetch);
  const bound = server.addr.port;
  return Promise.resolve({
    url: `http://${hostname}:${bound}`,
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

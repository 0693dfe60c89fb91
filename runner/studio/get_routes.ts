/**
 * The studio's GET routes: pages (the UI's HTML shells and assets, the xray trace and diff pages),
 * the JSON API, and the events stream.
 *
 * @module
 */
import { summarize, toHtml, toOtlpJson } from "@loom/xray";
import runnerPackage from "../deno.json" with { type: "json" };
import { traceRun } from "../trace.ts";
import {
  runCalls,
  runDetail,
  runFailedAttempts,
  runSignals,
  runSteps,
  stepState,
} from "./api_run.ts";
import type { StudioContext } from "./handler.ts";
import { isStatus, queryRuns, type RunRow, type RunsQuery } from "./runs_query.ts";
import { runIdOf, type StudioRoute } from "./routes.ts";
import { baseHeaders, html, json, jsonError, TRACE_CSP } from "./security.ts";
import { STUDIO_ASSETS, studioPage } from "./ui/pages.ts";

export type { RunRow };

/** Answers a GET (or HEAD) route. */
export async function answerGet(
  ctx: StudioContext,
  route: Exclude<StudioRoute, { kind: "steer" | "bad" }>,
  url: URL,
  _request: Request,
): Promise<Response> {
  const { store, base } = ctx;
  switch (route.kind) {
    case "page":
      return html(studioPage(route.page, { basePath: base }));
    case "asset": {
      const asset = STUDIO_ASSETS[route.name];
      if (!asset) return jsonError(404, `no asset ${route.name}`);
      return new Response(asset.body, { headers: baseHeaders(asset.type) });
    }
    case "info":
      return json({
        location: store.location,
        worker: ctx.agents.size > 0,
        agents: [...ctx.agents.keys()],
        readOnly: ctx.readOnly,
        version: runnerPackage.version,
      });
    case "runs":
      return await runsList(ctx, url);
    case "events":
      return ctx.events.open();
    case "compare-trace":
      return await comparePage(ctx, url);
  }
  const run = await store.getRun(route.runId);
  if (route.kind === "run-page") {
    const page = studioPage("run", { basePath: base, runId: route.runId });
    return html(page, run ? 200 : 404);
  }
  if (!run) return jsonError(404, `no run "${route.runId}" in this store`);
  switch (route.kind) {
    case "run-trace":
      return html(toHtml(await traceRun(store, run.runId)), 200, TRACE_CSP);
    case "run-data": {
      const trace = await traceRun(store, run.runId);
      const formats = {
        trace: () => trace,
        otlp: () => toOtlpJson(trace),
        summary: () => summarize(trace),
      };
      return json(formats[route.format]());
    }
    case "run":
      return json(await runDetail(store, run));
    case "step-state": {
      const state = await stepState(store, run, route.step);
      if (typeof state !== "string") return jsonError(404, state.error);
      // The stored JSON as is: a big state is not parsed and re-serialized here.
      return new Response(state, { headers: baseHeaders("application/json; charset=UTF-8") });
    }
  }
  switch (route.part) {
    case "steps": {
      const from = intParam(url, "from", 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(url, "limit", 50, 1, 1000);
      if (typeof from === "string") return jsonError(400, from);
      if (typeof limit === "string") return jsonError(400, limit);
      return json(await runSteps(store, run, from, limit));
    }
    case "calls":
      return json(await runCalls(store, run.runId));
    case "failed-attempts":
      return json(await runFailedAttempts(store, run.runId));
    case "signals":
      return json(await runSignals(store, run.runId));
  }
}

/** An integer query parameter within bounds, or the sentence saying what is wrong. */
function intParam(url: URL, name: string, def: number, min: number, max: number): number | string {
  const text = url.searchParams.get(name);
  if (text === null || text === "") return def;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    return `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`;
  }
  return n;
}

/** `GET /api/runs`: one page of runs, with the total, counts per status and agents. */
async function runsList(ctx: StudioContext, url: URL): Promise<Response> {
  const p = url.searchParams;
  const offset = intParam(url, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(url, "limit", 50, 1, 500);
  if (typeof offset === "string") return jsonError(400, offset);
  if (typeof limit === "string") return jsonError(400, limit);
  const status = p.get("status") || undefined;
  if (status !== undefined && !isStatus(status)) {
    return jsonError(400, `unknown status ${JSON.stringify(status)}`);
  }
  const query: RunsQuery = { offset, limit, status };
  const agent = p.get("agent");
  if (agent) query.agent = agent;
  const q = p.get("q");
  if (q) query.q = q;
  const parent = p.get("parent");
  if (parent) {
    const id = runIdOf(encodeURIComponent(parent));
    if ("error" in id) return jsonError(400, id.error);
    query.parent = id.runId;
  }
  return json(await queryRuns(ctx.store, query));
}

/** `GET /compare/trace?a=&b=`: xray's page of run a with run b to compare (its Diff tab). */
async function comparePage(ctx: StudioContext, url: URL): Promise<Response> {
  const ids: string[] = [];
  for (const name of ["a", "b"]) {
    const id = runIdOf(encodeURIComponent(url.searchParams.get(name) ?? ""));
    if ("error" in id) return jsonError(400, `${name}: ${id.error}`);
    if (!await ctx.store.getRun(id.runId)) {
      return jsonError(404, `no run "${id.runId}" in this store`);
    }
    ids.push(id.runId);
  }
  const [a, b] = await Promise.all(ids.map((id) => traceRun(ctx.store, id)));
  return html(toHtml(a, { compare: b }), 200, TRACE_CSP); // its Diff tab is xray's diffTraces
}

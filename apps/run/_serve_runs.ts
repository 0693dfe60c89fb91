/**
 * The read-only routes of `loom-run serve`: `GET /runs`, `GET /runs/:id` (JSON) and
 * `GET /runs/:id/trace` (offline HTML trace).
 *
 * @module
 */
import type { Hono } from "hono";
import { explainRun, type Store } from "@loom/runner";
import { toHtml } from "@loom/xray";
import { transcript } from "./explain.ts";
import type { LlmReply } from "./llm/types.ts";
import { latestState } from "./runs.ts";
import { traceChatRun } from "./store_trace.ts";

/** Adds `GET /runs`, `GET /runs/:id/trace` and `GET /runs/:id` to the app. */
export function runRoutes(app: Hono, store: Store): void {
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

/**
 * Loom Studio benchmark: the runs page API with 100,000 runs in a SQLite database, and the run
 * page of a run with ~10,000 spans. Every figure is a median over real HTTP requests to a studio
 * on 127.0.0.1 (`serveStudio`), next to a baseline measured in the same run:
 *
 * - runs: `GET /api/runs` (first page, filtered by status, agent and text, a deep page, children)
 *   and the runs page HTML, against the store's own `listRuns({ limit: 50 })` (one indexed query
 *   without counts) in the same process;
 * - the big run: `GET /api/runs/:id`, `/steps`, `/calls` and the trace page (`/runs/:id/trace`:
 *   size and time), against `traceRun` alone (rebuilding the trace from the store).
 *
 *     deno run -A bench/studio_bench.ts [--runs 100000] [--steps 3300] [--repeat 9] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { defineAgent, openStore, recur, startRun } from "../runner/mod.ts";
import { traceRun } from "../runner/trace.ts";
import { serveStudio } from "../runner/studio/serve.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "100000" },
    steps: { type: "string", default: "3300" },
    repeat: { type: "string", default: "9" },
    json: { type: "boolean" },
  },
});
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const REPEAT = Number(values.repeat);

const STATUSES = [
  "completed",
  "completed",
  "completed",
  "failed",
  "waiting",
  "paused",
  "cancelled",
];
const AGENTS = ["triage", "deploy", "support", "research", "billing"];

/** Inserts `n` runs (2 steps each, a child run every 100th) in one transaction. */
function seed(store: ReturnType<typeof openStore>, n: number): void {
  const db = store.db;
  const T0 = Date.now() - n * 1000;
  const run = db.prepare(
    `INSERT INTO runs (run_id, agent_name, agent_version, status, parent_run_id, first_step,
       initial_state, waiting, error, policy, created_at, updated_at, ended_at)
     VALUES (?, ?, 1, ?, ?, 0, '{"n":0}', ?, ?, '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}', ?, ?, ?)`,
  );
  const step = db.prepare(
    "INSERT INTO steps (run_id, step, attempt, started_at, duration_ms, state) VALUES (?, ?, 1, ?, 1, ?)",
  );
  db.exec("BEGIN");
  for (let i = 0; i < n; i++) {
    const id = `run-${String(i).padStart(6, "0")}`;
    const status = STATUSES[i % STATUSES.length];
    const at = T0 + i * 1000;
    const ended = ["completed", "failed", "cancelled"].includes(status) ? at : null;
    const waiting = status === "waiting"
      ? JSON.stringify({
        kind: "signal",
        name: "approve",
        deadline: null,
        key: "0:signal:approve:0",
      })
      : null;
    const parent = i % 100 === 99 ? `run-${String(i - 1).padStart(6, "0")}` : null;
    run.run(
      id,
      AGENTS[i % AGENTS.length],
      status,
      parent,
      waiting,
      status === "failed" ? "boom" : null,
      at,
      at,
      ended,
    );
    step.run(id, 0, at, '{"n":1}');
    step.run(id, 1, at + 1, '{"n":2}');
  }
  db.exec("COMMIT");
}

/** A run whose steps each make two tool calls: ~3 spans per step. */
const busy = defineAgent({
  name: "busy",
  initialState: (input?: { steps?: number }) => ({
    i: 0,
    steps: input?.steps ?? 10,
    notes: [] as string[],
  }),
  async step(state, ctx) {
    if (state.i >= state.steps) return { done: state.i };
    const a = await ctx.callTool("search", { q: `item ${state.i}` }, (x) => ({ hits: [x.q, "b"] }));
    await ctx.callTool("write", { n: state.i }, () => ({ ok: a.hits.length }));
    return recur({ ...state, i: state.i + 1, notes: [`step ${state.i}`] });
  },
});

/** Median wall time, ms, of `repeat` calls of `fn` (after one warm-up). */
async function median(fn: () => Promise<unknown>, repeat = REPEAT): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return await res.text();
}

const dir = await Deno.makeTempDir({ prefix: "loom-studio-bench-" });
const store = openStore(`${dir}/runs.sqlite`);
const out: Record<string, number> = {};
try {
  let t = performance.now();
  seed(store, RUNS);
  const seedMs = performance.now() - t;
  t = performance.now();
  const big = await startRun(busy, { store, runId: "big", input: { steps: STEPS } });
  const bigMs = performance.now() - t;
  if (big.status !== "completed") throw new Error(`the big run ended ${big.status}`);
  const server = await serveStudio({ store, port: 0 });
  const u = (path: string) => `${server.url}${path}`;
  try {
    out.baselineListRuns = await median(() => Promise.resolve(store.listRuns({ limit: 50 })));
    out.apiRuns = await median(() => getText(u("/api/runs")));
    out.apiRunsStatus = await median(() => getText(u("/api/runs?status=failed")));
    out.apiRunsAgent = await median(() => getText(u("/api/runs?agent=deploy&status=completed")));
    out.apiRunsText = await median(() => getText(u("/api/runs?q=run-0123")));
    out.apiRunsDeepPage = await median(() => getText(u("/api/runs?offset=90000")));
    out.apiRunsChildren = await median(() => getText(u("/api/runs?parent=run-000098")));
    out.runsPage = await median(() => getText(u("/")));

    const trace = await traceRun(store, "big");
    out.bigSpans = trace.spans.length;
    out.baselineTraceRun = await median(() => traceRun(store, "big"), 3);
    out.runDetail = await median(() => getText(u("/api/runs/big")), 5);
    out.runSteps = await median(() => getText(u("/api/runs/big/steps?from=1500&limit=50")), 5);
    out.runCalls = await median(() => getText(u("/api/runs/big/calls")), 5);
    out.tracePage = await median(() => getText(u("/runs/big/trace")), 3);
    out.tracePageBytes = new TextEncoder().encode(await getText(u("/runs/big/trace"))).length;
  } finally {
    await server.shutdown();
  }
  if (values.json) {
    console.log(JSON.stringify({ runs: RUNS, seedMs, bigMs, ...out }, null, 2));
  } else {
    const ms = (k: string) => `${out[k].toFixed(1).padStart(8)} ms`;
    const x = (k: string, base: string) => `${(out[k] / out[base]).toFixed(1)}x`;
    console.log(
      `studio bench: ${RUNS.toLocaleString("en")} runs (seeded in ${
        (seedMs / 1000).toFixed(1)
      } s), medians of ${REPEAT} HTTP requests`,
    );
    console.log(`  baseline store.listRuns({ limit: 50 })  ${ms("baselineListRuns")}`);
    for (
      const k of [
        "apiRuns",
        "apiRunsStatus",
        "apiRunsAgent",
        "apiRunsText",
        "apiRunsDeepPage",
        "apiRunsChildren",
        "runsPage",
      ]
    ) {
      console.log(`  ${k.padEnd(38)} ${ms(k)}  (${x(k, "baselineListRuns")} baseline)`);
    }
    console.log(
      `run of ${STEPS} steps, ${out.bigSpans.toLocaleString("en")} spans (run took ${
        (bigMs / 1000).toFixed(1)
      } s)`,
    );
    console.log(`  baseline traceRun                       ${ms("baselineTraceRun")}`);
    for (const k of ["runDetail", "runSteps", "runCalls", "tracePage"]) {
      console.log(`  ${k.padEnd(38)} ${ms(k)}  (${x(k, "baselineTraceRun")} traceRun)`);
    }
    console.log(
      `  trace page size                         ${(out.tracePageBytes / 1024).toFixed(0)} KiB`,
    );
  }
} finally {
  store.close();
  await Deno.remove(dir, { recursive: true });
}

/**
 * The `enqueue` and `worker` commands of `loom-runner`:
 *
 * ```
 * loom-runner enqueue AGENT --run-id X [--input JSON] [--agents DIR] --db URL
 * loom-runner worker --db URL|FILE --agents DIR [--concurrency N] [--lease-ttl MS] [--drain]
 * ```
 *
 * `AGENT` is a module file or the name of an agent found in `--agents DIR` (its `agents.ts` and
 * `*_agent.ts`/`*_agents.ts` modules; each exported `defineAgent` value counts). `--db` (a
 * PostgreSQL URL or a SQLite file, which several workers and `run`/`resume` commands may share)
 * defaults to `LOOM_DB_URL`.
 * Runnable directly too: `deno run -A runner/cli/worker.ts worker ...`.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Agent } from "../engine/agent.ts";
import { errorMessage, RunnerError } from "../errors.ts";
import { openAnyStore } from "../store/open.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { Store } from "../store/store.ts";
import { isWorkQueue } from "../store/work_queue.ts";
import { enqueueRun } from "../engine/engine.ts";
import { runWorker, type WorkerOptions, type WorkerSummary } from "../worker/worker.ts";
import { agentsOf, importAgentModule, intFlag, joinNegativeValues } from "./command.ts";

/** An agent of any state, result and input type. */
export type AnyAgent = Agent<unknown, unknown, unknown>;

const MODULE_RE = /\.(ts|js|mjs|mts)$/;
/** Modules `--agents DIR` loads: `agents.ts` and `*_agent.ts` / `*_agents.ts` (any JS/TS ending). */
const AGENT_MODULE_RE = /(^|_)agents?\.(ts|js|mjs|mts)$/;

/** Loads every agent exported by the modules of a directory (not recursive). */
export async function loadAgentsDir(dir: string): Promise<AnyAgent[]> {
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      // Only agent modules: importing any other script (a demo, a benchmark) would run it.
      if (e.isFile && AGENT_MODULE_RE.test(e.name)) {
        files.push(`${dir}/${e.name}`);
      }
    }
  } catch (e) {
    throw new RunnerError(`cannot read agents directory ${dir}: ${errorMessage(e)}`);
  }
  const byName = new Map<string, AnyAgent>();
  for (const f of files.sort()) {
    for (const a of agentsOf(await importAgentModule(f))) {
      const prev = byName.get(a.name);
      if (prev && prev !== a) throw new RunnerError(`two modules in ${dir} define agent ${a.name}`);
      byName.set(a.name, a);
    }
  }
  if (byName.size === 0) throw new RunnerError(`no agents found in ${dir}`);
  return [...byName.values()];
}

async function resolveAgent(spec: string, dir: string | undefined): Promise<AnyAgent> {
  if (MODULE_RE.test(spec)) {
    const found = agentsOf(await importAgentModule(spec));
    if (found.length !== 1) {
      throw new RunnerError(`${spec} exports ${found.length} agents; name one with --agents DIR`);
    }
    return found[0];
  }
  if (!dir) throw new RunnerError(`agent ${spec} is not a module file; pass --agents DIR`);
  const agent = (await loadAgentsDir(dir)).find((a) => a.name === spec);
  if (!agent) throw new RunnerError(`no agent named ${spec} in ${dir}`);
  return agent;
}

function dbOf(value: string | undefined): string {
  const db = value ?? Deno.env.get("LOOM_DB_URL");
  if (!db) throw new RunnerError("no database given: pass --db URL or set LOOM_DB_URL");
  return db;
}

type Values = Record<string, string | boolean | undefined>;

const USAGE = [
  "usage: loom-runner enqueue AGENT --run-id X [--input JSON] [--agents DIR] --db URL",
  "       loom-runner worker --db URL|FILE --agents DIR [--concurrency N] [--lease-ttl MS] " +
  "[--steps-per-claim N] [--poll-interval MS] [--max-in-process-sleep MS] [--drain] [--json]",
].join("\n");

/** Thrown to print the usage and exit 0. */
class HelpRequested extends Error {}

function parse(
  args: string[],
  options: ParseArgsConfig["options"],
): { values: Values; positionals: string[] } {
  if (args.includes("--help") || args.includes("-h")) throw new HelpRequested();
  try {
    const out = parseArgs({
      args: joinNegativeValues(args, options ?? {}),
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: out.values as Values, positionals: out.positionals };
  } catch (e) {
    throw new RunnerError(errorMessage(e).split("\n")[0].replace(/\.$/, ""));
  }
}

async function withErrors(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(USAGE);
      return 0;
    }
    if (e instanceof RunnerError) {
      console.error(`error: ${e.message}`);
      return e.exitCode;
    }
    console.error(`error: ${errorMessage(e)}`);
    return 1;
  }
}

async function closeStore(store: Store): Promise<void> {
  await store.close();
}

/** `loom-runner enqueue AGENT --run-id X [--input JSON]`: creates a run for workers. */
export function enqueueCommand(args: string[]): Promise<number> {
  return withErrors(async () => {
    const { values, positionals } = parse(args, {
      "run-id": { type: "string" },
      input: { type: "string" },
      agents: { type: "string" },
      db: { type: "string" },
      schema: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new RunnerError("usage: loom-runner enqueue AGENT --run-id X [--input JSON] --db URL");
    }
    const runId = values["run-id"] as string | undefined;
    if (!runId) throw new RunnerError("--run-id is required");
    let input: unknown;
    if (values.input !== undefined) {
      try {
        input = JSON.parse(values.input as string);
      } catch {
        throw new RunnerError("--input is not valid JSON");
      }
    }
    const agent = await resolveAgent(positionals[0], values.agents as string | undefined);
    const store = await openAnyStore(dbOf(values.db as string | undefined), {
      schema: values.schema as string | undefined,
    });
    try {
      const run = await enqueueRun(agent, { store, runId, input });
      if (values.json) {
        console.log(JSON.stringify({ runId, agent: agent.name, status: run.status }));
      } else console.log(`run ${runId} queued for agent ${agent.name}`);
      return 0;
    } finally {
      await closeStore(store);
    }
  });
}

/** `loom-runner worker --db URL --agents DIR [--concurrency N]`: shares the runs with others. */
export function workerCommand(args: string[]): Promise<number> {
  return withErrors(async () => {
    const { values, positionals } = parse(args, {
      agents: { type: "string" },
      db: { type: "string" },
      schema: { type: "string" },
      concurrency: { type: "string" },
      "lease-ttl": { type: "string" },
      "steps-per-claim": { type: "string" },
      "poll-interval": { type: "string" },
      "max-in-process-sleep": { type: "string" },
      drain: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new RunnerError(`unexpected argument ${positionals[0]}`);
    if (!values.agents) throw new RunnerError("--agents DIR is required");
    const concurrency = intFlag(values, "concurrency", 1);
    const leaseTtlMs = intFlag(values, "lease-ttl", 100);
    const stepsPerClaim = intFlag(values, "steps-per-claim", 1);
    const maxIdleMs = intFlag(values, "poll-interval", 1);
    const maxInProcessSleepMs = intFlag(values, "max-in-process-sleep", 0);
    const db = dbOf(values.db as string | undefined);
    const agents = await loadAgentsDir(values.agents as string);
    const store = await openAnyStore(db, { schema: values.schema as string | undefined });
    if (!isWorkQueue(store) && !(store instanceof SqliteStore)) {
      await closeStore(store);
      throw new RunnerError(`${store.location} cannot be shared by workers`);
    }
    const json = Boolean(values.json);
    const summary = await serve(store, agents, json, {
      concurrency,
      leaseTtlMs,
      stepsPerClaim,
      maxIdleMs,
      maxInProcessSleepMs,
      drain: Boolean(values.drain),
    });
    if (json) console.log(JSON.stringify({ pid: Deno.pid, ...summary }));
    else {
      const parts = Object.entries(summary.outcomes).map(([k, n]) => `${n} ${k}`).join(", ");
      console.log(
        `worker ${Deno.pid} stopped: ${summary.claimed} claim(s)${
          parts ? ` (${parts})` : ""
        }, ${summary.steps} step(s)`,
      );
    }
    return 0;
  });
}

/** Runs a worker on `store` until SIGINT/SIGTERM (or drained), a line per run unless `json`. */
async function serve(
  store: WorkerOptions["store"],
  agents: AnyAgent[],
  json: boolean,
  options: Pick<
    WorkerOptions,
    "concurrency" | "leaseTtlMs" | "stepsPerClaim" | "maxIdleMs" | "maxInProcessSleepMs" | "drain"
  >,
): Promise<WorkerSummary> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    if (!json) {
      console.error(
        `worker ${Deno.pid}: agents ${agents.map((a) => a.name).join(", ")}; concurrency ${
          options.concurrency ?? 4
        }; store ${store.location}`,
      );
    }
    return await runWorker({
      store,
      agents,
      ...options,
      abortSignal: stop.signal,
      onRun: (e) => {
        // A lost race (another process took the run first) is no news: the summary counts it.
        if (json || e.outcome === "contended") return;
        const extra = e.error ? `: ${e.error}` : "";
        console.log(`run ${e.runId} (${e.agentName}): ${e.outcome}, ${e.steps} step(s)${extra}`);
      },
    });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await closeStore(store);
  }
}

if (import.meta.main) {
  const [command, ...rest] = Deno.args;
  const code = command === "enqueue"
    ? await enqueueCommand(rest)
    : command === "worker"
    ? await workerCommand(rest)
    : (console.error("usage: cli/worker.ts enqueue|worker ..."), 2);
  Deno.exit(code);
}

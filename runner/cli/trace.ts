/**
 * The xray side of `loom-runner`, loaded only when used so the plain runner loads no xray code:
 *
 * ```
 * loom-runner run AGENT --run-id X --db runs.sqlite --trace trace.html   (this process's steps)
 * loom-runner trace --run-id X --db runs.sqlite -o trace.html            (the whole run, rebuilt)
 * loom-runner diff --run-id A --other-run-id B --db runs.sqlite [--other-db F] [--ignore P]
 *                  [--max-cost-increase X] [--max-token-increase X] [--html out.html]
 * loom-runner serve --db runs.sqlite [--agents DIR] [--port 8787] [--hostname 127.0.0.1] [--token T]
 * ```
 *
 * `serve` is Loom Studio (`../studio/`). Off loopback it needs a token (`--token` or
 * `LOOM_RUNNER_TOKEN`): every run's states and tool data are on those pages. With a token, a
 * request without it is answered 401.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  diffTraces,
  formatDiff,
  parseTolerance,
  Recorder,
  type TraceData,
  writeHtml,
  writeTrace,
} from "@loom/xray";
import { isLoopback, type TraceSource } from "@loom/xray/serve";
import { type CliHooks, joinNegativeValues, need, openReadable } from "./command.ts";
import { errorMessage, RunnerError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import { traceObserver, traceRun } from "../trace.ts";

/** Writes the trace to `path`: HTML for `.html`, else JSON. */
/** Writes a trace file; a path that cannot be written is an input error (exit 2). */
async function save(trace: TraceData, path: string, compare?: TraceData): Promise<void> {
  try {
    if (compare) await writeHtml(trace, path, { compare });
    else if (path.endsWith(".html")) await writeHtml(trace, path);
    else await writeTrace(trace, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied)) throw e;
    throw new RunnerError(`cannot write ${path}: ${errorMessage(e).split(":")[0]}`, { cause: e });
  }
}

/**
 * `--trace FILE` for `run`/`resume`/`retry`: records this process's steps, tool calls and
 * retries, and writes the file when the invocation ends, whatever its outcome.
 */
export function traceHooks(): CliHooks {
  let recorder: Recorder | undefined;
  return {
    observers(flags, { agent, modulePath }) {
      if (typeof flags.trace !== "string") return [];
      recorder = new Recorder({ name: `${agent.name} ${flags["run-id"] ?? ""}`.trim() });
      const path = resolve(modulePath);
      const exits = {
        step: agent.step as (...args: never[]) => unknown,
        file: pathToFileURL(path).href,
        source: Deno.readTextFileSync(path),
      };
      return [traceObserver(recorder, { exits })];
    },
    async afterRun(flags) {
      if (!recorder || typeof flags.trace !== "string") return;
      try {
        await save(recorder.toJSON(), flags.trace);
      } catch (e) {
        if (e instanceof RunnerError) throw e;
        throw new RunnerError(`cannot write trace ${flags.trace}: ${errorMessage(e)}`);
      }
      if (!flags.json && !flags.quiet) console.error(`trace written to ${flags.trace}`);
    },
  };
}

const OPTIONS = {
  db: { type: "string" },
  "run-id": { type: "string" },
  output: { type: "string", short: "o" },
  "other-run-id": { type: "string" },
  "other-db": { type: "string" },
  ignore: { type: "string", multiple: true },
  "max-cost-increase": { type: "string" },
  "max-token-increase": { type: "string" },
  html: { type: "string" },
  port: { type: "string" },
  hostname: { type: "string" },
  token: { type: "string" },
  agents: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const USAGE: Record<string, string> = {
  trace: "trace --run-id X --db FILE -o trace.html   rebuild a whole run's trace (.html or .json)",
  diff: "diff --run-id A --other-run-id B --db FILE [--other-db FILE] [--ignore PATH]... " +
    "[--max-cost-increase X] [--max-token-increase X] [--html out.html] [--json]",
  serve: "serve --db FILE|URL [--agents DIR] [--port 8787] [--hostname 127.0.0.1] [--token T]   " +
    "Loom Studio: watch, steer and debug the runs of a database in a browser (off loopback a " +
    "token is required: --token or LOOM_RUNNER_TOKEN; requests then carry Authorization: " +
    "Bearer T, or ?token=T once in a browser); --agents DIR embeds a worker for those agents",
};

/** Runs `trace`, `diff` or `serve`; returns the exit code. */
export async function traceCommand(
  name: "trace" | "diff" | "serve",
  args: string[],
): Promise<number> {
  let values: Flags;
  try {
    values = parse(args).values;
  } catch (e) {
    console.error(`error: ${errorMessage(e).split("\n")[0]} (see loom-runner ${name} --help)`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: loom-runner ${USAGE[name]}`);
    return 0;
  }
  const stores: Store[] = [];
  const open = async (db: string | undefined) => {
    const location = db ?? Deno.env.get("LOOM_DB_URL");
    if (!location) throw new RunnerError("--db is required");
    const store = await openReadable(location);
    stores.push(store);
    return store;
  };
  try {
    const command = name === "trace" ? writeRunTrace : name === "diff" ? diffRuns : serveRuns;
    return await command(values, open);
  } catch (e) {
    console.error(`error: ${errorMessage(e)}`);
    return e instanceof RunnerError ? e.exitCode : 1;
  } finally {
    for (const s of stores) await s.close();
  }
}

type Flags = ReturnType<typeof parse>["values"];
/** Opens a store for reading (closed when the command ends). */
type Open = (db: string | undefined) => Promise<Store>;

/** `trace`: the whole run's trace, rebuilt from the store, to a file. */
async function writeRunTrace(values: Flags, open: Open): Promise<number> {
  const runId = need(values, "run-id");
  const output = need(values, "output");
  const trace = await traceRun(await open(values.db), runId);
  await save(trace, output);
  if (values.json) console.log(JSON.stringify({ runId, output, spans: trace.spans.length }));
  else console.log(`trace of run ${runId} (${trace.spans.length} spans) written to ${output}`);
  return 0;
}

/** `diff`: two runs compared step by step; 1 when they differ beyond the tolerances. */
async function diffRuns(values: Flags, open: Open): Promise<number> {
  const [runA, runB] = [need(values, "run-id"), need(values, "other-run-id")];
  const store = await open(values.db);
  const a = await traceRun(store, runA);
  const otherStore = values["other-db"] ? await open(values["other-db"]) : store;
  const b = await traceRun(otherStore, runB);
  const diff = diffTraces(a, b, {
    ignore: values.ignore ?? [],
    maxCostIncrease: tolerance(values["max-cost-increase"], "--max-cost-increase"),
    maxTokenIncrease: tolerance(values["max-token-increase"], "--max-token-increase"),
  });
  if (values.html) await save(a, values.html, b);
  console.log(values.json ? JSON.stringify(diff, null, 2) : formatDiff(diff, [runA, runB]));
  return diff.ok ? 0 : 1;
}

/**
 * `serve`: Loom Studio over the database until the process is stopped (SIGINT/SIGTERM end the
 * events streams and the embedded worker first). With `--agents DIR` an embedded worker advances
 * the runs of those agents.
 */
async function serveRuns(values: Flags, open: Open): Promise<number> {
  const hostname = values.hostname ?? "127.0.0.1";
  const token = values.token ?? (Deno.env.get("LOOM_RUNNER_TOKEN") || undefined);
  if (!isLoopback(hostname) && !token) {
    throw new RunnerError(
      `serving on ${hostname} would show every run's states and tool data beyond this machine; ` +
        "set --token (or LOOM_RUNNER_TOKEN)",
    );
  }
  const port = values.port === undefined ? 8787 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RunnerError(`--port must be a port number, got ${JSON.stringify(values.port)}`);
  }
  const { loadAgentsDir } = await import("./worker.ts");
  const agents = values.agents ? await loadAgentsDir(values.agents) : undefined;
  const store = await open(values.db);
  const { serveStudio } = await import("../studio/serve.ts");
  const server = await serveStudio({ store, port, hostname, token, agents });
  const stop = () => void server.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const access = token ? "; requests need the token" : "";
  const worker = agents ? `; worker for ${agents.map((a) => a.name).join(", ")}` : "";
  console.log(
    `Loom Studio for ${store.location} at ${server.url}${access}${worker} (Ctrl-C stops)`,
  );
  try {
    await server.finished;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
  return 0;
}

function parse(args: string[]) {
  return parseArgs({
    args: joinNegativeValues(args, OPTIONS),
    options: OPTIONS,
    allowPositionals: false,
    strict: true,
  });
}

function tolerance(
  value: string | undefined,
  flag: string,
): ReturnType<typeof parseTolerance> | undefined {
  if (value === undefined) return undefined;
  try {
    return parseTolerance(value);
  } catch (e) {
    throw new RunnerError(`${flag}: ${errorMessage(e)}`);
  }
}

/** The runs of a runner store as a trace source: top-level runs listed, each trace rebuilt live. */
export function runnerSource(store: Store): TraceSource {
  return {
    async listRuns() {
      const runs = await store.listRuns({ limit: 500 });
      return runs.filter((r) => r.parentRunId === null).map((r) => ({
        id: r.runId,
        name: r.agentName,
        status: r.status,
        startedAt: r.createdAt,
        updatedAt: r.updatedAt,
      }));
    },
    async traceFor(runId) {
      return (await store.getRun(runId)) ? await traceRun(store, runId) : undefined;
    },
  };
}

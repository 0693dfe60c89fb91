/**
 * Scenarios: run an agent (in-process, or an app through its CLI) durably on a temporary SQLite
 * file with a recorded LLM and injected faults, then hand back the stored run, its history and
 * its normalised trace for assertions and golden comparison.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import type { TraceData } from "@loom/xray";
import { type Agent, isAgent } from "../engine/agent.ts";
import { sendSignal } from "../inspect/admin.ts";
import { CRASH_AFTER_STEP_ENV } from "../engine/_fault_hook.ts";
import { resumeRun, type RunResult, startRun } from "../engine/engine.ts";
import type {
  CallRecord,
  EventRecord,
  FailedAttemptRecord,
  RunRecord,
  SignalRecord,
  StepRecord,
  Store,
} from "../store/store.ts";
import { openStore } from "../store/sqlite.ts";
import { traceRun } from "../trace.ts";
import { type Cassette, type CassetteServer, startCassette } from "./cassette.ts";
import { CRASH_POINT, type CrashDriverConfig } from "./crash_driver.ts";
import { type Faults, withFaults } from "./faults.ts";
import { normalizeTrace } from "./golden.ts";
import { callerOrigin, resolveNear } from "./origin.ts";

/** What a scenario's input and commands can refer to. */
export interface ScenarioEnv {
  /** The scenario's temporary directory (removed afterwards). */
  dir: string;
  /** The SQLite file of the run, inside `dir`. */
  db: string;
  /** The scenario's run. */
  runId: string;
  /** The LLM endpoint: `baseUrl` of the cassette, or `mock: true`. */
  llm: { mock: boolean; baseUrl?: string };
  /** Environment given to app commands (LLM base URL, mock flag). */
  env: Record<string, string>;
}

/** One invocation of an app's CLI. */
export interface CommandRun {
  /** Arguments after the entry point. */
  args: string[];
  /** Expected exit code. @default 0 */
  code?: number;
}

/** An app driven through its command line: `deno run -A <main> ...args`, one run after another. */
export interface AppCommand {
  /** The app's entry point. */
  main: string | URL;
  /** The invocations, in order (e.g. start, approve, resume). */
  runs: (env: ScenarioEnv) => Array<string[] | CommandRun>;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. @default the current one */
  cwd?: string;
}

/** A signal the scenario delivers when the run waits for it. */
export interface SignalDelivery {
  /** The name the run's signal wait waits for. */
  name: string;
  /** The payload (JSON). @default null */
  data?: unknown;
  /**
   * Delay after the run first waits for it. A wait whose timeout comes first times out (the
   * run is resumed at its deadline, as a worker would): that is a late signal.
   */
  delayMs?: number;
}

/** How to build a scenario's trace from the store. */
export type TraceBuilder = (store: Store, runId: string) => Promise<TraceData | undefined>;

/** A scenario: what to run, with what LLM, what goes wrong. */
export interface ScenarioOptions {
  /** The agent, or the module that default-exports it (needed for `crashAfterStep`). */
  // deno-lint-ignore no-explicit-any
  agent?: Agent<any, any, any> | string | URL;
  /** Export of `agent`'s module holding the agent. @default "default" */
  exportName?: string;
  /** Instead of an agent: an app driven through its CLI as subprocesses. */
  command?: AppCommand;
  /** Prepares the temp dir before anything runs (copy a fixture workspace, write files). */
  setup?: (env: ScenarioEnv) => void | Promise<void>;
  /** Run input, or a function of the scenario's environment (LLM base URL, temp dir). */
  input?: string | number | boolean | null | object | ((env: ScenarioEnv) => unknown);
  /** Run id. @default "scenario" */
  runId?: string;
  /** The LLM: a cassette (record/replay) or `"mock"` (the app's own offline mock). */
  llm?: Cassette | "mock";
  /** Faults to inject. */
  faults?: Faults;
  /** Signals delivered when the run waits for them (in-process agents). */
  signals?: SignalDelivery[];
  /** Builds the trace. @default `traceRun` from `@loom/runner` */
  trace?: TraceBuilder;
  /**
   * Absolute paths to replace in the trace, with their placeholders (e.g. an app's folder:
   * `{ [appDir]: "<app>" }`), so golden files do not depend on where the repository is checked
   * out. The temp dir (`<dir>`) and the working directory (`<cwd>`) are always replaced.
   */
  paths?: Record<string, string>;
  /** Resumes of a waiting run before giving up. @default 20 */
  maxRounds?: number;
  /** `Deno.test` options for `scenario` (`ignore`, `only`, sanitizers, permissions). */
  test?: Omit<Deno.TestDefinition, "name" | "fn">;
}

/** Everything the store holds about the run. */
export interface ScenarioHistory {
  /** Committed steps, with their checkpoints. */
  steps: StepRecord[];
  /** Failed attempts of steps and tool calls. */
  failedAttempts: FailedAttemptRecord[];
  /** @deprecated Use `failedAttempts` (the same array). */
  attempts: FailedAttemptRecord[];
  /** Calls: tool calls, signal waits, timers, child runs. */
  calls: CallRecord[];
  /** The run's events (its history), in order. */
  events: EventRecord[];
  /** Signals sent to the run. */
  signals: SignalRecord[];
}

/** What a scenario run hands back. */
export interface ScenarioRun {
  /** The scenario's name, as given. */
  name: string;
  /** The scenario's run. */
  runId: string;
  /** The stored run record. */
  run: RunRecord;
  /** The run's status when the scenario ended. */
  status: RunRecord["status"];
  /** Final result (parsed), when completed. */
  result: unknown;
  /** Error message, when failed. */
  error: string | null;
  /** The last in-process invocation's result (agents only). */
  last?: RunResult;
  /** History from the store. */
  history: ScenarioHistory;
  /** The trace, normalised (times are the order of events; temp paths read `<dir>`). */
  trace: TraceData;
  /** Processes SIGKILLed by the `crashAfterStep` fault. */
  crashes: number;
  /** Scripted signals never delivered (the run ended before they were due, or never waited). */
  undelivered: string[];
  /** Output of each CLI invocation (app commands). */
  outputs: { args: string[]; code: number; stdout: string; stderr: string }[];
  /** LLM requests served by the cassette. */
  llmRequests: number;
  /** File URL of the module that declared the scenario. */
  origin?: string;
}

/** Thrown when a cassette saw requests it has no recording for (prompt drift). */
export class CassetteMismatchError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CassetteMismatchError";
  }
}

/** Thrown when the scenario could not be run as described. */
export class ScenarioError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ScenarioError";
  }
}

function asUrl(spec: string | URL, origin: string | undefined): string {
  if (spec instanceof URL) return spec.href;
  if (/^(file|https?):/.test(spec)) return spec;
  return new URL(`file://${resolveNear(spec, origin)}`).href;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves the agent object and, when possible, its module and export. */
async function loadAgent(
  options: ScenarioOptions,
  origin: string | undefined,
  // deno-lint-ignore no-explicit-any
): Promise<{ agent: Agent<any, any, any>; module?: string; exportName?: string }> {
  const spec = options.agent;
  if (spec === undefined) throw new ScenarioError("a scenario needs an agent or a command");
  if (isAgent(spec)) {
    const module = spec.moduleUrl;
    if (options.faults?.crashAfterStep === undefined || !module) return { agent: spec };
    // The subprocess needs a module and export: find the export that is this very agent. The
    // module is the user's, by absolute URL, known only at run time: deno publish warns
    // "unanalyzable dynamic import", and nothing needs rewriting (no import map of ours).
    const mod = await import(module);
    const name = options.exportName ??
      Object.keys(mod).find((k) => mod[k] === spec);
    return { agent: spec, module, exportName: name };
  }
  const module = asUrl(spec, origin);
  const exportName = options.exportName ?? "default";
  // The user's agent module by absolute URL (unanalyzable at publish time, on purpose; see above).
  const agent = (await import(module))[exportName];
  if (!isAgent(agent)) {
    throw new ScenarioError(`${module} has no agent export "${exportName}" (made by defineAgent)`);
  }
  return { agent, module, exportName };
}

/** Runs the agent in the crash driver and SIGKILLs it right after step `n` committed. */
async function crashRun(config: CrashDriverConfig): Promise<void> {
  // A URL, not a path: the driver must also start when this package is loaded from JSR.
  const driver = new URL("./crash_driver.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", driver, JSON.stringify(config)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  let reached = false;
  while (!reached) {
    const { value, done } = await reader.read();
    if (done) break;
    out += decoder.decode(value, { stream: true });
    reached = out.includes(CRASH_POINT);
  }
  if (reached) child.kill("SIGKILL");
  await reader.cancel().catch(() => {});
  const status = await child.status;
  const err = await stderr;
  if (!reached) {
    const ended = /LOOM_RUN_ENDED (\S+) (\d+)/.exec(out);
    throw new ScenarioError(
      ended
        ? `crashAfterStep ${config.crashAfterStep}: the run ended (${ended[1]}, ${
          ended[2]
        } steps) before that step was committed`
        : `the crash driver exited (code ${status.code}) before step ${config.crashAfterStep}: ${err.trim()}`,
    );
  }
  if (status.signal !== "SIGKILL") {
    throw new ScenarioError(
      `the crash driver was not killed by SIGKILL (${JSON.stringify(status)})`,
    );
  }
}

/** Environment of CLI subprocesses: nothing from the developer's shell but the basics. */
function commandEnv(llm: ScenarioEnv["llm"], recording: boolean): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "USER"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  if (llm.mock) env.LOOM_LLM_MOCK = "1";
  if (llm.baseUrl) {
    env.LOOM_LLM_BASE_URL = llm.baseUrl;
    // Only a recording talks to a real endpoint; a replay never needs (or sees) the key.
    const key = recording
      ? Deno.env.get("LOOM_LLM_API_KEY") ?? Deno.env.get("OPENAI_API_KEY")
      : undefined;
    env.LOOM_LLM_API_KEY = key ?? "cassette-replay";
  }
  return env;
}

/**
 * Runs the app's CLI invocations. With `crashAfterStep`, the first one gets the runner's
 * test-only fault hook (`LOOM_TEST_CRASH_AFTER_STEP=<runId>:<step>`, see `engine/_fault_hook.ts`): the
 * engine SIGKILLs its own process right after that step's commit, so the kill point is exact on
 * any machine, and the store must then hold exactly steps 0..N.
 */
async function runCommands(
  command: AppCommand,
  env: ScenarioEnv,
  faults: Faults | undefined,
): Promise<{ outputs: ScenarioRun["outputs"]; crashes: number }> {
  const main = command.main instanceof URL ? fileURLToPath(command.main) : command.main;
  const outputs: ScenarioRun["outputs"] = [];
  let crashes = 0;
  const decoder = new TextDecoder();
  for (const [i, r] of command.runs(env).entries()) {
    const { args, code: expected = 0 } = Array.isArray(r) ? { args: r } : r;
    const crashAt = i === 0 ? faults?.crashAfterStep : undefined;
    const fault: Record<string, string> = crashAt === undefined
      ? {}
      : { [CRASH_AFTER_STEP_ENV]: `${env.runId}:${crashAt}` };
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, ...args],
      cwd: command.cwd,
      env: { ...env.env, ...command.env, ...fault },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const record = {
      args,
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
    outputs.push(record);
    if (crashAt !== undefined) {
      if (out.signal !== "SIGKILL") {
        throw new ScenarioError(
          `crashAfterStep ${crashAt}: the command ended (exit ${out.code}) before that step was committed: ${
            record.stderr.trim() || record.stdout.trim()
          }`,
        );
      }
      const step = await committedStep(env.db, env.runId);
      if (step !== crashAt) {
        throw new ScenarioError(
          `after the crash the last committed step is ${step}, expected ${crashAt}`,
        );
      }
      crashes++;
      continue;
    }
    if (out.code !== expected) {
      throw new ScenarioError(
        `\`${args.join(" ")}\` exited with ${out.code} (expected ${expected}): ${
          record.stderr.trim() || record.stdout.trim()
        }`,
      );
    }
  }
  return { outputs, crashes };
}

async function committedStep(db: string, runId: string): Promise<number | undefined> {
  try {
    await Deno.stat(db);
  } catch {
    return undefined;
  }
  try {
    const store = openStore(db, { create: false });
    try {
      return (await store.lastStep(runId))?.step;
    } finally {
      store.close();
    }
  } catch {
    return undefined; // not initialised yet
  }
}

/** Runs an in-process agent: crash subprocess first if asked, then start/resume until it ends. */
async function runAgent(
  options: ScenarioOptions,
  env: ScenarioEnv,
  input: unknown,
  origin: string | undefined,
): Promise<{ last: RunResult; crashes: number; undelivered: string[] }> {
  const loaded = await loadAgent(options, origin);
  const agent = withFaults(loaded.agent, options.faults);
  const crashAt = options.faults?.crashAfterStep;
  if (crashAt !== undefined) {
    if (!loaded.module || !loaded.exportName) {
      throw new ScenarioError(
        "crashAfterStep runs the agent in a subprocess: give `agent` as a module URL, or export the agent from its module",
      );
    }
    await crashRun({
      module: loaded.module,
      exportName: loaded.exportName,
      db: env.db,
      runId: env.runId,
      input,
      faults: options.faults ?? {},
      crashAfterStep: crashAt,
    });
  }
  const store = openStore(env.db);
  const runOptions = { store, runId: env.runId, logger: { info() {}, warn() {}, error() {} } };
  try {
    let last: RunResult;
    if (crashAt !== undefined) {
      const step = (await store.lastStep(env.runId))?.step;
      if (step !== crashAt) {
        throw new ScenarioError(
          `after the crash the last committed step is ${step}, expected ${crashAt}`,
        );
      }
      last = await resumeRun(agent, runOptions);
    } else {
      last = await startRun(agent, { ...runOptions, input });
    }
    // Each scripted signal is due `delayMs` after the run first waits for it. A wait with a
    // deadline that comes first times out, as it would under a worker: the signal is late.
    const pending = (options.signals ?? []).map((s) => ({ ...s, dueAt: Infinity }));
    for (let round = 0; round < (options.maxRounds ?? 20) && last.status === "waiting"; round++) {
      const w = last.waiting;
      if (w?.kind === "signal") {
        const s = pending.find((p) => p.name === w.name);
        if (s && s.dueAt === Infinity) s.dueAt = Date.now() + (s.delayMs ?? 0);
        const deadline = w.deadline ?? Infinity;
        if (!s && deadline === Infinity) break; // waits for a signal the scenario never sends
        if (s && s.dueAt <= deadline) {
          await sleep(Math.max(0, s.dueAt - Date.now()));
          pending.splice(pending.indexOf(s), 1);
          await sendSignal(store, env.runId, s.name, s.data ?? null);
        } else await sleep(Math.max(0, deadline - Date.now()));
      } else if (w?.kind === "timer") {
        const ms = w.wakeAt - Date.now();
        if (ms > 30_000) break;
        await sleep(Math.max(0, ms));
      } else break;
      last = await resumeRun(agent, runOptions);
    }
    return {
      last,
      crashes: crashAt === undefined ? 0 : 1,
      undelivered: pending.map((p) => p.name),
    };
  } finally {
    store.close();
  }
}

/**
 * The order in which the run's durable calls were last written (SQLite row ids: a call's row
 * is rewritten when it completes), to order calls that started in the same millisecond.
 */
function callOrder(db: string, runId: string): Map<string, number> {
  const sqlite = new DatabaseSync(db, { readOnly: true });
  try {
    const rows = sqlite.prepare("SELECT key, rowid AS n FROM calls WHERE run_id = ?").all(
      runId,
    ) as { key: string; n: number }[];
    return new Map(rows.map((r) => [r.key, Number(r.n)]));
  } finally {
    sqlite.close();
  }
}

async function readHistory(store: Store, runId: string): Promise<ScenarioHistory> {
  const all = { limit: 1_000_000 };
  const [steps, failedAttempts, calls, events, signals] = await Promise.all([
    store.listSteps(runId, all),
    store.listFailedAttempts(runId, all),
    store.listCalls(runId, all),
    store.listEvents(runId, all),
    store.listSignals(runId, all),
  ]);
  return { steps, failedAttempts, attempts: failedAttempts, calls, events, signals };
}

/**
 * Runs a scenario and returns what happened. The temporary directory is removed before this
 * returns (set `LOOM_KEEP_SCENARIO=1` to keep it and print its path).
 *
 * @param name Scenario name (used in messages and the golden trace).
 * @param options What to run.
 * @param origin File URL the scenario's relative paths resolve against (default: the caller).
 * @returns The run, its history and its normalised trace.
 * @throws {CassetteMismatchError} When the agent asked the LLM something not in the cassette.
 * @throws {ScenarioError} When the scenario could not be run as described.
 */
export async function runScenario(
  name: string,
  options: ScenarioOptions,
  origin: string | undefined = callerOrigin(),
): Promise<ScenarioRun> {
  if ((options.agent === undefined) === (options.command === undefined)) {
    throw new ScenarioError(`scenario "${name}" needs exactly one of agent and command`);
  }
  const dir = await Deno.makeTempDir({ prefix: "loom-scenario-" });
  const runId = options.runId ?? "scenario";
  let llmServer: CassetteServer | undefined;
  let keep = false;
  try {
    const llm = options.llm;
    if (llm && llm !== "mock") {
      llmServer = await startCassette(
        resolveNear(llm.path, llm.origin ?? origin),
        llm.options,
        dir,
      );
    }
    const env = scenarioEnv(options, dir, runId, llmServer);
    await options.setup?.(env);
    const input = typeof options.input === "function"
      ? (options.input as (env: ScenarioEnv) => unknown)(env)
      : options.input;
    const outcome = await execute(options, env, input, origin);
    // Prompt drift explains most other failures, so it is reported first.
    const server = llmServer;
    llmServer = undefined;
    const drift = await server?.close();
    if (drift) throw new CassetteMismatchError(`scenario "${name}": ${drift}`);
    if (outcome.failure) throw outcome.failure;
    return await collectRun(name, options, env, outcome, {
      llmRequests: server?.requests ?? 0,
      origin,
    });
  } catch (e) {
    keep = Deno.env.get("LOOM_KEEP_SCENARIO") === "1";
    throw e;
  } finally {
    await llmServer?.close().catch(() => undefined);
    if (keep || Deno.env.get("LOOM_KEEP_SCENARIO") === "1") {
      console.error(`scenario "${name}": kept ${dir}`);
    } else await Deno.remove(dir, { recursive: true });
  }
}

/** Where a scenario runs: its directory, database, run id, LLM, and the env of app commands. */
function scenarioEnv(
  options: ScenarioOptions,
  dir: string,
  runId: string,
  llmServer: CassetteServer | undefined,
): ScenarioEnv {
  const llmInfo = options.llm === "mock"
    ? { mock: true }
    : { mock: false, ...(llmServer ? { baseUrl: llmServer.baseUrl } : {}) };
  return {
    dir,
    db: `${dir}/runs.sqlite`,
    runId,
    llm: llmInfo,
    env: commandEnv(llmInfo, llmServer?.recording ?? false),
  };
}

/** What running the agent or the app's commands gave (or the error it ended with). */
interface Outcome {
  last?: RunResult;
  undelivered: string[];
  crashes: number;
  outputs: ScenarioRun["outputs"];
  failure?: unknown;
}

/** Runs the app's commands or the agent; an error is kept in `failure`, not thrown. */
async function execute(
  options: ScenarioOptions,
  env: ScenarioEnv,
  input: unknown,
  origin: string | undefined,
): Promise<Outcome> {
  const out: Outcome = { undelivered: [], crashes: 0, outputs: [] };
  try {
    if (options.command) {
      ({ outputs: out.outputs, crashes: out.crashes } = await runCommands(
        options.command,
        env,
        options.faults,
      ));
    } else {
      ({ last: out.last, crashes: out.crashes, undelivered: out.undelivered } = await runAgent(
        options,
        env,
        input,
        origin,
      ));
    }
  } catch (e) {
    out.failure = e;
  }
  return out;
}

/** The scenario's run as stored: record, history and normalised trace. */
async function collectRun(
  name: string,
  options: ScenarioOptions,
  env: ScenarioEnv,
  outcome: Outcome,
  extra: { llmRequests: number; origin: string | undefined },
): Promise<ScenarioRun> {
  const { dir, db, runId } = env;
  const store = openStore(db, { create: false });
  try {
    const run = await store.getRun(runId);
    if (!run) throw new ScenarioError(`scenario "${name}": no run ${runId} was created`);
    const raw = await (options.trace ?? traceRun)(store, runId);
    if (!raw) throw new ScenarioError(`scenario "${name}": no trace for run ${runId}`);
    const real = await Deno.realPath(dir);
    return {
      name,
      runId,
      run,
      status: run.status,
      result: run.result === null ? undefined : JSON.parse(run.result),
      error: run.error,
      last: outcome.last,
      history: await readHistory(store, runId),
      trace: normalizeTrace(raw, {
        name,
        dirs: [dir, real],
        paths: options.paths,
        callOrder: callOrder(db, runId),
      }),
      crashes: outcome.crashes,
      undelivered: outcome.undelivered,
      outputs: outcome.outputs,
      llmRequests: extra.llmRequests,
      origin: extra.origin,
    };
  } finally {
    store.close();
  }
}

/**
 * Registers a `Deno.test` that runs the scenario and hands the result to `check`.
 *
 * @param name Test and scenario name.
 * @param options What to run: agent or app command, input, LLM, faults, signals.
 * @param check Assertions on the run (status, result, history, `assertMatchesGolden`).
 *
 * @example
 * ```ts ignore
 * import { assertMatchesGolden, scenario } from "@loom/runner/testing";
 * scenario("counter counts to 3", { agent: counter, input: { target: 3 } }, async (run) => {
 *   if (run.status !== "completed") throw new Error(run.status);
 *   await assertMatchesGolden(run, "golden/counter.json");
 * });
 * ```
 */
export function scenario(
  name: string,
  options: ScenarioOptions,
  check?: (run: ScenarioRun) => void | Promise<void>,
): void {
  const origin = callerOrigin();
  Deno.test({
    ...options.test,
    name,
    fn: async () => {
      const run = await runScenario(name, options, origin);
      await check?.(run);
    },
  });
}

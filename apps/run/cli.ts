/**
 * The `loom-run` commands: chat, supervise, resume, explain, serve.
 *
 * @module
 */
import {
  combineObservers,
  resumeRun,
  retryRun,
  type RunObserver,
  type RunResult,
  startRun,
  type Store,
} from "@loom/runner";
import {
  agentFor,
  type Agents,
  checkSettings,
  checkStoredRun,
  foreignRunMessage,
  isLoomRunAgent,
  makeAgents,
  resumeCommand,
} from "./agent/agents.ts";
import type { ChatResult } from "./agent/chat.ts";
import type { SupervisorResult } from "./agent/supervisor.ts";
import { type Config, parseConfig, readEnv, usage } from "./config.ts";
import { messageOf, UsageError } from "./errors.ts";
import { explainCommand } from "./explain.ts";
import { formatUsage, Progress, type ProgressOutput, TERMINAL } from "./progress.ts";
import { serveCommand } from "./serve.ts";
import { Recorder } from "@loom/xray";
import { chatTracer } from "./trace.ts";
import { openRunStore } from "./runs.ts";
import { ToolError } from "./tools/types.ts";

function newRunId(command: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${command}-${stamp}-${crypto.randomUUID().slice(0, 4)}`;
}

/** Refuses, before anything is printed or run, what cannot start: a taken id, a failed run to resume. */
async function checkRun(config: Config, store: Store, runId: string): Promise<void> {
  const run = await store.getRun(runId);
  if (config.command === "chat" || config.command === "supervise") {
    if (run) {
      const owner = isLoomRunAgent(run.agentName) ? "" : ` (agent '${run.agentName}')`;
      throw new UsageError(
        `run ${runId} already exists in ${config.db}${owner}; continue it with: ${
          resumeCommand(run, config.db)
        }, or pick another --run-id`,
      );
    }
    return;
  }
  if (!run) throw new UsageError(`there is no run '${runId}' in ${store.location}`);
  // Another app's run (loom-ops, a runner agent) is continued by that app, not here.
  if (!isLoomRunAgent(run.agentName)) throw new UsageError(foreignRunMessage(run, config.db));
  if (config.command === "resume" && run.status === "failed") {
    throw new UsageError(
      `run ${runId} failed (${run.error}); continue it from its last checkpoint with: loom-run retry --run-id ${runId} --db ${config.db}`,
    );
  }
  if (config.command === "retry" && run.status !== "failed") {
    throw new UsageError(
      `run ${runId} is ${run.status}; only a failed run can be retried (loom-run resume continues an interrupted one)`,
    );
  }
  if (run.status !== "completed") await checkStoredRun(store, config, runId);
}

/** Runs chat, supervise, resume or retry and reports the outcome. Returns the exit code. */
async function runCommand(config: Config, io: ProgressOutput): Promise<number> {
  if (config.command === "chat" || config.command === "supervise") await checkSettings(config);
  const runId = config.runId ?? newRunId(config.command);
  const store = await openCheckedStore(config, runId);
  const agents = makeAgents(config);
  const progress = config.json ? undefined : new Progress(runId, io);
  const tracer = config.trace
    ? chatTracer(
      new Recorder({ name: runId, meta: { runId, command: config.command, db: config.db } }),
    )
    : undefined;
  if (progress) agents.runtimes.events.subscribe(progress.onEvent);
  if (tracer) agents.runtimes.events.subscribe(tracer.onEvent);
  const abort = new AbortController();
  const onInterrupt = () => abort.abort(new Error("interrupted by the user"));
  Deno.addSignalListener("SIGINT", onInterrupt);
  const options: RunOptions = {
    store,
    runId,
    observer: combineObservers(progress?.observer, tracer?.observer),
    abortSignal: abort.signal,
  };
  let result: RunResult<ChatResult | SupervisorResult>;
  try {
    result = await executeRun({ config, io, agents, progress, options });
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await agents.runtimes.close();
    if (tracer && config.trace) {
      await tracer.recorder.flushTo(config.trace);
      if (progress) io.err(`trace written to ${config.trace}`);
    }
    store.close();
  }
  return report(config, result, progress, io);
}

/** Opens the run store and checks the run can start; the store is closed if it cannot. */
async function openCheckedStore(config: Config, runId: string): Promise<Store> {
  const store = openRunStore(config.db);
  try {
    await checkRun(config, store, runId);
  } catch (error) {
    store.close();
    throw error;
  }
  return store;
}

/** The runner options of a command's run: store, id, observers, the Ctrl-C signal. */
interface RunOptions {
  store: Store;
  runId: string;
  observer: RunObserver;
  abortSignal: AbortSignal;
}

/** What running a command needs. */
interface Launch {
  config: Config;
  io: ProgressOutput;
  agents: Agents;
  progress: Progress | undefined;
  options: RunOptions;
}

/** Starts a chat or supervisor run, or continues a stored one. */
async function executeRun(
  { config, io, agents, progress, options }: Launch,
): Promise<RunResult<ChatResult | SupervisorResult>> {
  const { runId } = options;
  if (config.command === "chat") {
    if (progress) {
      io.err(
        `run ${runId} · ${
          config.settings.llm.provider === "mock" ? "mock LLM" : config.settings.llm.model
        } · workspace ${config.settings.workspace}`,
      );
    }
    return await startRun(agents.chat, {
      ...options,
      input: { question: config.prompt!, settings: config.settings },
    });
  }
  if (config.command === "supervise") {
    if (progress) io.err(`run ${runId} · supervisor · workspace ${config.settings.workspace}`);
    return await startRun(agents.supervisor, {
      ...options,
      input: { goal: config.prompt!, settings: config.settings },
    });
  }
  return await continueRun({ config, io, agents, progress, options });
}

/** Resumes (or retries) a stored run; a completed one is shown from the store. */
async function continueRun(
  { config, io, agents, progress, options }: Launch,
): Promise<RunResult<ChatResult | SupervisorResult>> {
  const { store, runId } = options;
  const agent = await agentFor(store, agents, runId);
  // A failed run becomes resumable again from its last checkpoint, then resumes as usual.
  if (config.command === "retry") await retryRun(store, runId);
  const run = (await store.getRun(runId))!;
  if (run.status === "completed" && run.result) {
    // Nothing left to do: show the stored outcome (resume is idempotent).
    if (progress) io.err(`run ${runId} had already completed; showing its stored answer`);
    const last = await store.lastStep(runId);
    return {
      runId,
      status: "completed",
      result: JSON.parse(run.result),
      steps: last ? last.step + 1 : 0,
      stepsThisRun: 0,
      state: undefined,
    };
  }
  return await resumeRun(agent as typeof agents.chat, options) as RunResult<
    ChatResult | SupervisorResult
  >;
}

/** The summary line's word for each way a run can stop. */
const OUTCOMES: Record<string, string> = {
  answer: "completed",
  "max-steps": "stopped without a final answer",
  refusal: "ended with a refusal",
  length: "ended with a cut-off answer",
};

/**
 * The chat agent's stop reason in loom-run's words: its `maxTurns` budget is loom-run's
 * `--max-steps`, so `max-turns` is reported as `max-steps` (as it always was).
 */
export function cliStopReason(stoppedBy: string | undefined): string {
  return stoppedBy === "max-turns" ? "max-steps" : stoppedBy ?? "answer";
}

/** One line, at most 300 characters. */
function brief(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/** `1 step`, `2 steps`. */
function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Prints the outcome of a run; returns the exit code. */
function report(
  config: Config,
  result: RunResult<ChatResult | SupervisorResult>,
  progress: Progress | undefined,
  io: ProgressOutput,
): number {
  const value = result.result;
  const stoppedBy = cliStopReason(value?.stoppedBy);
  const code = result.status === "completed" && stoppedBy === "answer"
    ? 0
    : result.status === "waiting"
    ? 0
    : 1;
  if (config.json) {
    io.out(
      JSON.stringify({
        runId: result.runId,
        status: result.status,
        // A refusal is not an answer: `answer` is null and `refusal` holds what the model said.
        answer: stoppedBy === "refusal" ? null : value?.answer ?? null,
        stoppedBy: value ? stoppedBy : null,
        refusal: value?.refusal ?? null,
        steps: result.steps,
        toolCalls: value && "toolCalls" in value ? value.toolCalls : undefined,
        children: value && "children" in value
          ? value.children.map((c) => ({ ...c, stoppedBy: cliStopReason(c.stoppedBy) }))
          : undefined,
        usage: value?.usage,
        error: result.error ?? null,
        trace: config.trace ?? null,
      }) + "\n",
    );
    return code;
  }
  if (result.status === "completed" && value) {
    // The answer streamed while it was generated; print it only if it came from the store.
    if (
      stoppedBy !== "refusal" && value.answer !== "" &&
      !progress?.streamed.includes(value.answer.trim())
    ) io.out(value.answer + "\n");
    const tools = "toolCalls" in value
      ? ` · ${plural(value.toolCalls, "tool call", "tool calls")}`
      : ` · ${plural(value.children.length, "child", "children")}`;
    const outcome = OUTCOMES[stoppedBy] ?? `stopped by its ${stoppedBy} budget`;
    io.err(
      `run ${result.runId} ${outcome} · ${plural(result.steps, "step", "steps")}${tools} · ${
        formatUsage(value.usage)
      }`,
    );
    if (stoppedBy === "max-steps") {
      io.err(
        `error: the run stopped at --max-steps ${config.settings.maxSteps} without a final answer`,
      );
    } else if (stoppedBy === "refusal") {
      io.err(`error: the model refused to answer: ${JSON.stringify(brief(value.refusal ?? ""))}`);
    } else if (stoppedBy === "length") {
      io.err(
        `error: the answer was cut off at the model's output token limit (finish_reason "length"); it is incomplete`,
      );
    }
  } else if (result.status === "failed") {
    io.err(`error: run ${result.runId} failed: ${result.error?.message ?? "unknown error"}`);
  } else {
    io.err(
      `run ${result.runId} is ${result.status}; continue it with: loom-run resume --run-id ${result.runId} --db ${config.db}`,
    );
  }
  return code;
}

/**
 * Runs `loom-run` with `args` (without the program name). Returns the exit code: 0 ok, 1 the run
 * failed, 2 usage or input error. Errors are printed as one sentence, never a stack trace.
 */
export async function main(args: string[], io: ProgressOutput = TERMINAL): Promise<number> {
  try {
    const config = parseConfig(args);
    switch (config.command) {
      case "help":
        io.out(usage() + "\n");
        return 0;
      case "explain":
        return await explainCommand(config, io);
      case "serve":
        return await serveCommand(config, io);
      default:
        return await runCommand(config, io);
    }
  } catch (error) {
    const code = error instanceof UsageError || error instanceof ToolError
      ? 2
      : typeof (error as { exitCode?: unknown })?.exitCode === "number"
      ? (error as { exitCode: number }).exitCode
      : 1;
    io.err(`error: ${messageOf(error)}`);
    if (readEnv("LOOM_RUN_DEBUG")) io.err(String((error as Error)?.stack ?? ""));
    return code;
  }
}

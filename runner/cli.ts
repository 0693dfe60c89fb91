/**
 * `loom-runner`: run, resume and inspect durable runs.
 *
 *     deno run -A runner/cli.ts run examples/counter_agent.ts --run-id demo --db runs.sqlite
 *
 * Inspection commands need only `--db` and `--run-id`, never load the agent module and never
 * create a missing database. Errors end in one sentence on stderr; exit codes: 0 ok, 1 the run
 * failed (or verify found problems), 2 usage or input error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ReadOnlyDatabaseError, RunnerError } from "./errors.ts";
import { ADMIN_COMMANDS } from "./cli/admin.ts";
import {
  applyRenamedFlags,
  type CliHooks,
  type Command,
  joinNegativeValues,
  optionsOf,
  Output,
  type Values,
} from "./cli/command.ts";
import { INSPECT_COMMANDS } from "./cli/inspect.ts";
import { RUN_COMMANDS } from "./cli/run.ts";

export type { CliHooks } from "./cli/command.ts";

const ALL: Record<string, Command> = { ...RUN_COMMANDS, ...INSPECT_COMMANDS, ...ADMIN_COMMANDS };
/** Every command, in the order `--help` lists them. */
const COMMANDS: Record<string, Command> = Object.fromEntries(
  "run resume retry explain list get history attempts calls signal cancel verify fork delete prune"
    .split(" ").map((name) => [name, ALL[name]]),
);
/** Old command names that still work, each use with a one-line notice on stderr. */
const RENAMED_COMMANDS: Record<string, string> = { "tool-calls": "calls" };

function usage(): string {
  const lines = ["usage: loom-runner <command> [options]   (add --json for machine output)", ""];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(11)} ${c.summary}`);
  lines.push(`  ${"trace".padEnd(11)} rebuild a whole run's HTML or JSON trace`);
  lines.push(`  ${"diff".padEnd(11)} compare two runs step by step (exit 1 when they differ)`);
  lines.push(`  ${"serve".padEnd(11)} Loom Studio: watch, steer and debug runs (127.0.0.1)`);
  lines.push(`  ${"enqueue".padEnd(11)} queue a run for workers (see worker)`);
  lines.push(`  ${"worker".padEnd(11)} run queued runs from a shared store`);
  lines.push("", "Run `loom-runner <command> --help` for a command's options.");
  return lines.join("\n");
}

/** Runs the CLI with `args`; returns the exit code (does not exit). */
export async function main(args: string[], hooks: CliHooks = {}): Promise<number> {
  const [given, ...rest] = args;
  const name = Object.hasOwn(RENAMED_COMMANDS, given ?? "") ? RENAMED_COMMANDS[given] : given;
  if (name !== given) console.error(`note: ${given} is now ${name}`);
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  // Scale-out commands live in cli/worker.ts (PostgreSQL work queue); loaded only when used.
  // Trace commands live in cli/trace.ts (they load @loom/xray); loaded only when used.
  if (name === "trace" || name === "diff" || name === "serve") {
    const { traceCommand } = await import("./cli/trace.ts");
    return await traceCommand(name, rest);
  }
  if (name === "enqueue" || name === "worker") {
    const { enqueueCommand, workerCommand } = await import("./cli/worker.ts");
    return name === "enqueue" ? await enqueueCommand(rest) : await workerCommand(rest);
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(
      `error: unknown command ${JSON.stringify(name)}; commands: ${
        [...Object.keys(COMMANDS), "trace", "diff", "serve", "enqueue", "worker"].join(", ")
      }`,
    );
    return 2;
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(rest, optionsOf(command)),
      options: optionsOf(command),
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0].replace(/\. To specify.*$/, "");
    console.error(`error: ${msg} (command ${name}; see loom-runner ${name} --help)`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: loom-runner ${command.usage} [--json]\n\n${command.summary}`);
    return 0;
  }
  const out = new Output(Boolean(values.json));
  try {
    applyRenamedFlags(values, command.renamedFlags);
    checkPositionals(name, command, positionals, values);
    if (command.module === "required" && positionals.length === 0) {
      throw new RunnerError(`${name} needs the agent module path: loom-runner ${command.usage}`);
    }
    return await command.run({ values, modulePath: positionals[0], out, hooks });
  } catch (e) {
    return reportError(e, values);
  }
}

/** An agent module path or URL, as the seed's commands put one before the flags. */
const MODULE_PATH = /^[a-z]+:\/\/|\.(ts|tsx|js|jsx|mjs|mts)$/i;

/**
 * The positional arguments a command takes: its module, and for the commands that need none
 * (inspection, signal, cancel…) a module path anyway, ignored (`loom-runner explain agent.ts
 * --run-id X`, the seed's form). Anything else is refused, with a hint when it looks like a run id.
 */
function checkPositionals(
  name: string,
  command: Command,
  positionals: string[],
  values: Values,
): void {
  const allowed = command.module ? 1 : MODULE_PATH.test(positionals[0] ?? "") ? 1 : 0;
  const extra = positionals[allowed];
  if (extra === undefined) return;
  const hint = values["run-id"] === undefined && "run-id" in optionsOf(command)
    ? ` (the run id goes in --run-id ${extra})`
    : "";
  throw new RunnerError(`unexpected argument ${JSON.stringify(extra)} for ${name}${hint}`);
}

function reportError(e: unknown, values: Values): number {
  if (e instanceof RunnerError) {
    console.error(`error: ${e.message}`);
    return e.exitCode;
  }
  const code = (e as { code?: string })?.code;
  if (code === "ERR_SQLITE_ERROR" && /attempt to write a readonly database/.test(String(e))) {
    console.error(`error: ${new ReadOnlyDatabaseError(String(values.db ?? "")).message}`);
    return 2;
  }
  if (code === "ERR_SQLITE_ERROR") {
    console.error(
      `error: database ${values.db} is unreadable or corrupt (SQLite: ${(e as Error).message})`,
    );
    return 2;
  }
  console.error(`error: ${(e as Error)?.message ?? String(e)}`);
  if (Deno.env.get("LOOM_DEBUG")) console.error((e as Error)?.stack);
  return 1;
}

if (import.meta.main) {
  // `--trace FILE` needs @loom/xray: load it only when the flag is there.
  const hooks = Deno.args.some((a) => a === "--trace" || a.startsWith("--trace="))
    ? (await import("./cli/trace.ts")).traceHooks()
    : {};
  Deno.exit(await main(Deno.args, hooks));
}

// Types this module's API refers to, re-exported (type-only) so its documentation is whole on
// its own (`deno doc --lint` on this entry point).
export type { TAIL_CALL, TailCall } from "@loom/tailcalls";
export type {
  Agent,
  AGENT_BRAND,
  AgentDefinition,
  CheckpointPolicy,
  ErrorCategory,
  PayloadPolicy,
  RetryPolicy,
  RunObserver,
  RunResult,
  RunStartInfo,
  RunStatus,
  SignalTimeout,
  StepContext,
  StepLogger,
  ToolCallContext,
  ToolCallEvent,
  ToolCallOptions,
  WaitInfo,
} from "./mod.ts";

/**
 * The loom-ops command line's flags and output channel, shared by every command (`cli.ts`, and
 * `serve.ts` and `telegram.ts`, which `cli.ts` loads for `serve` and `gateway`): parsing, and
 * reading each flag with its default and its one-sentence error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { OpsUsageError } from "./app.ts";
import { LLM_SETUP, llmPlannerFromEnv } from "./llm_planner.ts";
import { MockPlanner, type Planner } from "./planner.ts";

/** Where the CLI writes; tests and the server substitute their own. */
export interface CliIo {
  /** stdout. */
  out(text: string): void;
  /** stderr. */
  err(text: string): void;
}

/** The process's stdout and stderr. */
export const consoleIo: CliIo = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

const OPTIONS = {
  "run-id": { type: "string" },
  db: { type: "string" },
  workspace: { type: "string" },
  "mock-llm": { type: "boolean" },
  "allow-shell": { type: "boolean" },
  "no-os-sandbox": { type: "boolean" },
  "dry-run": { type: "boolean" },
  "audit-key": { type: "string" },
  parallel: { type: "string" },
  "state-dir": { type: "string" },
  input: { type: "string", multiple: true },
  step: { type: "string" },
  by: { type: "string" },
  comment: { type: "string" },
  json: { type: "boolean" },
  jsonl: { type: "boolean" },
  out: { type: "string" },
  verify: { type: "boolean" },
  trace: { type: "string" },
  port: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parsed flags. */
export type Flags = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[]
    : (typeof OPTIONS)[K] extends { type: "boolean" } ? boolean
    : string;
};

/** Parsed command line. */
export interface Parsed {
  /** Subcommand. */
  command: string;
  /** Positional arguments after the command. */
  args: string[];
  /** The flags given, each only when given. */
  flags: Flags;
}

/** Parses argv; throws {@link OpsUsageError} on unknown flags. */
export function parseCli(argv: string[]): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { command: positionals[0] ?? "", args: positionals.slice(1), flags: values as Flags };
  } catch (e) {
    throw new OpsUsageError((e as Error).message.split("\n")[0].replace(/\. To specify.*$/, ""));
  }
}

/** A required flag's value; throws {@link OpsUsageError} naming `--flag` when it is missing. */
export function need(value: string | undefined, flag: string): string {
  if (!value) throw new OpsUsageError(`--${flag} is required`);
  return value;
}

/** The database path from flags and environment. */
export function dbPathOf(flags: Flags): string {
  return flags.db ?? Deno.env.get("LOOM_OPS_DB") ?? "ops.sqlite";
}

/** The absolute workspace directory from `--workspace` (default: the current directory). */
export function workspaceOf(flags: Flags): string {
  const ws = flags.workspace ?? ".";
  try {
    if (!Deno.statSync(ws).isDirectory) throw new Error();
  } catch {
    throw new OpsUsageError(`workspace ${ws} is not a directory`);
  }
  return Deno.realPathSync(ws);
}

/** Parses repeated `--input name=value` flags. */
export function parseInputs(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf("=");
    if (i <= 0) throw new OpsUsageError(`--input ${item} must look like name=value`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** The `--parallel` bound (1-64, default 4). */
export function parallelOf(flags: Flags): number {
  const n = Number(flags.parallel ?? 4);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new OpsUsageError("--parallel must be a whole number from 1 to 64");
  }
  return n;
}

/** Whether commands really run: `--allow-shell` or `LOOM_OPS_ALLOW_SHELL=1`. */
export function allowShellOf(flags: Flags): boolean {
  return !!flags["allow-shell"] || Deno.env.get("LOOM_OPS_ALLOW_SHELL") === "1";
}

/**
 * The OS sandbox of real commands: `bwrap` (bubblewrap, the default), or `none` when
 * `--no-os-sandbox` asks for commands without it (the run's audit records that choice).
 */
export function osSandboxOf(flags: Flags): "bwrap" | "none" {
  return flags["no-os-sandbox"] ? "none" : "bwrap";
}

/** Who starts a run: `--by`, else `$USER`, else `cli`. */
export function userOf(flags: Flags): string {
  return flags.by ?? Deno.env.get("USER") ?? "cli";
}

/**
 * The planner for `supervise`: the deterministic mock with `--mock-llm`, else the LLM the
 * environment configures (`notice` gets the line about old variable names, when one is used).
 *
 * @throws {OpsUsageError} When no LLM is configured.
 */
export function plannerOf(mockLlm: boolean, notice?: (line: string) => void): Planner {
  if (mockLlm) return new MockPlanner();
  const llm = llmPlannerFromEnv(notice);
  if (llm) return llm;
  throw new OpsUsageError(`no LLM is configured: pass --mock-llm, or ${LLM_SETUP}`);
}

/**
 * The directory handed to commands as `LOOM_OPS_STATE_DIR`, created when missing unless
 * `create` is false (a dry run creates nothing).
 */
export function stateDirOf(flags: Flags, dbPath: string, create = true): string {
  const given = flags["state-dir"];
  const dbDir = dbPath.includes("/") ? dbPath.replace(/\/[^/]*$/, "") || "/" : ".";
  const path = given ?? `${dbDir}/ops-state`;
  if (create) Deno.mkdirSync(path, { recursive: true });
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

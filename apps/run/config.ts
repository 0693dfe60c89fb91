/**
 * Command-line flags and environment variables of `loom-run`, resolved into one `Config`.
 * A flag wins over its environment variable, which wins over the default.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { UsageError } from "./errors.ts";

/** The sub-commands of `loom-run`. */
export type Command = "chat" | "supervise" | "resume" | "retry" | "explain" | "serve" | "help";

const COMMANDS: readonly Command[] = [
  "chat",
  "supervise",
  "resume",
  "retry",
  "explain",
  "serve",
  "help",
];

/** Settings of the LLM edge. The API key is never stored in a run. */
export interface LlmSettings {
  /** `mock` (deterministic, offline) or `openai` (any OpenAI-compatible endpoint). */
  provider: "mock" | "openai";
  /** Model name sent to the endpoint. */
  model: string;
  /** Base URL of the Chat Completions API, e.g. `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  /** Timeout of one LLM request in ms. */
  timeoutMs: number;
}

/** Everything a run needs to rebuild its tools and LLM; stored in the run so `resume` needs no flags. */
export interface RunSettings {
  /** Absolute path of the workspace the tools are confined to. */
  workspace: string;
  /** The LLM edge. */
  llm: LlmSettings;
  /** Stop after this many LLM turns. */
  maxSteps: number;
  /** Stop calling tools after this many calls (then the LLM must answer). */
  maxToolCalls: number;
  /** Absolute path of the MCP servers file, if any. */
  mcpConfig?: string;
  /** The `run_tests` command as an argument vector. */
  testCommand: string[];
  /** Timeout of `run_tests` in ms. */
  testTimeoutMs: number;
  /** How many child runs `supervise` runs at once. */
  concurrency: number;
}

/** Names of settings that a flag or variable can set explicitly. */
export type SettingKey = keyof RunSettings | "model" | "provider" | "baseUrl" | "timeoutMs";

/** The resolved command line. */
export interface Config {
  /** Sub-command. */
  command: Command;
  /** The question or goal (chat, supervise). */
  prompt?: string;
  /** Run id (generated for chat/supervise when absent). */
  runId?: string;
  /** SQLite file of the runs. */
  db: string;
  /** Write an HTML trace here. */
  trace?: string;
  /** One JSON document on stdout instead of human text. */
  json: boolean;
  /** Settings handed to the run. */
  settings: RunSettings;
  /** Which settings were given explicitly (flag or env), so `resume` can override stored ones. */
  explicit: Set<SettingKey>;
  /** API key for the OpenAI-compatible endpoint. */
  apiKey?: string;
  /** `serve`: port. */
  port: number;
  /** `serve`: address to bind. */
  host: string;
  /** `serve`: bearer token required on every request when set. */
  token?: string;
}

/** One row of the environment variable table (also printed by `loom-run help`). */
export interface EnvVar {
  /** Variable name. */
  name: string;
  /** Flag it stands for. */
  flag: string;
  /** Default value. */
  default: string;
  /** What it sets. */
  meaning: string;
}

/** The environment variables `loom-run` reads, in the order the README documents them. */
export const ENV_VARS: readonly EnvVar[] = [
  { name: "LOOM_RUN_DB", flag: "--db", default: "loom-run.sqlite", meaning: "SQLite file of runs" },
  {
    name: "LOOM_RUN_WORKSPACE",
    flag: "--workspace",
    default: "current directory",
    meaning: "folder the tools may read",
  },
  { name: "LOOM_RUN_MAX_STEPS", flag: "--max-steps", default: "12", meaning: "LLM turns per run" },
  {
    name: "LOOM_RUN_MAX_TOOL_CALLS",
    flag: "--max-tool-calls",
    default: "30",
    meaning: "tool calls per run",
  },
  {
    name: "LOOM_RUN_MCP_CONFIG",
    flag: "--mcp-config",
    default: "(none)",
    meaning: "JSON file of MCP servers",
  },
  {
    name: "LOOM_RUN_TEST_COMMAND",
    flag: "--test-command",
    default: "deno test",
    meaning: "command `run_tests` runs",
  },
  {
    name: "LOOM_RUN_TEST_TIMEOUT_MS",
    flag: "--test-timeout-ms",
    default: "120000",
    meaning: "timeout of `run_tests`",
  },
  {
    name: "LOOM_RUN_CONCURRENCY",
    flag: "--concurrency",
    default: "2",
    meaning: "child runs at once (supervise)",
  },
  { name: "LOOM_RUN_TRACE", flag: "--trace", default: "(none)", meaning: "write an HTML trace" },
  { name: "LOOM_RUN_PORT", flag: "--port", default: "8765", meaning: "serve: port" },
  { name: "LOOM_RUN_HOST", flag: "--host", default: "127.0.0.1", meaning: "serve: bind address" },
  {
    name: "LOOM_RUN_TOKEN",
    flag: "--token",
    default: "(none)",
    meaning: "serve: bearer token (required off loopback)",
  },
  {
    name: "LOOM_LLM_MOCK",
    flag: "--mock-llm",
    default: "0",
    meaning: "1 = deterministic offline mock LLM",
  },
  {
    name: "LOOM_LLM_BASE_URL",
    flag: "--base-url",
    default: "https://api.openai.com/v1",
    meaning: "OpenAI-compatible endpoint",
  },
  { name: "LOOM_LLM_MODEL", flag: "--model", default: "gpt-4o-mini", meaning: "model name" },
  {
    name: "LOOM_LLM_API_KEY",
    flag: "(env only)",
    default: "(none)",
    meaning: "API key; falls back to OPENAI_API_KEY",
  },
  {
    name: "LOOM_LLM_TIMEOUT_MS",
    flag: "--llm-timeout-ms",
    default: "120000",
    meaning: "timeout of one LLM request",
  },
];

/** Reads an environment variable; `undefined` when unset, empty or not permitted. */
export function readEnv(name: string): string | undefined {
  try {
    // Asked first, so that an ungranted variable never opens a permission prompt in a terminal.
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    const value = Deno.env.get(name);
    return value === undefined || value === "" ? undefined : value;
  } catch {
    // Without --allow-env for this name the variable simply does not count.
    return undefined;
  }
}

function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new UsageError(`${what} must be a positive integer, got '${value}'`);
  }
  return Number(value);
}

/** True for loopback addresses. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * True for a usable run id: letters, digits and `. _ : @ - /`, at most 128 characters, without
 * empty, `.` or `..` segments (ids like `team/1` name child runs).
 */
export function isValidRunId(id: string): boolean {
  return /^[A-Za-z0-9._:@/-]{1,128}$/.test(id) &&
    id.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** Characters a shell would treat as syntax; outside single quotes they are refused. */
const SHELL_SYNTAX = new Set(["|", "&", ";", "<", ">", "`"]);

/**
 * Splits a command string into words, honouring single and double quotes. The command runs
 * without a shell, so pipes, redirections, `&`, `;`, backticks, `$(` and unterminated quotes are
 * refused instead of being passed on as arguments.
 */
export function splitCommand(text: string): string[] {
  const refuse = (what: string): never => {
    throw new UsageError(
      `the test command '${text}' contains ${what}, but it runs without a shell (only words and quotes are allowed)`,
    );
  };
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      // Inside double quotes a shell still expands backticks and $( ... ).
      if (c === "`" || (c === "$" && text[i + 1] === "(")) refuse(`'${c === "$" ? "$(" : c}'`);
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      if (SHELL_SYNTAX.has(c) || (c === "$" && text[i + 1] === "(")) {
        refuse(`'${c === "$" ? "$(" : c}'`);
      }
      word = (word ?? "") + c;
    }
  }
  if (quote) refuse(`an unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new UsageError("the test command is empty");
  return words;
}

/** node:util's parseArgs error as one short sentence (its text suggests `--` tricks). */
function parseArgsMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const unknown = text.match(/^Unknown option '([^']+)'/);
  if (unknown) return `unknown option ${unknown[1]} (see loom-run --help)`;
  return `${text.split("\n")[0].replace(/\.\s.*$/, "")} (see loom-run --help)`;
}

/**
 * Parses `args` (without the program name) and the environment into a `Config`.
 * Throws `UsageError` for anything the user typed wrong.
 */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = readEnv,
): Config {
  const { values: v, positionals } = parseFlags(args);
  const { command, prompt } = commandOf(v, positionals);
  const explicit = new Set<SettingKey>();
  const pick: Picker = (flag, name, key) => {
    const value = flag ?? env(name);
    if (value !== undefined && key) explicit.add(key);
    return value;
  };
  const settings = runSettings(v, pick);
  const port = portOf(v.port ?? env("LOOM_RUN_PORT"));
  return {
    command,
    prompt,
    runId: v["run-id"],
    db: pick(v.db, "LOOM_RUN_DB") ?? "loom-run.sqlite",
    trace: pick(v.trace, "LOOM_RUN_TRACE"),
    json: v.json ?? false,
    settings,
    explicit,
    apiKey: env("LOOM_LLM_API_KEY") ?? env("OPENAI_API_KEY"),
    port,
    host: v.host ?? env("LOOM_RUN_HOST") ?? "127.0.0.1",
    token: v.token ?? env("LOOM_RUN_TOKEN"),
  };
}

/** The flags `loom-run` knows, for node:util's parseArgs. */
const FLAGS = {
  "run-id": { type: "string" },
  db: { type: "string" },
  workspace: { type: "string" },
  "max-steps": { type: "string" },
  "max-tool-calls": { type: "string" },
  "mcp-config": { type: "string" },
  model: { type: "string" },
  "base-url": { type: "string" },
  "mock-llm": { type: "boolean" },
  "llm-timeout-ms": { type: "string" },
  "test-command": { type: "string" },
  "test-timeout-ms": { type: "string" },
  concurrency: { type: "string" },
  trace: { type: "string" },
  json: { type: "boolean" },
  port: { type: "string" },
  host: { type: "string" },
  token: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The flag values parseArgs found. */
type Flags = ReturnType<typeof parseFlags>["values"];

/** A flag's value, else its environment variable's; a value found marks `key` explicit. */
type Picker = (flag: string | undefined, name: string, key?: SettingKey) => string | undefined;

/** Splits `args` into flag values and positionals; an unknown or malformed flag is a `UsageError`. */
function parseFlags(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options: FLAGS });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
}

/** The command and its question, checked against the positionals and `--run-id`. */
function commandOf(
  v: Flags,
  positionals: string[],
): { command: Command; prompt: string | undefined } {
  const command = (v.help ? "help" : positionals[0] ?? "help") as Command;
  if (!COMMANDS.includes(command)) {
    throw new UsageError(`unknown command '${positionals[0]}' (try: ${COMMANDS.join(", ")})`);
  }
  const rest = positionals.slice(1);
  let prompt: string | undefined;
  if (command === "chat" || command === "supervise") {
    prompt = rest.join(" ").trim();
    if (!prompt) {
      throw new UsageError(
        `'${command}' needs a question, e.g. loom-run ${command} "why does the test fail?"`,
      );
    }
  } else if (rest.length > 0 && command !== "help") {
    throw new UsageError(`'${command}' takes no positional argument (got '${rest[0]}')`);
  }
  if ((command === "resume" || command === "retry" || command === "explain") && !v["run-id"]) {
    throw new UsageError(`'${command}' needs --run-id`);
  }
  if (v["run-id"] !== undefined && !isValidRunId(v["run-id"])) {
    throw new UsageError(
      `run id '${
        v["run-id"]
      }' may only contain letters, digits and . _ : @ - / (at most 128, no . or .. parts)`,
    );
  }
  return { command, prompt };
}

/** The run settings from flags, environment and defaults. */
function runSettings(v: Flags, pick: Picker): RunSettings {
  const mockText = pick(v["mock-llm"] ? "1" : undefined, "LOOM_LLM_MOCK", "provider");
  const mock = mockText !== undefined && mockText !== "0" && mockText !== "false";
  const workspace = resolve(pick(v.workspace, "LOOM_RUN_WORKSPACE", "workspace") ?? Deno.cwd());
  const mcp = pick(v["mcp-config"], "LOOM_RUN_MCP_CONFIG", "mcpConfig");
  const testCommand = pick(v["test-command"], "LOOM_RUN_TEST_COMMAND", "testCommand");
  const num = (
    flag: string | undefined,
    name: string,
    key: keyof RunSettings,
    dflt: number,
    what: string,
  ) => {
    const value = pick(flag, name, key);
    return value === undefined ? dflt : positiveInt(value, what);
  };
  const llmTimeout = pick(v["llm-timeout-ms"], "LOOM_LLM_TIMEOUT_MS", "timeoutMs");
  return {
    workspace,
    llm: llmSettings(v, pick, mock, llmTimeout),
    maxSteps: num(v["max-steps"], "LOOM_RUN_MAX_STEPS", "maxSteps", 12, "--max-steps"),
    maxToolCalls: num(
      v["max-tool-calls"],
      "LOOM_RUN_MAX_TOOL_CALLS",
      "maxToolCalls",
      30,
      "--max-tool-calls",
    ),
    mcpConfig: mcp === undefined ? undefined : resolve(mcp),
    testCommand: splitCommand(testCommand ?? "deno test"),
    testTimeoutMs: num(
      v["test-timeout-ms"],
      "LOOM_RUN_TEST_TIMEOUT_MS",
      "testTimeoutMs",
      120_000,
      "--test-timeout-ms",
    ),
    concurrency: num(v.concurrency, "LOOM_RUN_CONCURRENCY", "concurrency", 2, "--concurrency"),
  };
}

/** The LLM settings: the mock or an OpenAI-compatible endpoint, its model and timeout. */
function llmSettings(
  v: Flags,
  pick: Picker,
  mock: boolean,
  llmTimeout: string | undefined,
): LlmSettings {
  return {
    provider: mock ? "mock" : "openai",
    model: pick(v.model, "LOOM_LLM_MODEL", "model") ?? (mock ? "loom-mock-1" : "gpt-4o-mini"),
    baseUrl: (pick(v["base-url"], "LOOM_LLM_BASE_URL", "baseUrl") ?? "https://api.openai.com/v1")
      .replace(/\/+$/, ""),
    timeoutMs: llmTimeout === undefined ? 120_000 : positiveInt(llmTimeout, "--llm-timeout-ms"),
  };
}

/** The `--port` (or `LOOM_RUN_PORT`) number. @default 8765 */
function portOf(portText: string | undefined): number {
  const port = portText === undefined ? 8765 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a port number 0-65535, got '${portText}'`);
  }
  return port;
}

/** The help text, with the environment variable table. */
export function usage(): string {
  const rows = ENV_VARS.map((e) =>
    `  ${e.name.padEnd(26)} ${e.flag.padEnd(18)} ${e.meaning} (default: ${e.default})`
  );
  return [
    "loom-run: a durable repository chat agent",
    "",
    "usage:",
    '  loom-run chat "why does the test fail?" [--run-id ID] [--db FILE] [--mock-llm]',
    '  loom-run supervise "review this repo" [--run-id ID] [--db FILE] [--concurrency N]',
    "  loom-run resume --run-id ID [--db FILE]        continue a killed or interrupted run",
    "  loom-run retry --run-id ID [--db FILE]         continue a failed run from its last checkpoint",
    "  loom-run explain --run-id ID [--db FILE] [--json]",
    "  loom-run serve [--port 8765] [--host 127.0.0.1] [--token T]",
    "",
    "common flags: --workspace DIR --max-steps N --max-tool-calls N --mcp-config FILE",
    "              --model NAME --base-url URL --llm-timeout-ms MS --trace FILE.html --json",
    "              --test-command CMD --test-timeout-ms MS --concurrency N",
    "",
    "environment (a flag wins over its variable):",
    ...rows,
    "",
    "without --mock-llm, LOOM_LLM_API_KEY (or OPENAI_API_KEY) is required unless --base-url is",
    "on this machine (e.g. Ollama at http://127.0.0.1:11434/v1)",
    "",
    "exit codes: 0 ok, 1 the run failed, 2 usage or input error",
  ].join("\n");
}

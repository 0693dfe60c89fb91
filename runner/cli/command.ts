/**
 * What every `loom-runner` command is made of: its options, the context it runs in (parsed flags,
 * output, hooks), and the helpers the commands share: flags (including old spellings that still
 * work), agent modules and stores.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Agent, isAgent } from "../engine/agent.ts";
import type { RunResult } from "../engine/engine.ts";
import type { RunObserver } from "../engine/observer.ts";
import { errorMessage, ReadOnlyDatabaseError, RunnerError } from "../errors.ts";
import { openAnyStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";

/** A command option, as `parseArgs` takes it. */
export type OptionSpec = { type: "string" | "boolean"; short?: string };
/** Parsed flags. */
export type Values = Record<string, string | boolean | undefined>;

/** Options every command takes. */
export const COMMON: Record<string, OptionSpec> = {
  db: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};
/** `--run-id`. */
export const RUN_ID: Record<string, OptionSpec> = { "run-id": { type: "string" } };
/** `--limit` and `--offset`. */
export const PAGING: Record<string, OptionSpec> = {
  limit: { type: "string" },
  offset: { type: "string" },
};
/** Options of the commands that advance a run. */
export const EXEC: Record<string, OptionSpec> = {
  ...RUN_ID,
  "max-steps": { type: "string" },
  durability: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  // --trace is wired by the xray integration through `CliHooks.observers`.
  trace: { type: "string" },
};

/** One command of the table. */
export interface Command {
  /** One line for the command list of `--help`. */
  summary: string;
  /** The command line without `loom-runner`, for `<command> --help` and errors. */
  usage: string;
  options: Record<string, OptionSpec>;
  /**
   * Old spellings of flags that still work (old name -> current name); each use prints a
   * one-line notice on stderr.
   */
  renamedFlags?: Record<string, string>;
  /** Whether the command takes an agent module path; none when undefined. */
  module?: "required" | "optional";
  /** Runs the command; returns the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** What a command runs with. */
export interface CommandContext {
  values: Values;
  modulePath?: string;
  out: Output;
  hooks: CliHooks;
}

/** Extension points for embedding the CLI (the xray `--trace` wiring uses `observers`). */
export interface CliHooks {
  /** Extra observers for `run`/`resume`/`retry`, built from the parsed flags. */
  observers?: (
    flags: Record<string, string | boolean | undefined>,
    run: { agent: Agent; modulePath: string },
  ) => RunObserver[];
  /** Called after a run invocation ends (e.g. to write a trace file). */
  afterRun?: (
    flags: Record<string, string | boolean | undefined>,
    result: RunResult | undefined,
  ) => Promise<void> | void;
}

/** Human text, or (with `--json`) one JSON document on stdout. */
export class Output {
  constructor(readonly json: boolean) {}
  text(s: string): void {
    if (!this.json) console.log(s);
  }
  doc(value: unknown): void {
    if (this.json) console.log(JSON.stringify(value, null, 2));
  }
}

/** The options a command parses: its own, the common ones, and its flags' old spellings. */
export function optionsOf(command: Command): Record<string, OptionSpec> {
  const options = { ...COMMON, ...command.options };
  for (const [old, now] of Object.entries(command.renamedFlags ?? {})) options[old] = options[now];
  return options;
}

/**
 * Moves the values of old flag spellings to their current names, with a one-line notice on
 * stderr for each (`note: --from-step is now --step`).
 *
 * @throws {RunnerError} When a flag is given under both names.
 */
export function applyRenamedFlags(values: Values, renamed: Record<string, string> = {}): void {
  for (const [old, now] of Object.entries(renamed)) {
    if (values[old] === undefined) continue;
    console.error(`note: --${old} is now --${now}`);
    if (values[now] !== undefined) {
      throw new RunnerError(`--${old} and --${now} are the same flag; give --${now} only`);
    }
    values[now] = values[old];
    delete values[old];
  }
}

/**
 * `parseArgs` reads the value of `--limit -1` as a flag of its own and refuses it as
 * "ambiguous". Joins each string option and a following negative number (`--limit=-1`), so the
 * option's own check can say what is wrong with the value.
 */
export function joinNegativeValues(
  args: readonly string[],
  options: Readonly<Record<string, { type: string; short?: string }>>,
): string[] {
  const takesValue = (arg: string) => {
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    if (long !== undefined) return options[long]?.type === "string";
    const short = /^-([^-])$/.exec(arg)?.[1];
    return short !== undefined &&
      Object.values(options).some((o) => o.short === short && o.type === "string");
  };
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === "--") return [...out, ...args.slice(i)];
    if (next !== undefined && /^-\d/.test(next) && takesValue(args[i])) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

/** A required string flag. */
export function need(values: Readonly<Record<string, unknown>>, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new RunnerError(`--${name} is required`);
  return v;
}

/** An integer flag of at least `min`, or undefined. */
export function intFlag(
  values: Readonly<Record<string, unknown>>,
  name: string,
  min = 0,
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new RunnerError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A JSON flag, parsed, or undefined. */
export function jsonFlag(values: Values, name: string): unknown {
  const v = values[name];
  if (v === undefined) return undefined;
  try {
    return JSON.parse(String(v));
  } catch (e) {
    throw new RunnerError(`--${name} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Imports a module (a path, or a URL) that defines agents.
 *
 * @throws {RunnerError} When the file does not exist or the module does not load.
 */
export async function importAgentModule(path: string): Promise<Record<string, unknown>> {
  const url = /^[a-z]+:\/\//i.test(path) ? path : pathToFileURL(resolve(path)).href;
  if (url.startsWith("file:")) {
    try {
      Deno.statSync(new URL(url));
    } catch {
      throw new RunnerError(`agent module ${path} does not exist`);
    }
  }
  try {
    // The user's agent module, named on the command line: it cannot be known when this package
    // is published (deno publish warns "unanalyzable dynamic import"), and it is imported by its
    // absolute URL, so it needs no import map of ours.
    return await import(url);
  } catch (e) {
    throw new RunnerError(`cannot load agent module ${path}: ${errorMessage(e).split("\n")[0]}`);
  }
}

/** The agents a module exports (made with `defineAgent`), each once. */
export function agentsOf(mod: Record<string, unknown>): Agent<unknown, unknown, unknown>[] {
  return [...new Set(Object.values(mod).filter(isAgent))];
}

/** A JSON file (`what` names it in errors). */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new RunnerError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunnerError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * How a command uses its store: `read` (inspection: a read-only file is opened read-only),
 * `write` (an existing database, checked before the first write) or `create` (`write`, and a
 * missing SQLite file is created).
 */
export type StoreAccess = "read" | "write" | "create";

/** The database a command uses when neither `--db` nor `LOOM_DB_URL` names one. */
export const DEFAULT_DB = "loom.sqlite";

/**
 * The database of a command: `--db`, else `LOOM_DB_URL`, else `loom.sqlite` in the working
 * directory, said on stderr (`note: no --db given (nor LOOM_DB_URL): using loom.sqlite`); the
 * default is stored back in `values.db`, so the hints a command prints name it.
 */
export function dbFlag(values: Values): string {
  if (typeof values.db === "string" && values.db !== "") return values.db;
  const fromEnv = Deno.env.get("LOOM_DB_URL");
  if (fromEnv) return fromEnv; // not in values.db: hints must not print a URL's password
  console.error(`note: no --db given (nor LOOM_DB_URL): using ${DEFAULT_DB}`);
  return values.db = DEFAULT_DB;
}

/** Opens the store `--db` (or `LOOM_DB_URL`, or `loom.sqlite`) names, for `access`. */
export async function openFor(values: Values, access: StoreAccess): Promise<Store> {
  const db = dbFlag(values);
  const durability = values.durability ?? "normal";
  if (durability !== "normal" && durability !== "fsync") {
    throw new RunnerError(`--durability must be normal or fsync, got ${durability}`);
  }
  if (access === "read") return await openReadable(db);
  return await openAnyStore(db, {
    create: access === "create",
    durability: durability as "normal" | "fsync",
  });
}

/**
 * Opens an existing store for inspection: writable when it may be (so an older schema is
 * upgraded), without the integrity check writing commands pay for, and read-only when the file
 * or its directory is read-only.
 */
export async function openReadable(location: string): Promise<Store> {
  try {
    return await openAnyStore(location, { create: false, integrityCheck: "none" });
  } catch (e) {
    if (!(e instanceof ReadOnlyDatabaseError)) throw e;
    return await openAnyStore(location, { create: false, readOnly: true });
  }
}

/** Runs `fn` with the store of `--db` (never created), closed afterwards. */
export async function withStore<T>(
  values: Values,
  access: "read" | "write",
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openFor(values, access);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** ` --db X` for the hints commands print, or nothing when the database came from LOOM_DB_URL. */
export function dbHint(values: Values): string {
  return typeof values.db === "string" && values.db !== "" ? ` --db ${values.db}` : "";
}

/** `--limit` (default 50) and `--offset`. */
export function page(values: Values): { limit: number; offset: number } {
  return { limit: intFlag(values, "limit", 1) ?? 50, offset: intFlag(values, "offset") ?? 0 };
}

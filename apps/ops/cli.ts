/**
 * The `loom-ops` command line. Human-readable output by default, `--json` for one JSON document
 * on stdout; exit codes 0 ok, 1 the run failed, 2 usage or input error. Errors end in one
 * sentence on stderr, never a stack trace.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatExplain, type RunResult } from "@loom/runner";
import type { OpsOutcome } from "./agents.ts";
import {
  asUsage,
  buildRunConfig,
  decide,
  explainOps,
  openApp,
  type OpsApp,
  OpsUsageError,
  precheckPlan,
  resumeOpsRun,
  startOpsRun,
  statusOf,
  type StatusView,
} from "./app.ts";
import { Allowlist } from "./allowlist.ts";
import { summarize, toJsonLines } from "./audit.ts";
import { OpsDbError } from "./ops_db.ts";
import { llmPlannerFromEnv } from "./llm_planner.ts";
import { MockPlanner, type Planner } from "./planner.ts";
import { RunbookError } from "./runbook.ts";

/** Where the CLI writes; tests and the server substitute their own. */
export interface CliIo {
  /** stdout. */
  out(text: string): void;
  /** stderr. */
  err(text: string): void;
}

const consoleIo: CliIo = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

const USAGE = `loom-ops — incident and deploy runbooks as durable runs

usage:
  loom-ops supervise "INCIDENT" --run-id ID [--mock-llm] [run options]
  loom-ops runbook FILE.yaml --run-id ID [--input k=v ...] [run options]
  loom-ops approve --run-id ID --step STEP --by NAME [--comment TEXT]
  loom-ops deny    --run-id ID --step STEP --by NAME [--comment TEXT]
  loom-ops resume  --run-id ID                 continue a run after a crash
  loom-ops status|explain --run-id ID [--json]
  loom-ops audit [--run-id ID] [--jsonl | --out FILE] [--verify] [--json]
  loom-ops memory search TEXT [--json]
  loom-ops serve [--port 8766]                 HTTP + SSE API
  loom-ops gateway telegram                    Telegram approval gateway

common options:
  --db FILE          runner database (default $LOOM_OPS_DB or ./ops.sqlite); loom-ops keeps
                     its audit trail and memory next to it in FILE.ops
  --workspace DIR    workspace (default .): runbooks in DIR/runbooks, allowlist in
                     DIR/ops.shell.allowlist.json
run options:
  --allow-shell      really run commands (also LOOM_OPS_ALLOW_SHELL=1); default: mock executor
  --parallel N       steps run at the same time (default 4)
  --state-dir DIR    LOOM_OPS_STATE_DIR for commands (default: DB's directory/ops-state)
  --by NAME          who starts the run (default $USER)
  --trace FILE       write an xray HTML trace of the run
  --json             one JSON document on stdout`;

const OPTIONS = {
  "run-id": { type: "string" },
  db: { type: "string" },
  workspace: { type: "string" },
  "mock-llm": { type: "boolean" },
  "allow-shell": { type: "boolean" },
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
  /** Flags. */
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

function need(value: string | undefined, flag: string): string {
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

/** Who starts a run: `--by`, else `$USER`, else `cli`. */
export function userOf(flags: Flags): string {
  return flags.by ?? Deno.env.get("USER") ?? "cli";
}

/** The planner for `supervise`: the deterministic mock with `--mock-llm`, else the configured LLM. */
export function plannerOf(mockLlm: boolean): Planner {
  if (mockLlm) return new MockPlanner();
  const llm = llmPlannerFromEnv();
  if (llm) return llm;
  throw new OpsUsageError(
    "no LLM is configured: pass --mock-llm, or set LOOM_OPS_LLM_URL (OpenAI-compatible) and LOOM_OPS_LLM_MODEL",
  );
}

/** The directory handed to commands as `LOOM_OPS_STATE_DIR` (created when missing). */
export function stateDirOf(flags: Flags, dbPath: string): string {
  if (flags["state-dir"]) {
    Deno.mkdirSync(flags["state-dir"], { recursive: true });
    return Deno.realPathSync(flags["state-dir"]);
  }
  const dir = dbPath.includes("/") ? dbPath.replace(/\/[^/]*$/, "") : ".";
  const stateDir = `${Deno.realPathSync(dir)}/ops-state`;
  Deno.mkdirSync(stateDir, { recursive: true });
  return stateDir;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CliIo = consoleIo): Promise<number> {
  let app: OpsApp | undefined;
  // --trace: the run whose trace is written when the command ends (whatever its outcome).
  let traced: { runId: string; path: string } | undefined;
  try {
    const p = parseCli(argv);
    const { flags } = p;
    if (flags.help || p.command === "" || p.command === "help") {
      io.out(USAGE);
      return p.command === "" && !flags.help ? 2 : 0;
    }
    const progress = flags.json ? undefined : (line: string) => io.err(line);
    const dbPath = dbPathOf(flags);
    const runCommand = ["supervise", "runbook"].includes(p.command);
    const open = (create: boolean) =>
      app = openApp({
        dbPath,
        create,
        planner: p.command === "supervise" ? plannerOf(!!flags["mock-llm"]) : new MockPlanner(),
        progress,
      });
    if (flags.trace && !(runCommand || ["approve", "deny", "resume"].includes(p.command))) {
      throw new OpsUsageError("--trace goes with supervise, runbook, approve, deny or resume");
    }
    const trace = (runId: string) => {
      if (flags.trace) traced = { runId, path: flags.trace };
    };
    switch (p.command) {
      case "supervise":
      case "runbook": {
        if (p.command === "runbook" && !p.args[0]) {
          throw new OpsUsageError(
            "runbook needs the path of a YAML runbook: loom-ops runbook FILE.yaml --run-id ID",
          );
        }
        if (p.command === "supervise" && !p.args.join(" ").trim()) {
          throw new OpsUsageError(
            'supervise needs the incident text, e.g. "incident: API latency"',
          );
        }
        const runId = need(flags["run-id"], "run-id");
        const config = buildRunConfig({
          mode: p.command as "runbook" | "supervise",
          file: p.args[0],
          inputs: parseInputs(flags.input),
          incident: p.args.join(" "),
          workspace: workspaceOf(flags),
          stateDir: stateDirOf(flags, dbPath),
          allowShell: !!flags["allow-shell"] || Deno.env.get("LOOM_OPS_ALLOW_SHELL") === "1",
          parallel: parallelOf(flags),
          startedBy: userOf(flags),
        });
        open(true);
        // Refuse a runbook with commands outside the allowlist before saying anything else.
        if (config.plan) {
          precheckPlan(app!, runId, config.plan, Allowlist.fromPlain(config.allowlist));
        }
        if (progress) {
          progress(
            `${runId}: ${
              config.allowShell
                ? "shell executor (allowlisted)"
                : "mock executor (pass --allow-shell to run commands)"
            }`,
          );
        }
        trace(runId);
        const result = await startOpsRun(app!, runId, config);
        return await report(app!, result, flags, io);
      }
      case "resume": {
        const runId = need(flags["run-id"], "run-id");
        open(false);
        trace(runId);
        const result = await resumeOpsRun(app!, runId);
        if (
          result.stepsThisRun === 0 && (result.status === "completed" || result.status === "failed")
        ) {
          progress?.(
            `run ${runId} had already ${
              result.status === "completed" ? "completed" : "failed"
            }; showing its stored outcome`,
          );
        }
        return await report(app!, result, flags, io);
      }
      case "approve":
      case "deny": {
        const runId = need(flags["run-id"], "run-id");
        const step = need(flags.step, "step");
        const by = need(flags.by, "by");
        if (p.command === "deny" && !flags.comment) {
          throw new OpsUsageError("deny needs --comment saying why");
        }
        open(false);
        trace(runId);
        const result = await decide(app!, {
          runId,
          step,
          by,
          decision: p.command,
          comment: flags.comment,
          via: "cli",
        });
        const denied = p.command === "deny" && result.status === "failed" &&
          (result.error?.message ?? "").startsWith(`step ${step} was denied`);
        return await report(app!, result, flags, io, denied);
      }
      case "status": {
        open(false);
        const view = await statusOf(app!, need(flags["run-id"], "run-id"));
        if (flags.json) io.out(JSON.stringify(view, null, 2));
        else io.out(formatStatus(view));
        return 0;
      }
      case "explain": {
        open(false);
        const e = await explainOps(app!, need(flags["run-id"], "run-id"));
        if (flags.json) io.out(JSON.stringify(e, null, 2));
        else {
          io.out(formatExplain(e));
          const subs = flatten(e.children);
          if (subs.length) {
            io.out(`\nsub-runs (explain each with --run-id): ${subs.join(", ")}`);
          }
        }
        return 0;
      }
      case "audit":
        open(false);
        return auditCommand(app!, flags, io);
      case "memory": {
        if (p.args[0] !== "search" || p.args.length < 2) {
          throw new OpsUsageError('usage: loom-ops memory search "TEXT"');
        }
        open(false);
        const hits = app!.memory.search(p.args.slice(1).join(" "));
        if (flags.json) io.out(JSON.stringify(hits, null, 2));
        else if (hits.length === 0) io.out("no similar past runs");
        else {
          for (const h of hits) {
            io.out(
              `${h.runId}  ${
                h.created.slice(0, 19)
              }  ${h.incident}\n  did: ${h.actions}\n  outcome: ${h.outcome}`,
            );
          }
        }
        return 0;
      }
      case "serve": {
        const { serve } = await import("./serve.ts");
        return await serve({ dbPath, flags, io });
      }
      case "gateway": {
        if (p.args[0] !== "telegram") throw new OpsUsageError("usage: loom-ops gateway telegram");
        const { runTelegramGateway } = await import("./telegram.ts");
        return await runTelegramGateway({ dbPath, flags, io });
      }
      default:
        throw new OpsUsageError(`unknown command ${p.command} (see loom-ops --help)`);
    }
  } catch (e) {
    const err = asUsage(e);
    if (err instanceof RunbookError) {
      io.err(`error: invalid runbook ${err.file}:`);
      for (const line of err.message.split("\n")) io.err(`  ${line}`);
      return 2;
    }
    if (err instanceof OpsUsageError || err instanceof OpsDbError) {
      io.err(`error: ${err.message}`);
      return 2;
    }
    io.err(`error: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  } finally {
    if (traced && app && await app.store.getRun(traced.runId)) {
      const { writeRunTrace } = await import("./trace.ts");
      await writeRunTrace(app.store, traced.runId, traced.path).then(
        () => io.err(`trace written to ${traced!.path}`),
        (e) => io.err(`error: cannot write the trace: ${(e as Error).message}`),
      );
    }
    app?.close();
  }
}

function flatten(nodes: { runId: string; children: unknown[] }[]): string[] {
  return nodes.flatMap((n) => [n.runId, ...flatten(n.children as typeof nodes)]);
}

/**
 * The options a follow-up command needs to reach the same run: `--db` when it is not the
 * default one (a hint without it would open another database).
 */
function sameRunOptions(flags: Flags): string {
  const path = dbPathOf(flags);
  const fallback = Deno.env.get("LOOM_OPS_DB") ?? "ops.sqlite";
  return path === fallback ? "" : ` --db ${shellWord(path)}`;
}

/** Quotes a word for a copy-pasted shell command when it needs it. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

async function report(
  app: OpsApp,
  result: RunResult<OpsOutcome>,
  flags: Flags,
  io: CliIo,
  deniedOnRequest = false,
): Promise<number> {
  const view = await statusOf(app, result.runId);
  if (flags.json) {
    io.out(JSON.stringify({ ...view, result: result.result ?? null }, null, 2));
  } else {
    io.out(formatStatus(view));
    if (result.status === "waiting") {
      const opts = sameRunOptions(flags);
      for (const w of view.waitingFor) {
        io.out(
          `\nrun ${w.runId} is waiting for approval of step ${w.step} by ${
            w.approvers.join(" or ")
          }.` +
            `\n  approve: loom-ops approve --run-id ${w.runId} --step ${w.step} --by NAME${opts}` +
            `\n  deny:    loom-ops deny --run-id ${w.runId} --step ${w.step} --by NAME --comment "why"${opts}`,
        );
      }
    }
  }
  if (result.status === "failed" && deniedOnRequest) {
    // The denial the caller asked for is an outcome, not an error.
    io.err(`run ${result.runId} stopped: ${result.error?.message ?? "denied"}`);
    return 0;
  }
  if (result.status === "failed") {
    io.err(`error: run ${result.runId} failed: ${result.error?.message ?? "unknown error"}`);
    return 1;
  }
  if (result.status === "completed" || result.status === "waiting") return 0;
  io.err(`error: run ${result.runId} is ${result.status}`);
  return 1;
}

/** Formats the status view as a table. */
export function formatStatus(v: StatusView): string {
  const lines = [`run ${v.runId}: ${v.status}${v.plan ? ` (plan ${v.plan})` : ""}`];
  // "reason", not "error": a denial the user asked for is an outcome, and the one `error:` line
  // a failed command prints belongs on stderr.
  if (v.error) lines.push(`reason: ${v.error}`);
  if (v.steps.length) {
    const w = Math.max(4, ...v.steps.map((s) => s.id.length));
    lines.push(`  ${"step".padEnd(w)}  ${"status".padEnd(16)} tries exit  command`);
    for (const s of v.steps) {
      lines.push(
        `  ${s.id.padEnd(w)}  ${s.status.padEnd(16)} ${String(s.attempts).padStart(5)} ${
          String(s.exitCode ?? "-").padStart(4)
        }  ${s.run.join(" ")}${s.approvedBy ? `  [approved by ${s.approvedBy}]` : ""}${
          s.note && s.status !== "succeeded" ? `  (${s.note})` : ""
        }`,
      );
    }
  }
  return lines.join("\n");
}

function auditCommand(app: OpsApp, flags: Flags, io: CliIo): number {
  if (flags.verify) {
    const report = app.audit.verify();
    if (flags.json) io.out(JSON.stringify(report, null, 2));
    if (report.ok) {
      if (!flags.json) io.out(`audit chain intact: ${report.entries} entries verified`);
      return 0;
    }
    io.err(
      `error: audit chain broken at entry ${report.firstBad!.seq}: ${report.firstBad!.reason}`,
    );
    return 1;
  }
  const runId = flags["run-id"];
  const entries = app.audit.list(runId);
  if (runId && entries.length === 0) {
    throw new OpsUsageError(`no audit entries for run ${runId}`);
  }
  if (flags.out && flags.json) {
    throw new OpsUsageError("--out writes JSON Lines; use it without --json");
  }
  if (flags.jsonl || flags.out) {
    const text = toJsonLines(entries);
    if (flags.out) {
      Deno.writeTextFileSync(flags.out, text);
      io.err(`wrote ${entries.length} entries to ${flags.out}`);
    } else io.out(text.trimEnd());
    return 0;
  }
  if (flags.json) {
    io.out(JSON.stringify(entries, null, 2));
    return 0;
  }
  for (const e of entries) {
    io.out(
      `${String(e.seq).padStart(4)} ${e.ts.slice(11, 23)} ${e.runId.padEnd(18)} ${
        e.kind.padEnd(18)
      } ${e.actor.padEnd(10)} ${(e.step ?? "").padEnd(12)} ${summarize(e)}`,
    );
  }
  return 0;
}

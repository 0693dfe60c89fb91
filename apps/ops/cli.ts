/**
 * The `loom-ops` command line. Human-readable output by default, `--json` for one JSON document
 * on stdout; exit codes 0 ok, 1 the run failed, 2 usage or input error. Errors end in one
 * sentence on stderr, never a stack trace.
 *
 * Each command is one entry of {@link COMMANDS} with one small handler; `main` parses the flags,
 * picks the handler, reports errors and writes the `--trace` file when the command ends.
 *
 * @module
 */
import { formatExplain, openStore, type RunResult } from "@loom/runner";
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
} from "./app.ts";
import { Allowlist } from "./allowlist.ts";
import { summarize, toJsonLines } from "./audit.ts";
import { AuditKeyError, auditKeyPath, loadAuditKey } from "./audit_key.ts";
import { verifyAudit, type VerifyReport } from "./audit_verify.ts";
import { dryRun } from "./dry_run.ts";
import {
  allowShellOf,
  type CliIo,
  consoleIo,
  dbPathOf,
  type Flags,
  need,
  osSandboxOf,
  parallelOf,
  parseCli,
  parseInputs,
  plannerOf,
  stateDirOf,
  userOf,
  workspaceOf,
} from "./flags.ts";
import { formatStatus } from "./format_status.ts";
import { OpsDbError, opsDbPath } from "./ops_db.ts";
import { MockPlanner } from "./planner.ts";
import { RunbookError } from "./runbook.ts";

const USAGE = `loom-ops — incident and deploy runbooks as durable runs

usage:
  loom-ops supervise "INCIDENT" --run-id ID [--mock-llm] [run options]
  loom-ops runbook FILE.yaml --run-id ID [--input k=v ...] [run options]
  loom-ops runbook FILE.yaml --dry-run [--input k=v ...]   each command with its sandbox
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
  --audit-key FILE   audit HMAC key (default $LOOM_OPS_AUDIT_KEY or ~/.config/loom-ops/audit.key;
                     created with mode 0600 on first use)
run options:
  --mock-llm         supervise: the deterministic planner; without it, the LLM configured by
                     LOOM_LLM_BASE_URL, LOOM_LLM_MODEL and LOOM_LLM_API_KEY (as for loom-run)
  --allow-shell      really run commands (also LOOM_OPS_ALLOW_SHELL=1), each inside the
                     bubblewrap OS sandbox; default: mock executor
  --no-os-sandbox    with --allow-shell: run commands without bubblewrap (recorded in the audit)
  --parallel N       steps run at the same time (default 4)
  --state-dir DIR    LOOM_OPS_STATE_DIR for commands (default: DB's directory/ops-state)
  --by NAME          who starts the run (default $USER)
  --trace FILE       write an xray HTML trace of the run
  --json             one JSON document on stdout`;

/** What a command's handler gets. */
interface CommandContext {
  /** Positional arguments after the command. */
  args: string[];
  /** The flags given. */
  flags: Flags;
  /** Where the command writes. */
  io: CliIo;
  /** The runner database (`--db`). */
  dbPath: string;
  /** Progress lines for humans (stderr); undefined with `--json`. */
  progress?: (line: string) => void;
  /** Opens the databases, creating them or refusing when missing; closed when the command ends. */
  open(create: boolean): OpsApp;
  /** With `--trace`: the run whose trace is written when the command ends (whatever its outcome). */
  trace(runId: string): void;
}

/** One `loom-ops` command. */
interface Command {
  /** Whether `--trace` goes with it. */
  traces?: boolean;
  /** Runs the command; returns the exit code. */
  run(c: CommandContext): Promise<number> | number;
}

/** The commands, by name; `serve` and `gateway` load their modules only when used. */
const COMMANDS: Record<string, Command> = {
  supervise: { traces: true, run: (c) => startCommand(c, "supervise") },
  runbook: { traces: true, run: (c) => startCommand(c, "runbook") },
  resume: { traces: true, run: resumeCommand },
  approve: { traces: true, run: (c) => decideCommand(c, "approve") },
  deny: { traces: true, run: (c) => decideCommand(c, "deny") },
  status: { run: statusCommand },
  explain: { run: explainCommand },
  audit: { run: auditCommand },
  memory: { run: memoryCommand },
  serve: {
    async run(c) {
      const { serve } = await import("./serve.ts");
      return await serve({ dbPath: c.dbPath, flags: c.flags, io: c.io });
    },
  },
  gateway: {
    async run(c) {
      if (c.args[0] !== "telegram") throw new OpsUsageError("usage: loom-ops gateway telegram");
      const { runTelegramGateway } = await import("./telegram.ts");
      return await runTelegramGateway({ dbPath: c.dbPath, flags: c.flags, io: c.io });
    },
  },
};

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CliIo = consoleIo): Promise<number> {
  let app: OpsApp | undefined;
  let traced: { runId: string; path: string } | undefined;
  try {
    const p = parseCli(argv);
    const { flags } = p;
    if (flags.help || p.command === "" || p.command === "help") {
      io.out(USAGE);
      return p.command === "" && !flags.help ? 2 : 0;
    }
    const command = Object.hasOwn(COMMANDS, p.command) ? COMMANDS[p.command] : undefined;
    if (flags.trace && !command?.traces) {
      throw new OpsUsageError("--trace goes with supervise, runbook, approve, deny or resume");
    }
    if (!command) throw new OpsUsageError(`unknown command ${p.command} (see loom-ops --help)`);
    const dbPath = dbPathOf(flags);
    const progress = flags.json ? undefined : (line: string) => io.err(line);
    return await command.run({
      args: p.args,
      flags,
      io,
      dbPath,
      progress,
      open: (create) =>
        app = openApp({
          dbPath,
          create,
          planner: p.command === "supervise"
            ? plannerOf(!!flags["mock-llm"], (line) => io.err(line))
            : new MockPlanner(),
          progress,
          auditKeyPath: flags["audit-key"],
        }),
      trace: (runId) => {
        if (flags.trace) traced = { runId, path: flags.trace };
      },
    });
  } catch (e) {
    return reportError(e, io);
  } finally {
    if (traced && app) await writeTrace(app, traced, io);
    app?.close();
  }
}

/** Prints an error as one sentence (a runbook's problems one per line); returns the exit code. */
function reportError(e: unknown, io: CliIo): number {
  const err = asUsage(e);
  if (err instanceof RunbookError) {
    io.err(`error: invalid runbook ${err.file}:`);
    for (const line of err.message.split("\n")) io.err(`  ${line}`);
    return 2;
  }
  if (err instanceof OpsUsageError || err instanceof OpsDbError || err instanceof AuditKeyError) {
    io.err(`error: ${err.message}`);
    return 2;
  }
  io.err(`error: ${(err as Error)?.message ?? String(err)}`);
  return 1;
}

/** Writes the `--trace` file of a run, when the run exists. */
async function writeTrace(
  app: OpsApp,
  traced: { runId: string; path: string },
  io: CliIo,
): Promise<void> {
  if (!await app.store.getRun(traced.runId)) return;
  const { writeRunTrace } = await import("./trace.ts");
  await writeRunTrace(app.store, traced.runId, traced.path).then(
    () => io.err(`trace written to ${traced.path}`),
    (e) => io.err(`error: cannot write the trace: ${(e as Error).message}`),
  );
}

/** `supervise "INCIDENT"` and `runbook FILE.yaml`: start a run. */
async function startCommand(c: CommandContext, mode: "runbook" | "supervise"): Promise<number> {
  const { args, flags, progress } = c;
  if (mode === "runbook" && !args[0]) {
    throw new OpsUsageError(
      "runbook needs the path of a YAML runbook: loom-ops runbook FILE.yaml --run-id ID",
    );
  }
  if (mode === "supervise" && !args.join(" ").trim()) {
    throw new OpsUsageError('supervise needs the incident text, e.g. "incident: API latency"');
  }
  if (flags["dry-run"]) {
    if (mode !== "runbook") throw new OpsUsageError("--dry-run goes with runbook");
    return await dryRun({ file: args[0], flags, dbPath: c.dbPath, io: c.io });
  }
  const runId = need(flags["run-id"], "run-id");
  const config = buildRunConfig({
    mode,
    file: args[0],
    inputs: parseInputs(flags.input),
    incident: args.join(" "),
    workspace: workspaceOf(flags),
    stateDir: stateDirOf(flags, c.dbPath),
    allowShell: allowShellOf(flags),
    osSandbox: osSandboxOf(flags),
    parallel: parallelOf(flags),
    startedBy: userOf(flags),
  });
  const app = c.open(true);
  await app.audit.ready(); // a wrong or unusable audit key is refused before anything starts
  // Refuse a runbook with commands outside the allowlist before saying anything else.
  if (config.plan) {
    await precheckPlan(app, runId, config.plan, Allowlist.fromPlain(config.allowlist));
  }
  progress?.(`${runId}: ${executorLine(config.allowShell, config.osSandbox)}`);
  c.trace(runId);
  const result = await startOpsRun(app, runId, config);
  return await report(app, result, flags, c.io);
}

/** The progress line naming the executor a run uses. */
function executorLine(allowShell: boolean, osSandbox: "bwrap" | "none" | undefined): string {
  if (!allowShell) return "mock executor (pass --allow-shell to run commands)";
  return osSandbox === "none"
    ? "shell executor (allowlisted) WITHOUT the OS sandbox (--no-os-sandbox, recorded in the audit)"
    : "shell executor (allowlisted, inside the bubblewrap OS sandbox)";
}

/** `resume`: continue a run after a crash (a finished run shows its stored outcome). */
async function resumeCommand(c: CommandContext): Promise<number> {
  const runId = need(c.flags["run-id"], "run-id");
  const app = c.open(false);
  c.trace(runId);
  const result = await resumeOpsRun(app, runId);
  if (result.stepsThisRun === 0 && (result.status === "completed" || result.status === "failed")) {
    c.progress?.(
      `run ${runId} had already ${
        result.status === "completed" ? "completed" : "failed"
      }; showing its stored outcome`,
    );
  }
  return await report(app, result, c.flags, c.io);
}

/** `approve` and `deny`: decide a gate and resume the run. */
async function decideCommand(c: CommandContext, decision: "approve" | "deny"): Promise<number> {
  const { flags } = c;
  const runId = need(flags["run-id"], "run-id");
  const step = need(flags.step, "step");
  const by = need(flags.by, "by");
  if (decision === "deny" && !flags.comment) {
    throw new OpsUsageError("deny needs --comment saying why");
  }
  const app = c.open(false);
  c.trace(runId);
  const result = await decide(app, {
    runId,
    step,
    by,
    decision,
    comment: flags.comment,
    via: "cli",
  });
  const denied = decision === "deny" && result.status === "failed" &&
    (result.error?.message ?? "").startsWith(`step ${step} was denied`);
  return await report(app, result, flags, c.io, denied);
}

/** `status`: the step table of a run. */
async function statusCommand(c: CommandContext): Promise<number> {
  const app = c.open(false);
  const view = await statusOf(app, need(c.flags["run-id"], "run-id"));
  if (c.flags.json) c.io.out(JSON.stringify(view, null, 2));
  else c.io.out(formatStatus(view));
  return 0;
}

/** `explain`: the runner's explanation of a run, with its sub-runs' ids. */
async function explainCommand(c: CommandContext): Promise<number> {
  const app = c.open(false);
  const e = await explainOps(app, need(c.flags["run-id"], "run-id"));
  if (c.flags.json) c.io.out(JSON.stringify(e, null, 2));
  else {
    c.io.out(formatExplain(e));
    const subs = flatten(e.children);
    if (subs.length) {
      c.io.out(`\nsub-runs (explain each with --run-id): ${subs.join(", ")}`);
    }
  }
  return 0;
}

/** `memory search TEXT`: similar past runs of the workspace. */
function memoryCommand(c: CommandContext): number {
  const { args, flags, io } = c;
  if (args[0] !== "search" || args.length < 2) {
    throw new OpsUsageError('usage: loom-ops memory search "TEXT"');
  }
  const app = c.open(false);
  const hits = app.memory.search(args.slice(1).join(" "));
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

/**
 * `audit --verify`: checks the chain, its key and its anchors in the runner database. Writes
 * nothing: the runner database must exist, the audit file is opened read-only (a missing one is
 * reported, not created), and the key is read, never created.
 */
async function verifyCommand(c: CommandContext): Promise<number> {
  const { flags, io } = c;
  let store;
  try {
    store = openStore(c.dbPath, { create: false });
  } catch (e) {
    throw new OpsUsageError(
      `no loom-ops database at ${c.dbPath} (pass --db): ${(e as Error).message}`,
    );
  }
  try {
    const keyPath = auditKeyPath(flags["audit-key"]);
    const report = await verifyAudit({
      opsPath: opsDbPath(c.dbPath),
      store,
      key: await loadAuditKey(keyPath, { create: false }),
      keyPath,
    });
    if (flags.json) io.out(JSON.stringify(report, null, 2));
    if (report.ok) {
      if (!flags.json) io.out(intactText(report));
      return 0;
    }
    io.err(
      report.firstBad
        ? `error: audit chain broken at entry ${report.firstBad.seq}: ${report.firstBad.reason}`
        : `error: audit trail not intact: ${report.problem}`,
    );
    return 1;
  } finally {
    store.close();
  }
}

/** What `audit --verify` prints for an intact trail: for a legacy one, what that proves and not. */
function intactText(report: VerifyReport): string {
  if (!report.legacy) {
    return `audit chain intact: ${report.entries} entries verified (HMAC-SHA256; ${report.anchored} anchored in the runner database; ${report.runs} runs checked)`;
  }
  const { format, proves, doesNotProve } = report.legacy;
  return [
    `audit chain intact: ${report.entries} entries verified as a legacy unkeyed chain (plain SHA-256, format ${format}, written before loom-ops keyed its audit trail; ${report.runs} runs checked)`,
    `  this proves ${proves}`,
    `  it does not prove ${doesNotProve}`,
    `  new entries cannot be appended to this trail: start a new database with --db for new runs`,
  ].join("\n");
}

/** The run ids of a tree of sub-runs, depth first. */
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

/**
 * Prints a run's status (and, when it waits, the commands that decide its gate); returns the
 * exit code its outcome means.
 */
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

/** `audit`: list, export (`--jsonl`, `--out`) or verify (`--verify`) the audit trail. */
async function auditCommand(c: CommandContext): Promise<number> {
  const { flags, io } = c;
  if (flags.verify) return await verifyCommand(c);
  const app = c.open(false);
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

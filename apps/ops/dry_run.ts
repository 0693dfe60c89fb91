/**
 * `loom-ops runbook FILE --dry-run`: reads, validates and binds the runbook, then shows each
 * command as `--allow-shell` would run it: whether the allowlist lets it start, the executable,
 * and its OS sandbox (what it may read, write and reach, and the bubblewrap command line with
 * `--json`). Runs nothing and writes nothing: no database, no state directory, no audit key.
 *
 * @module
 */
import { Allowlist } from "./allowlist.ts";
import { buildRunConfig, protectedFiles } from "./app.ts";
import { commandAccess } from "./agents/command.ts";
import type { RunConfig } from "./agents/state.ts";
import { auditKeyPath } from "./audit_key.ts";
import { type CommandPlan, ShellExecutor } from "./executor.ts";
import {
  type CliIo,
  type Flags,
  osSandboxOf,
  parallelOf,
  parseInputs,
  stateDirOf,
  userOf,
  workspaceOf,
} from "./flags.ts";
import type { PlanStep } from "./plan.ts";
import { checkBubblewrap, describePolicy, findBubblewrap } from "./sandbox.ts";

/** One command of the dry run. */
export interface DryRunCommand {
  /** Step id. */
  step: string;
  /** The step's own command, its `verify.run` check, or a rollback step's command. */
  purpose: "command" | "verify" | "rollback";
  /** The argv, inputs bound. */
  argv: string[];
  /** How it would run. */
  plan: CommandPlan;
}

/** Prints the dry run of a runbook; returns the exit code (2 when a command would be refused). */
export async function dryRun(
  o: { file: string; flags: Flags; dbPath: string; io: CliIo },
): Promise<number> {
  const { flags, io } = o;
  const config = buildRunConfig({
    mode: "runbook",
    file: o.file,
    inputs: parseInputs(flags.input),
    workspace: workspaceOf(flags),
    stateDir: stateDirOf(flags, o.dbPath, false),
    allowShell: false, // nothing runs; the sandbox shown is the one --allow-shell would use
    parallel: parallelOf(flags),
    startedBy: userOf(flags),
  });
  const osSandbox = osSandboxOf(flags);
  let problem: string | undefined;
  if (osSandbox === "bwrap") {
    try {
      checkBubblewrap();
    } catch (e) {
      problem = (e as Error).message;
    }
  }
  const executor = new ShellExecutor(
    Allowlist.fromPlain(config.allowlist),
    osSandbox === "bwrap"
      ? {
        osSandbox: {
          bwrap: findBubblewrap() ?? "bwrap",
          hidden: protectedFiles(o.dbPath, auditKeyPath(flags["audit-key"])),
        },
      }
      : {},
  );
  const commands = await planCommands(config, executor);
  const refused = commands.some((c) => !c.plan.decision.allowed || c.plan.refused) ||
    problem !== undefined;
  if (flags.json) {
    io.out(JSON.stringify(
      {
        runbook: config.plan!.name,
        source: config.plan!.source,
        osSandbox: { kind: osSandbox, problem },
        commands,
      },
      null,
      2,
    ));
  } else {
    io.out(formatDryRun(config, osSandbox, problem, commands));
  }
  return refused ? 2 : 0;
}

/** Works out how every command of the plan (steps, checks, rollback) would run. */
async function planCommands(
  config: RunConfig,
  executor: ShellExecutor,
): Promise<DryRunCommand[]> {
  const plan = config.plan!;
  const items: { step: PlanStep; purpose: DryRunCommand["purpose"]; argv: string[] }[] = [];
  for (const step of plan.steps) {
    items.push({ step, purpose: "command", argv: step.run });
    if (step.verify?.run) items.push({ step, purpose: "verify", argv: step.verify.run });
  }
  for (const step of plan.rollback) {
    items.push({ step, purpose: "rollback", argv: step.run });
    if (step.verify?.run) items.push({ step, purpose: "verify", argv: step.verify.run });
  }
  const out: DryRunCommand[] = [];
  for (const { step, purpose, argv } of items) {
    const planned = await executor.plan({
      argv,
      timeoutMs: step.timeoutMs,
      cwd: config.workspace,
      access: commandAccess(config, step),
    }, { notYet: [config.stateDir] });
    out.push({ step: step.id, purpose, argv, plan: planned });
  }
  return out;
}

/** The human form of a dry run. */
function formatDryRun(
  config: RunConfig,
  osSandbox: "bwrap" | "none",
  problem: string | undefined,
  commands: DryRunCommand[],
): string {
  const plan = config.plan!;
  const lines = [
    `runbook ${plan.name} (${plan.source}): dry run, nothing is run`,
    osSandbox === "none"
      ? "with --allow-shell --no-os-sandbox, each command would run WITHOUT the OS sandbox:"
      : problem
      ? `with --allow-shell every command would be refused: ${problem}`
      : "with --allow-shell, each command would run inside bubblewrap:",
  ];
  for (const c of commands) {
    const label = c.purpose === "command" ? c.step : `${c.step} (${c.purpose})`;
    lines.push(`  ${label}: ${c.argv.join(" ")}`);
    const p = c.plan;
    if (!p.decision.allowed) {
      lines.push(`    REFUSED by loom-ops: ${p.decision.reason}`);
      continue;
    }
    if (p.refused) {
      lines.push(`    REFUSED by ${p.refused.by}: ${p.refused.reason}`);
      continue;
    }
    lines.push(`    runs      ${p.executable}`);
    for (const line of p.policy ? describePolicy(p.policy) : ["no OS sandbox"]) {
      lines.push(`    ${line}`);
    }
  }
  if (osSandbox === "bwrap") {
    lines.push("(--json shows each command's full bubblewrap command line)");
  }
  return lines.join("\n");
}

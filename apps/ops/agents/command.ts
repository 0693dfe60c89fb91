/**
 * One command of a plan step as a durable, idempotent tool call: the allowlist is checked, the
 * command runs on the run's executor, and audit entries and progress lines record it before and
 * after. A command whose result was recorded is never run again; one that was running when the
 * process died runs once more with the same idempotency key.
 *
 * @module
 */
import type { StepContext } from "@loom/runner";
import { Allowlist } from "../allowlist.ts";
import type { AuditLog } from "../audit.ts";
import {
  type CommandAccess,
  type CommandExecutor,
  type ExecResult,
  MockExecutor,
  ShellExecutor,
  UnavailableExecutor,
} from "../executor.ts";
import { checkBubblewrap } from "../sandbox.ts";
import type { PlanStep } from "../plan.ts";
import type { RunConfig } from "./state.ts";
import { NO_RETRY } from "./_util.ts";

/** Why a command runs: the step's own command, or the check in its `verify.run`. */
export type CommandPurpose = "command" | "verify";

/**
 * Runs `argv` for attempt `attempt` of `step` inside the run `ctx` (whose supervisor is `root`),
 * and returns its result with the output shortened for run state.
 */
export type CommandRunner = (
  ctx: StepContext,
  root: string,
  config: RunConfig,
  step: PlanStep,
  attempt: number,
  argv: string[],
  purpose: CommandPurpose,
) => Promise<ExecResult>;

/** What {@link createCommandRunner} needs. */
export interface CommandRunnerDeps {
  /** The audit trail, which records each command before and after it runs. */
  audit: AuditLog;
  /** Progress lines for humans. */
  progress: (line: string) => void;
  /** Builds the executor for a run (default: shell or mock, from the run's config). */
  executorFor?: (config: RunConfig) => CommandExecutor;
  /** Files no command may see (the Loom databases, the audit key), hidden by the OS sandbox. */
  hidden?: string[];
}

/** Output kept in run state per stream; the full output is hashed and summarized in the audit. */
const KEPT_OUTPUT = 4096;

/**
 * The executor a run's config asks for: the mock one, or the shell one inside the bubblewrap OS
 * sandbox unless the run was started with `--no-os-sandbox`. Without a working bubblewrap every
 * command is refused (fail closed), also when a run started elsewhere is resumed here.
 */
function defaultExecutor(config: RunConfig, hidden: string[]): CommandExecutor {
  const allowlist = Allowlist.fromPlain(config.allowlist);
  if (!config.allowShell) return new MockExecutor(allowlist);
  if (config.osSandbox === "none") return new ShellExecutor(allowlist);
  let bwrap: string;
  try {
    bwrap = checkBubblewrap();
  } catch (e) {
    return new UnavailableExecutor(allowlist, (e as Error).message);
  }
  return new ShellExecutor(allowlist, { osSandbox: { bwrap, hidden } });
}

/** What the OS sandbox lets a step's command write and reach. */
export function commandAccess(config: RunConfig, step: PlanStep): CommandAccess {
  const writes = (step.writes ?? []).map((p) => p.startsWith("/") ? p : `${config.workspace}/${p}`);
  return { writable: [config.stateDir, ...writes], network: step.network === true };
}

function shorten(res: ExecResult): ExecResult {
  return {
    ...res,
    stdout: res.stdout.slice(0, KEPT_OUTPUT),
    stderr: res.stderr.slice(0, KEPT_OUTPUT),
  };
}

/**
 * Creates the command runner the executor and verifier agents share; executors are built once
 * per distinct shell setting and allowlist and reused by every run of the process.
 */
export function createCommandRunner(deps: CommandRunnerDeps): CommandRunner {
  const executorFor = deps.executorFor ??
    ((config: RunConfig) => defaultExecutor(config, deps.hidden ?? []));
  const executors = new Map<string, CommandExecutor>();
  const executorOf = (config: RunConfig): CommandExecutor => {
    const k = JSON.stringify([config.allowShell, config.osSandbox, config.allowlist]);
    let ex = executors.get(k);
    if (!ex) executors.set(k, ex = executorFor(config));
    return ex;
  };
  return async (ctx, root, config, step, attempt, argv, purpose) => {
    const key = `${purpose}:${step.id}#${attempt}`;
    return await ctx.callTool(
      purpose,
      { step: step.id, attempt, argv },
      async (_args, info) => {
        const command = { ctx, root, config, step, attempt, argv, purpose, info };
        const executor = executorOf(config);
        const allowed = await announce(deps, command, executor);
        const res = await execute(command, executor);
        await record(deps, command, res, allowed);
        return shorten(res);
      },
      { key, retry: NO_RETRY },
    );
  };
}

/** One command being run: the arguments of a {@link CommandRunner} call and its tool call. */
interface Command {
  ctx: StepContext;
  root: string;
  config: RunConfig;
  step: PlanStep;
  attempt: number;
  argv: string[];
  purpose: CommandPurpose;
  /** The tool call's idempotency key, and whether an earlier process may have run it. */
  info: { key: string; maybeRanBefore: boolean };
}

/**
 * Checks the allowlist and writes `command.started`, or `command.refused` when loom-ops refuses
 * it (the executor then refuses it too); returns whether loom-ops allowed it.
 */
async function announce(
  deps: CommandRunnerDeps,
  c: Command,
  executor: CommandExecutor,
): Promise<boolean> {
  const { step, argv, attempt, purpose } = c;
  const decision = Allowlist.fromPlain(c.config.allowlist).check(argv);
  if (!decision.allowed) {
    await deps.audit.append({
      runId: c.ctx.runId,
      kind: "command.refused",
      actor: "loom-ops",
      step: step.id,
      data: { argv, attempt, by: "loom-ops", reason: decision.reason, purpose },
    });
    deps.progress(`  ✗ ${step.id}: refused: ${decision.reason}`);
    return false;
  }
  await deps.audit.append({
    runId: c.ctx.runId,
    kind: "command.started",
    actor: "loom-ops",
    step: step.id,
    data: {
      argv,
      attempt,
      purpose,
      executor: executor.kind,
      sandbox: sandboxOf(c, executor),
      key: c.info.key,
      maybeRanBefore: c.info.maybeRanBefore,
    },
  });
  deps.progress(`  ▶ ${step.id}: ${argv.join(" ")}${purpose === "verify" ? " (verify)" : ""}`);
  return true;
}

/** The OS sandbox a command runs in, for its audit entry (none for the mock executor). */
function sandboxOf(c: Command, executor: CommandExecutor): Record<string, unknown> | undefined {
  if (executor.kind !== "shell") return undefined;
  if (c.config.osSandbox === "none") return { os: "none" };
  return { os: "bubblewrap", ...commandAccess(c.config, c.step) };
}

/** Runs the command in the workspace with the `LOOM_OPS_*` environment. */
async function execute(c: Command, executor: CommandExecutor): Promise<ExecResult> {
  return await executor.run({
    argv: c.argv,
    timeoutMs: c.step.timeoutMs,
    cwd: c.config.workspace,
    access: commandAccess(c.config, c.step),
    env: {
      LOOM_OPS_RUN_ID: c.root,
      LOOM_OPS_STEP: c.step.id,
      LOOM_OPS_ATTEMPT: String(c.attempt),
      LOOM_OPS_IDEMPOTENCY_KEY: c.info.key,
      LOOM_OPS_STATE_DIR: c.config.stateDir,
    },
  });
}

/**
 * Writes `command.finished`, or `command.refused` for a refusal loom-ops did not already record
 * (one by the executor's own layer, or of a command loom-ops allowed).
 */
async function record(
  deps: CommandRunnerDeps,
  c: Command,
  res: ExecResult,
  allowed: boolean,
): Promise<void> {
  const { step, argv, attempt, purpose } = c;
  if (res.refused) {
    if (res.refused.by !== "loom-ops" || allowed) {
      await deps.audit.append({
        runId: c.ctx.runId,
        kind: "command.refused",
        actor: "loom-ops",
        step: step.id,
        data: { argv, attempt, by: res.refused.by, reason: res.refused.reason, purpose },
      });
      deps.progress(`  ✗ ${step.id}: refused by ${res.refused.by}: ${res.refused.reason}`);
    }
    return;
  }
  await deps.audit.append({
    runId: c.ctx.runId,
    kind: "command.finished",
    actor: "loom-ops",
    step: step.id,
    data: {
      argv,
      attempt,
      purpose,
      executor: res.executor,
      exitCode: res.exitCode,
      timedOut: res.timedOut,
      durationMs: res.durationMs,
      outputHash: res.outputHash,
      outputBytes: res.stdout.length + res.stderr.length,
      truncated: res.truncated,
    },
  });
  deps.progress(
    `  ${res.exitCode === 0 ? "✓" : "✗"} ${step.id}: exit ${res.exitCode ?? "-"}${
      res.timedOut ? " (timed out)" : ""
    } in ${res.durationMs} ms`,
  );
}

/**
 * What the loom-ops agents checkpoint: the run configuration and the state of each agent. Every
 * shape here is plain JSON, stored by `@loom/runner` at each transition and read back by
 * whichever process resumes the run, so a change here is a change of the stored format.
 *
 * @module
 */
import type { ExecResult } from "../executor.ts";
import type { Plan, PlanStep } from "../plan.ts";

/** Everything about a run that must be the same when another process resumes it. */
export interface RunConfig {
  /** `supervise` (plan from an incident) or `runbook` (plan from a file). */
  mode: "supervise" | "runbook";
  /** The incident text (supervise). */
  incident?: string;
  /** The plan, inputs already bound (runbook). */
  plan?: Plan;
  /** Workspace directory (commands run there; playbooks are read from its `runbooks/`). */
  workspace: string;
  /** Directory handed to commands as `LOOM_OPS_STATE_DIR`. */
  stateDir: string;
  /** Whether commands really run (shell executor) or are only reported (mock executor). */
  allowShell: boolean;
  /**
   * The OS sandbox of real commands: `bwrap` (bubblewrap; also when absent, in runs stored
   * before it existed) or `none` (`--no-os-sandbox`, recorded in the audit).
   */
  osSandbox?: "bwrap" | "none";
  /** The effective allowlist, as plain JSON. */
  allowlist: { allow: string[][]; path: string[]; ceiling?: unknown };
  /** How many steps may run at the same time. */
  parallel: number;
  /** Who started the run. */
  startedBy: string;
}

/** Status of one plan step. */
export type StepPhase =
  | "pending"
  | "succeeded"
  | "failed"
  | "denied"
  | "refused"
  | "skipped";

/** What the supervisor knows about a step. */
export interface StepStatus {
  /** Where the step is: pending until it succeeds or ends otherwise. */
  phase: StepPhase;
  /** Attempts made so far. */
  attempts: number;
  /** Set once the gate was passed: who approved. */
  approvedBy?: string;
  /** Last exit code. */
  exitCode?: number | null;
  /** Why it failed, was denied, refused or skipped. */
  reason?: string;
}

/** A command result as kept in run state (output shortened). */
export interface StepResult {
  /** Step id. */
  step: string;
  /** Attempt number (from 1). */
  attempt: number;
  /** The command's result. */
  exec: ExecResult;
}

/** The verifier's answer for one result. */
export interface Verdict {
  /** Step id. */
  step: string;
  /** Attempt number of the result judged (from 1). */
  attempt: number;
  /** `ok`, `retry` (send the step back) or `fail` (its `on_failure` decides). */
  verdict: "ok" | "retry" | "fail";
  /** Why, when not ok. */
  reason?: string;
  /** Whether the command was refused (never retried). */
  refused?: boolean;
}

/** The supervisor's state. */
export interface SupervisorState {
  /** The run's configuration, as started. */
  config: RunConfig;
  /** Where the supervisor is. */
  phase: "plan" | "execute" | "rollback" | "finish";
  /** The plan, once made. */
  plan?: Plan;
  /** Step table. */
  steps: Record<string, StepStatus>;
  /** Execution rounds started so far. */
  round: number;
  /** The failure that ended normal execution. */
  failure?: { step: string; reason: string };
  /** Outcome of the rollback, when one ran. */
  rollback?: { ok: boolean; detail: string };
}

/** What a successful run returns. */
export interface OpsOutcome {
  /** The plan's name. */
  plan: string;
  /** Final step table. */
  steps: Record<string, StepStatus>;
  /** Steps that failed but were allowed to (`on_failure: continue`). */
  tolerated: string[];
}

/** State (and input) of the planner sub-run. */
export interface PlannerState {
  /** The run's configuration (its runbook plan, or its incident). */
  config: RunConfig;
  /** The supervisor's run id. */
  root: string;
}

/** State (and input) of an executor sub-run. */
export interface ExecutorState {
  /** The supervisor's run id. */
  root: string;
  /** The run's configuration (`parallel` bounds each batch). */
  config: RunConfig;
  /** Steps to run with their attempt numbers. */
  items: { step: PlanStep; attempt: number }[];
  /** Index of the next item. */
  next: number;
  /** Results so far. */
  results: StepResult[];
}

/** State (and input) of a verifier sub-run. */
export interface VerifierState {
  /** The supervisor's run id. */
  root: string;
  /** The run's configuration (the executor a `verify.run` command uses). */
  config: RunConfig;
  /** The steps, by id. */
  steps: Record<string, PlanStep>;
  /** The results to check. */
  results: StepResult[];
  /** Index of the next result. */
  next: number;
  /** Verdicts so far. */
  verdicts: Verdict[];
}

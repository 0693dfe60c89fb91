/**
 * The durable agents behind `supervise` and `runbook`, all run by `@loom/runner`, one module
 * each under `agents/`:
 *
 * - the supervisor (`<id>`, {@link createSupervisorAgent}) owns the plan's step table; each of
 *   its transitions is one planning call, one approval wait, or one execution round;
 * - the planner (`<id>:planner`, {@link createPlannerAgent}) produces the plan (from the
 *   incident, or the runbook file);
 * - an executor (`<id>:executor`, later rounds `<id>:executor.2`, …, {@link createExecutorAgent})
 *   runs the round's ready steps, at most `parallel` at a time, each command an idempotent tool
 *   call ({@link createCommandRunner});
 * - a verifier (`<id>:verifier`, `<id>:verifier.2`, …, {@link createVerifierAgent}) checks each
 *   result, one per transition, and answers ok, retry (the step is sent back) or fail (its
 *   `on_failure` decides what happens).
 *
 * Approval gates are runner signals (`approval:<step>`): the run is checkpointed as `waiting`, the
 * process may exit, and `approve`/`deny` sends the signal and resumes the run.
 *
 * @module
 */
import type { AuditLog } from "./audit.ts";
import type { CommandExecutor } from "./executor.ts";
import type { Memory } from "./memory.ts";
import type { Planner } from "./planner.ts";
import { createCommandRunner } from "./agents/command.ts";
import { createExecutorAgent, type ExecutorAgent } from "./agents/executor.ts";
import { createPlannerAgent, type PlannerAgent } from "./agents/planner.ts";
import type { RunConfig } from "./agents/state.ts";
import { createSupervisorAgent, type SupervisorAgent } from "./agents/supervisor.ts";
import { createVerifierAgent, type VerifierAgent } from "./agents/verifier.ts";

export type {
  ExecutorState,
  OpsOutcome,
  PlannerState,
  RunConfig,
  StepPhase,
  StepResult,
  StepStatus,
  SupervisorState,
  Verdict,
  VerifierState,
} from "./agents/state.ts";
export { type ApprovalDecision, approvalSignal, mayApprove } from "./agents/approval.ts";
export { loadPlaybooks } from "./agents/planner.ts";
export { roundRunId } from "./agents/supervisor.ts";
export {
  createCommandRunner,
  createExecutorAgent,
  createPlannerAgent,
  createSupervisorAgent,
  createVerifierAgent,
};

/** Services the agents use; supplied by the CLI, server or tests. */
export interface OpsDeps {
  /** The audit trail. */
  audit: AuditLog;
  /** Workspace memory. */
  memory: Memory;
  /** The planner behind `supervise`. */
  planner: Planner;
  /** Progress lines for humans (stderr); omitted in `--json` mode. */
  progress?: (line: string) => void;
  /** Builds the executor for a run (default: shell or mock, from the run's config). */
  executorFor?: (config: RunConfig) => CommandExecutor;
  /** Files no command may see (the Loom databases, the audit key), hidden by the OS sandbox. */
  hidden?: string[];
}

/** The four agents, bound to their services. */
export interface OpsAgents {
  /** Top-level agent of every loom-ops run. */
  supervisor: SupervisorAgent;
  /** `<id>:planner`. */
  planner: PlannerAgent;
  /** `<id>:executor[.n]`. */
  executor: ExecutorAgent;
  /** `<id>:verifier[.n]`. */
  verifier: VerifierAgent;
}

/** Creates the agents. Call once per process; all runs of the process share them. */
export function createOpsAgents(deps: OpsDeps): OpsAgents {
  const { audit, memory } = deps;
  const progress = deps.progress ?? (() => {});
  const runCommand = createCommandRunner({
    audit,
    progress,
    executorFor: deps.executorFor,
    hidden: deps.hidden,
  });
  const planner = createPlannerAgent({ audit, memory, planner: deps.planner });
  const executor = createExecutorAgent({ runCommand });
  const verifier = createVerifierAgent({ audit, progress, runCommand });
  const supervisor = createSupervisorAgent({
    audit,
    memory,
    progress,
    planner,
    executor,
    verifier,
  });
  return { supervisor, planner, executor, verifier };
}

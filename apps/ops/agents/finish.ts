/**
 * The supervisor's last phase: marks the steps that never ran as skipped, leaves a note in
 * workspace memory, writes the run's end to the audit trail, and returns the outcome (or throws
 * the failure as a business error).
 *
 * @module
 */
import { LoomError, type StepContext } from "@loom/runner";
import type { AuditLog } from "../audit.ts";
import type { Memory } from "../memory.ts";
import type { OpsOutcome, SupervisorState } from "./state.ts";

/** What {@link finish} needs. */
export interface FinishDeps {
  /** The audit trail, which records the run's end. */
  audit: AuditLog;
  /** Workspace memory, which gets one note per finished run. */
  memory: Memory;
}

/** Ends the run: the outcome of a run that succeeded; throws for one that failed. */
export async function finish(
  ctx: StepContext,
  state: SupervisorState,
  deps: FinishDeps,
): Promise<OpsOutcome> {
  const root = ctx.runId;
  const plan = state.plan!;
  // Steps that never got to run because the run stopped early.
  const steps = structuredClone(state.steps);
  for (const [id, s] of Object.entries(steps)) {
    if (s.phase === "pending") {
      steps[id] = { ...s, phase: "skipped", reason: s.reason ?? "the run stopped before it" };
    }
  }
  state = { ...state, steps };
  const actions = plan.steps
    .filter((s) => state.steps[s.id]?.phase === "succeeded")
    .map((s) => s.run.join(" "));
  const outcome = state.failure
    ? `failed at ${state.failure.step}: ${state.failure.reason}${
      state.rollback ? `; ${state.rollback.detail}` : ""
    }`
    : "succeeded";
  deps.memory.note({
    runId: root,
    incident: state.config.incident ?? `runbook ${plan.name}`,
    actions: [`playbook: ${plan.name}`, ...actions].join("; "),
    outcome,
  });
  await deps.audit.append({
    runId: root,
    kind: state.failure ? "run.failed" : "run.completed",
    actor: "loom-ops",
    data: { outcome, steps: state.steps },
    once: `${root}:end`,
  });
  if (state.failure) {
    throw new LoomError(
      `step ${state.failure.step} ${
        state.steps[state.failure.step]?.phase === "denied" ? "was" : "failed:"
      } ${state.failure.reason}${state.rollback ? `; ${state.rollback.detail}` : ""}`,
      { category: "business" },
    );
  }
  return {
    plan: plan.name,
    steps: state.steps,
    tolerated: Object.keys(state.steps).filter((id) => state.steps[id].phase === "failed"),
  };
}

/**
 * Approval gates. A gated step waits for a runner signal (`approval:<step>`): the run is
 * checkpointed as `waiting`, the process may exit, and `approve`/`deny` sends the signal and
 * resumes the run.
 *
 * @module
 */
import { LoomError, recur, type StepContext, type TailCall } from "@loom/runner";
import type { AuditLog } from "../audit.ts";
import type { PlanStep } from "../plan.ts";
import type { SupervisorState } from "./state.ts";

/** A decision sent as the payload of an `approval:<step>` signal. */
export interface ApprovalDecision {
  /** `approve` or `deny`. */
  decision: "approve" | "deny";
  /** Who decided. */
  by: string;
  /** Optional comment. */
  comment?: string;
  /** Where it came from (`cli`, `http`, `telegram`). */
  via: string;
  /** ISO time of the decision. */
  at: string;
}

/** Signal name of a step's approval gate. */
export function approvalSignal(step: string): string {
  return `approval:${step}`;
}

/** Whether `user` may decide a gate naming `allowed` (`*` allows anyone). */
export function mayApprove(allowed: string[], user: string): boolean {
  return allowed.includes("*") || allowed.includes(user);
}

/**
 * The supervisor's approval wait for `step`: records the request, waits for a valid decision
 * and returns the next supervisor state (approved: execute again; denied: finish as failed).
 */
export async function awaitApproval(
  ctx: StepContext,
  state: SupervisorState,
  step: PlanStep,
  audit: AuditLog,
): Promise<TailCall<[SupervisorState]>> {
  const root = ctx.runId;
  const gate = step.approve!;
  await audit.append({
    runId: root,
    kind: "approval.requested",
    actor: "loom-ops",
    step: step.id,
    data: { approvers: gate.by, reason: gate.reason, argv: step.run },
    once: `${root}:approval.requested:${step.id}`,
  });
  const decision = await ctx.waitForSignal<ApprovalDecision>(approvalSignal(step.id), {
    // Second line of defence: the CLI refuses first, but a signal from any other path is
    // checked here too and rejected (the run keeps waiting).
    validate: (data) => {
      const d = data as ApprovalDecision;
      if (!d || (d.decision !== "approve" && d.decision !== "deny") || typeof d.by !== "string") {
        throw new Error("an approval needs a decision and an approver");
      }
      if (!mayApprove(gate.by, d.by)) {
        throw new Error(`${d.by} may not decide step ${step.id}`);
      }
      return d;
    },
  });
  if (!decision || "timedOut" in decision) {
    throw new LoomError(`approval of step ${step.id} timed out`, { category: "business" });
  }
  const steps = structuredClone(state.steps);
  if (decision.decision === "approve") {
    steps[step.id] = { ...steps[step.id], approvedBy: decision.by };
    return recur({ ...state, steps });
  }
  steps[step.id] = {
    ...steps[step.id],
    phase: "denied",
    reason: `denied by ${decision.by}${decision.comment ? `: ${decision.comment}` : ""}`,
  };
  return recur({
    ...state,
    steps,
    phase: "finish" as const,
    failure: { step: step.id, reason: steps[step.id].reason! },
  });
}

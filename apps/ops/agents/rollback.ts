/**
 * The supervisor's rollback phase: after a step failed with `on_failure: rollback`, the plan's
 * `rollback` steps run one at a time, in the order written (`<id>:rollback`), each checked once
 * (`<id>:rollback-verifier`).
 *
 * @module
 */
import { recur, type StepContext, type TailCall } from "@loom/runner";
import type { AuditLog } from "../audit.ts";
import type { ExecutorAgent } from "./executor.ts";
import type { SupervisorState } from "./state.ts";
import type { VerifierAgent } from "./verifier.ts";

/** What {@link rollback} needs. */
export interface RollbackDeps {
  /** The audit trail, which records the rollback's start. */
  audit: AuditLog;
  /** Progress lines for humans. */
  progress: (line: string) => void;
  /** Runs the rollback steps (`<id>:rollback`). */
  executor: ExecutorAgent;
  /** Checks them (`<id>:rollback-verifier`). */
  verifier: VerifierAgent;
}

/** Runs the rollback steps and returns the supervisor's next state (always `finish`). */
export async function rollback(
  ctx: StepContext,
  state: SupervisorState,
  deps: RollbackDeps,
): Promise<TailCall<[SupervisorState]>> {
  const root = ctx.runId;
  const plan = state.plan!;
  await deps.audit.append({
    runId: root,
    kind: "rollback.started",
    actor: "loom-ops",
    step: state.failure?.step,
    data: { steps: plan.rollback.map((s) => s.id), after: state.failure },
    once: `${root}:rollback.started`,
  });
  deps.progress(`rolling back: ${plan.rollback.map((s) => s.id).join(", ")}`);
  // Rollback steps run one at a time, in the order written.
  const results = await ctx.child(deps.executor, {
    runId: `${root}:rollback`,
    input: {
      root,
      config: { ...state.config, parallel: 1 },
      items: plan.rollback.map((step) => ({ step, attempt: 1 })),
      next: 0,
      results: [],
    },
  });
  const verdicts = await ctx.child(deps.verifier, {
    runId: `${root}:rollback-verifier`,
    input: {
      root,
      config: state.config,
      steps: Object.fromEntries(
        plan.rollback.map((s) => [s.id, { ...s, retry: { attempts: 1, delayMs: 0 } }]),
      ),
      results,
      next: 0,
      verdicts: [],
    },
  });
  const bad = verdicts.filter((v) => v.verdict !== "ok");
  const detail = bad.length
    ? `rollback step ${bad[0].step} failed: ${bad[0].reason}`
    : `rolled back (${verdicts.map((v) => v.step).join(", ")})`;
  return recur({
    ...state,
    phase: "finish" as const,
    rollback: { ok: bad.length === 0, detail },
  });
}

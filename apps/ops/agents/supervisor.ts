/**
 * The supervisor agent (`<id>`): the top-level agent of every loom-ops run. It owns the plan's
 * step table; each of its transitions is one planning call, one approval wait, one execution
 * round (an executor sub-run, then a verifier sub-run), the rollback, or the finish.
 *
 * @module
 */
import { type Agent, defineAgent, recur, type StepContext } from "@loom/runner";
import type { AuditLog } from "../audit.ts";
import type { Memory } from "../memory.ts";
import { type Plan, type PlanStep, readySteps } from "../plan.ts";
import { awaitApproval } from "./approval.ts";
import type { ExecutorAgent } from "./executor.ts";
import { finish } from "./finish.ts";
import type { PlannerAgent } from "./planner.ts";
import { rollback } from "./rollback.ts";
import type {
  OpsOutcome,
  RunConfig,
  StepResult,
  StepStatus,
  SupervisorState,
  Verdict,
} from "./state.ts";
import type { VerifierAgent } from "./verifier.ts";
import { NO_RETRY } from "./_util.ts";

/** The supervisor agent: started with the run's config, it returns the run's outcome. */
export type SupervisorAgent = Agent<SupervisorState, OpsOutcome, RunConfig>;

/** What {@link createSupervisorAgent} needs: its services and the sub-agents it runs. */
export interface SupervisorDeps {
  /** The audit trail, which records failures, retries, approvals, rollback and the end. */
  audit: AuditLog;
  /** Workspace memory, which gets one note per finished run. */
  memory: Memory;
  /** Progress lines for humans. */
  progress: (line: string) => void;
  /** Makes the plan (`<id>:planner`). */
  planner: PlannerAgent;
  /** Runs each round's steps (`<id>:executor[.n]`) and the rollback. */
  executor: ExecutorAgent;
  /** Checks each round's results (`<id>:verifier[.n]`) and the rollback's. */
  verifier: VerifierAgent;
}

/** Sub-run id of a round's executor or verifier: the first round has the plain name. */
export function roundRunId(root: string, role: "executor" | "verifier", round: number): string {
  return round === 1 ? `${root}:${role}` : `${root}:${role}.${round}`;
}

/** Creates the supervisor agent (`ops-supervisor`). */
export function createSupervisorAgent(deps: SupervisorDeps): SupervisorAgent {
  return defineAgent<SupervisorState, OpsOutcome, RunConfig>({
    name: "ops-supervisor",
    retry: NO_RETRY,
    initialState: (config) => ({ config, phase: "plan", steps: {}, round: 0 }),
    async step(state, ctx) {
      switch (state.phase) {
        case "plan":
          return await makePlan(ctx, state, deps);
        case "execute":
          return await executeRound(ctx, state, deps);
        case "rollback":
          return await rollback(ctx, state, deps);
        case "finish":
          return await finish(ctx, state, deps);
      }
    },
  });
}

/** The plan phase: runs the planner sub-run and sets up the step table. */
async function makePlan(ctx: StepContext, state: SupervisorState, deps: SupervisorDeps) {
  const root = ctx.runId;
  const plan = await ctx.child(deps.planner, {
    runId: `${root}:planner`,
    input: { config: state.config, root },
  });
  deps.progress(`plan "${plan.name}": ${plan.steps.map((s) => s.id).join(", ")}`);
  const steps: Record<string, StepStatus> = {};
  for (const s of plan.steps) steps[s.id] = { phase: "pending", attempts: 0 };
  return recur({ ...state, phase: "execute" as const, plan, steps });
}

/**
 * The execute phase: one round of the ready steps (executor, then verifier), or the approval wait
 * of the next gated step, or the finish when nothing can run any more.
 */
async function executeRound(ctx: StepContext, state: SupervisorState, deps: SupervisorDeps) {
  const root = ctx.runId;
  const plan = state.plan!;
  const steps = structuredClone(state.steps);
  const done = new Set(Object.keys(steps).filter((id) => steps[id].phase === "succeeded"));
  const started = new Set(Object.keys(steps).filter((id) => steps[id].phase !== "pending"));
  const ready = readySteps(plan, done, started);
  const runnable = ready.filter((s) => !s.approve || steps[s.id].approvedBy);
  if (runnable.length === 0) {
    const gated = ready.find((s) => s.approve && !steps[s.id].approvedBy);
    if (!gated) {
      // Nothing can run: whatever is still pending depends on a step that did not succeed.
      for (const [id, s] of Object.entries(steps)) {
        if (s.phase === "pending") {
          steps[id] = { ...s, phase: "skipped", reason: "a step it needs did not succeed" };
        }
      }
      return recur({ ...state, steps, phase: "finish" as const });
    }
    return await awaitApproval(ctx, state, gated, deps.audit);
  }
  const round = state.round + 1;
  const items = runnable.map((step) => ({ step, attempt: steps[step.id].attempts + 1 }));
  const results = await ctx.child(deps.executor, {
    runId: roundRunId(root, "executor", round),
    input: { root, config: state.config, items, next: 0, results: [] },
  });
  const verdicts = await ctx.child(deps.verifier, {
    runId: roundRunId(root, "verifier", round),
    input: {
      root,
      config: state.config,
      steps: Object.fromEntries(runnable.map((s) => [s.id, s])),
      results,
      next: 0,
      verdicts: [],
    },
  });
  const { failure, phase } = await applyVerdicts(root, plan, steps, results, verdicts, deps.audit);
  return recur({ ...state, steps, round, failure, phase });
}

/**
 * Updates the step table (`steps`, in place) from a round's verdicts, audits failures and
 * retries, and works out where the supervisor goes next: on, or to the rollback or finish that
 * the first failure's `on_failure` asks for.
 */
async function applyVerdicts(
  root: string,
  plan: Plan,
  steps: Record<string, StepStatus>,
  results: StepResult[],
  verdicts: Verdict[],
  audit: AuditLog,
): Promise<Pick<SupervisorState, "failure" | "phase">> {
  let failure: SupervisorState["failure"];
  let phase: SupervisorState["phase"] = "execute";
  for (const v of verdicts) {
    const step: PlanStep = plan.steps.find((s) => s.id === v.step)!;
    const res = results.find((r) => r.step === v.step)!;
    const prev = steps[v.step];
    const base = { ...prev, attempts: v.attempt, exitCode: res.exec.exitCode };
    if (v.verdict === "ok") steps[v.step] = { ...base, phase: "succeeded", reason: undefined };
    else if (v.verdict === "retry") {
      steps[v.step] = { ...base, phase: "pending", reason: v.reason };
    } else {
      steps[v.step] = { ...base, phase: v.refused ? "refused" : "failed", reason: v.reason };
      await audit.append({
        runId: root,
        kind: "step.failed",
        actor: "loom-ops",
        step: v.step,
        data: {
          attempt: v.attempt,
          reason: v.reason,
          onFailure: v.refused ? "stop" : step.onFailure,
        },
        once: `${root}:step.failed:${v.step}`,
      });
      const policy = v.refused ? "stop" : step.onFailure;
      if (policy !== "continue" && !failure) {
        failure = { step: v.step, reason: v.reason ?? "failed" };
        phase = policy === "rollback" ? "rollback" : "finish";
      }
    }
  }
  for (const v of verdicts.filter((v) => v.verdict === "retry")) {
    await audit.append({
      runId: root,
      kind: "step.retry",
      actor: "loom-ops",
      step: v.step,
      data: { attempt: v.attempt, reason: v.reason },
      once: `${root}:step.retry:${v.step}#${v.attempt}`,
    });
  }
  return { failure, phase };
}

/**
 * The verifier agent (`<id>:verifier`, `<id>:verifier.2`, …, and `<id>:rollback-verifier`):
 * checks each command result, one per transition, and answers ok, retry (the step is sent back)
 * or fail (the step's `on_failure` decides what happens).
 *
 * @module
 */
import { type Agent, defineAgent, recur, type StepContext } from "@loom/runner";
import type { AuditLog } from "../audit.ts";
import type { PlanStep } from "../plan.ts";
import type { CommandRunner } from "./command.ts";
import type { StepResult, Verdict, VerifierState } from "./state.ts";
import { NO_RETRY } from "./_util.ts";

/** The verifier agent: its input is its state, its result one verdict per result. */
export type VerifierAgent = Agent<VerifierState, Verdict[], VerifierState>;

/** What {@link createVerifierAgent} needs. */
export interface VerifierAgentDeps {
  /** The audit trail, which records each verdict. */
  audit: AuditLog;
  /** Progress lines for humans. */
  progress: (line: string) => void;
  /** Runs a step's `verify.run` command as a durable tool call. */
  runCommand: CommandRunner;
}

/** Creates the verifier agent (`ops-verifier`). */
export function createVerifierAgent(deps: VerifierAgentDeps): VerifierAgent {
  const { audit, progress } = deps;
  return defineAgent<VerifierState, Verdict[], VerifierState>({
    name: "ops-verifier",
    retry: NO_RETRY,
    initialState: (input) => input,
    async step(state, ctx) {
      if (state.next >= state.results.length) return state.verdicts;
      const result = state.results[state.next];
      const step = state.steps[result.step];
      const verdict = await verifyOne(deps.runCommand, ctx, state, step, result);
      await audit.append({
        runId: ctx.runId,
        kind: "verification",
        actor: "loom-ops",
        step: step.id,
        data: { attempt: result.attempt, verdict: verdict.verdict, reason: verdict.reason },
        once: `${ctx.runId}:verification:${step.id}#${result.attempt}`,
      });
      if (verdict.verdict !== "ok") {
        progress(
          `  ⟲ ${step.id}: ${verdict.verdict}${verdict.reason ? ` (${verdict.reason})` : ""}`,
        );
      }
      return recur({ ...state, next: state.next + 1, verdicts: [...state.verdicts, verdict] });
    },
  });
}

/** Judges one result against the step's `verify` spec, running its check command if it has one. */
async function verifyOne(
  runCommand: CommandRunner,
  ctx: StepContext,
  state: VerifierState,
  step: PlanStep,
  result: StepResult,
): Promise<Verdict> {
  const base = { step: step.id, attempt: result.attempt };
  const exec = result.exec;
  if (exec.refused) {
    return {
      ...base,
      verdict: "fail",
      refused: true,
      reason: `refused by ${exec.refused.by}: ${exec.refused.reason}`,
    };
  }
  const canRetry = result.attempt < step.retry.attempts;
  const failed = (reason: string): Verdict => ({
    ...base,
    verdict: canRetry ? "retry" : "fail",
    reason,
  });
  if (exec.timedOut) return failed(`timed out after ${step.timeoutMs} ms`);
  const spec = step.verify ?? {};
  let checked = exec;
  if (spec.run) {
    // The command itself must succeed before its check is worth running.
    if (exec.exitCode !== 0) return failed(`exit code ${exec.exitCode}, expected 0`);
    checked = await runCommand(
      ctx,
      state.root,
      state.config,
      step,
      result.attempt,
      spec.run,
      "verify",
    );
    if (checked.refused) {
      return {
        ...base,
        verdict: "fail",
        refused: true,
        reason: `verify command refused by ${checked.refused.by}: ${checked.refused.reason}`,
      };
    }
    if (checked.timedOut) return failed(`verify command timed out`);
  }
  const wantExit = spec.exitCode ?? 0;
  if (checked.exitCode !== wantExit) {
    return failed(`exit code ${checked.exitCode ?? "none"}, expected ${wantExit}`);
  }
  // Mock results say what would have run; output expectations cannot be judged on them.
  if (checked.executor === "mock") return { ...base, verdict: "ok", reason: "mock executor" };
  const output = checked.stdout + checked.stderr;
  if (spec.outputContains !== undefined && !output.includes(spec.outputContains)) {
    return failed(`output does not contain "${spec.outputContains}"`);
  }
  if (spec.outputMatches !== undefined && !new RegExp(spec.outputMatches).test(output)) {
    return failed(`output does not match /${spec.outputMatches}/`);
  }
  return { ...base, verdict: "ok" };
}

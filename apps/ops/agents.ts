/**
 * The durable agents behind `supervise` and `runbook`, all run by `@loom/runner`:
 *
 * - the supervisor (`<id>`) owns the plan's step table; each of its transitions is one planning
 *   call, one approval wait, or one execution round;
 * - the planner (`<id>:planner`) produces the plan (from the incident, or the runbook file);
 * - an executor (`<id>:executor`, later rounds `<id>:executor.2`, …) runs the round's ready steps,
 *   at most `parallel` at a time, each command an idempotent tool call;
 * - a verifier (`<id>:verifier`, `<id>:verifier.2`, …) checks each result, one per transition, and
 *   answers ok, retry (the step is sent back) or fail (its `on_failure` decides what happens).
 *
 * Approval gates are runner signals (`approval:<step>`): the run is checkpointed as `waiting`, the
 * process may exit, and `approve`/`deny` sends the signal and resumes the run.
 *
 * @module
 */
import { type Agent, defineAgent, LoomError, recur, type StepContext } from "@loom/runner";
import { Allowlist } from "./allowlist.ts";
import type { AuditLog } from "./audit.ts";
import { type CommandExecutor, type ExecResult, MockExecutor, ShellExecutor } from "./executor.ts";
import type { Memory } from "./memory.ts";
import type { Plan, PlanStep } from "./plan.ts";
import { readySteps } from "./plan.ts";
import type { Planner } from "./planner.ts";
import { parsePlaybook, type Playbook } from "./playbook.ts";

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
  /** Current phase. */
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
  /** Attempt number. */
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
  /** Run configuration. */
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
}

/** Signal name of a step's approval gate. */
export function approvalSignal(step: string): string {
  return `approval:${step}`;
}

/** Whether `user` may decide a gate naming `allowed` (`*` allows anyone). */
export function mayApprove(allowed: string[], user: string): boolean {
  return allowed.includes("*") || allowed.includes(user);
}

/** Sub-run id of a round's executor or verifier: the first round has the plain name. */
export function roundRunId(root: string, role: "executor" | "verifier", round: number): string {
  return round === 1 ? `${root}:${role}` : `${root}:${role}.${round}`;
}

/** Output kept in run state per stream; the full output is hashed and summarized in the audit. */
const KEPT_OUTPUT = 4096;

function defaultExecutor(config: RunConfig): CommandExecutor {
  const allowlist = Allowlist.fromPlain(config.allowlist);
  return config.allowShell ? new ShellExecutor(allowlist) : new MockExecutor(allowlist);
}

/** Reads the Markdown playbooks of a workspace (`<workspace>/runbooks/*.md`). */
export function loadPlaybooks(workspace: string): Playbook[] {
  const dir = `${workspace}/runbooks`;
  const books: Playbook[] = [];
  try {
    for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isFile && entry.name.endsWith(".md")) {
        books.push(parsePlaybook(Deno.readTextFileSync(`${dir}/${entry.name}`), entry.name));
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return books;
}

/** The four agents, bound to their services. */
export interface OpsAgents {
  /** Top-level agent of every loom-ops run. */
  supervisor: Agent<SupervisorState, OpsOutcome, RunConfig>;
  /** `<id>:planner`. */
  planner: Agent<{ config: RunConfig; root: string }, Plan, { config: RunConfig; root: string }>;
  /** `<id>:executor[.n]`. */
  executor: Agent<ExecutorState, StepResult[], ExecutorState>;
  /** `<id>:verifier[.n]`. */
  verifier: Agent<VerifierState, Verdict[], VerifierState>;
}

/** State (and input) of an executor sub-run. */
export interface ExecutorState {
  /** The supervisor's run id. */
  root: string;
  /** Run configuration. */
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
  /** Run configuration. */
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

const NO_RETRY = { maxAttempts: 1 };

function shorten(res: ExecResult): ExecResult {
  return {
    ...res,
    stdout: res.stdout.slice(0, KEPT_OUTPUT),
    stderr: res.stderr.slice(0, KEPT_OUTPUT),
  };
}

/** Creates the agents. Call once per process; all runs of the process share them. */
export function createOpsAgents(deps: OpsDeps): OpsAgents {
  const { audit } = deps;
  const progress = deps.progress ?? (() => {});
  const executorFor = deps.executorFor ?? defaultExecutor;
  const executors = new Map<string, CommandExecutor>();
  const executorOf = (config: RunConfig): CommandExecutor => {
    const k = JSON.stringify([config.allowShell, config.allowlist]);
    let ex = executors.get(k);
    if (!ex) executors.set(k, ex = executorFor(config));
    return ex;
  };

  /** Runs one command as an idempotent tool call, with audit entries around the real execution. */
  async function runCommand(
    ctx: StepContext,
    root: string,
    config: RunConfig,
    step: PlanStep,
    attempt: number,
    argv: string[],
    purpose: "command" | "verify",
  ): Promise<ExecResult> {
    const key = `${purpose}:${step.id}#${attempt}`;
    return await ctx.callTool(
      purpose,
      { step: step.id, attempt, argv },
      async (_args, info) => {
        const executor = executorOf(config);
        const allowlist = Allowlist.fromPlain(config.allowlist);
        const decision = allowlist.check(argv);
        if (!decision.allowed) {
          audit.append({
            runId: ctx.runId,
            kind: "command.refused",
            actor: "loom-ops",
            step: step.id,
            data: { argv, attempt, by: "loom-ops", reason: decision.reason, purpose },
          });
          progress(`  ✗ ${step.id}: refused: ${decision.reason}`);
        } else {
          audit.append({
            runId: ctx.runId,
            kind: "command.started",
            actor: "loom-ops",
            step: step.id,
            data: {
              argv,
              attempt,
              purpose,
              executor: executor.kind,
              key: info.key,
              maybeRanBefore: info.maybeRanBefore,
            },
          });
          progress(`  ▶ ${step.id}: ${argv.join(" ")}${purpose === "verify" ? " (verify)" : ""}`);
        }
        const res = await executor.run({
          argv,
          timeoutMs: step.timeoutMs,
          cwd: config.workspace,
          env: {
            LOOM_OPS_RUN_ID: root,
            LOOM_OPS_STEP: step.id,
            LOOM_OPS_ATTEMPT: String(attempt),
            LOOM_OPS_IDEMPOTENCY_KEY: info.key,
            LOOM_OPS_STATE_DIR: config.stateDir,
          },
        });
        if (res.refused) {
          if (res.refused.by !== "loom-ops" || decision.allowed) {
            audit.append({
              runId: ctx.runId,
              kind: "command.refused",
              actor: "loom-ops",
              step: step.id,
              data: { argv, attempt, by: res.refused.by, reason: res.refused.reason, purpose },
            });
            progress(`  ✗ ${step.id}: refused by ${res.refused.by}: ${res.refused.reason}`);
          }
        } else {
          audit.append({
            runId: ctx.runId,
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
          progress(
            `  ${res.exitCode === 0 ? "✓" : "✗"} ${step.id}: exit ${res.exitCode ?? "-"}${
              res.timedOut ? " (timed out)" : ""
            } in ${res.durationMs} ms`,
          );
        }
        return shorten(res);
      },
      { key, retry: NO_RETRY },
    );
  }

  const planner = defineAgent<
    { config: RunConfig; root: string },
    Plan,
    { config: RunConfig; root: string }
  >({
    name: "ops-planner",
    retry: NO_RETRY,
    initialState: (input) => input,
    async step(state, ctx) {
      const { config, root } = state;
      let plan: Plan;
      let memoryIds: string[] = [];
      if (config.mode === "runbook") {
        plan = config.plan!;
      } else {
        const out = await ctx.callTool(
          "plan",
          { incident: config.incident, planner: deps.planner.name },
          async () => {
            const memory = deps.memory.search(config.incident ?? "", 3);
            const plan = await deps.planner.plan({
              incident: config.incident ?? "",
              playbooks: loadPlaybooks(config.workspace),
              memory,
              allowlist: config.allowlist.allow,
            });
            return { plan, memoryIds: memory.map((m) => m.runId) };
          },
          { key: "plan", retry: NO_RETRY },
        );
        plan = out.plan;
        memoryIds = out.memoryIds;
      }
      audit.append({
        runId: ctx.runId,
        kind: "plan",
        actor: config.mode === "runbook" ? config.startedBy : deps.planner.name,
        data: {
          name: plan.name,
          source: plan.source,
          description: plan.description,
          memory: memoryIds,
          steps: plan.steps.map((s) => ({
            id: s.id,
            run: s.run,
            needs: s.needs,
            approve: s.approve?.by,
          })),
          rollback: plan.rollback.map((s) => ({ id: s.id, run: s.run })),
        },
        once: `${root}:plan`,
      });
      return plan;
    },
  });

  const executor = defineAgent<ExecutorState, StepResult[], ExecutorState>({
    name: "ops-executor",
    retry: NO_RETRY,
    initialState: (input) => input,
    async step(state, ctx) {
      if (state.next >= state.items.length) return state.results;
      // One transition runs one bounded batch of independent steps in parallel.
      const batch = state.items.slice(state.next, state.next + Math.max(1, state.config.parallel));
      const results = await Promise.all(batch.map(async ({ step, attempt }) => {
        if (attempt > 1 && step.retry.delayMs > 0) await ctx.sleep(step.retry.delayMs);
        const exec = await runCommand(
          ctx,
          state.root,
          state.config,
          step,
          attempt,
          step.run,
          "command",
        );
        return { step: step.id, attempt, exec };
      }));
      return recur({
        ...state,
        next: state.next + batch.length,
        results: [...state.results, ...results],
      });
    },
  });

  const verifier = defineAgent<VerifierState, Verdict[], VerifierState>({
    name: "ops-verifier",
    retry: NO_RETRY,
    initialState: (input) => input,
    async step(state, ctx) {
      if (state.next >= state.results.length) return state.verdicts;
      const result = state.results[state.next];
      const step = state.steps[result.step];
      const verdict = await verifyOne(ctx, state, step, result);
      audit.append({
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

  async function verifyOne(
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

  const supervisor = defineAgent<SupervisorState, OpsOutcome, RunConfig>({
    name: "ops-supervisor",
    retry: NO_RETRY,
    initialState: (config) => ({ config, phase: "plan", steps: {}, round: 0 }),
    async step(state, ctx) {
      const root = ctx.runId;
      switch (state.phase) {
        case "plan": {
          const plan = await ctx.child(planner, {
            runId: `${root}:planner`,
            input: { config: state.config, root },
          });
          progress(`plan "${plan.name}": ${plan.steps.map((s) => s.id).join(", ")}`);
          const steps: Record<string, StepStatus> = {};
          for (const s of plan.steps) steps[s.id] = { phase: "pending", attempts: 0 };
          return recur({ ...state, phase: "execute", plan, steps });
        }
        case "execute":
          return await executeRound(ctx, state);
        case "rollback":
          return await rollback(ctx, state);
        case "finish":
          return finish(ctx, state);
      }
    },
  });

  async function executeRound(ctx: StepContext, state: SupervisorState) {
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
      return await awaitApproval(ctx, state, gated);
    }
    const round = state.round + 1;
    const items = runnable.map((step) => ({ step, attempt: steps[step.id].attempts + 1 }));
    const results = await ctx.child(executor, {
      runId: roundRunId(root, "executor", round),
      input: { root, config: state.config, items, next: 0, results: [] },
    });
    const verdicts = await ctx.child(verifier, {
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
    let failure: SupervisorState["failure"];
    let phase: SupervisorState["phase"] = "execute";
    for (const v of verdicts) {
      const step = plan.steps.find((s) => s.id === v.step)!;
      const res = results.find((r) => r.step === v.step)!;
      const prev = steps[v.step];
      const base = { ...prev, attempts: v.attempt, exitCode: res.exec.exitCode };
      if (v.verdict === "ok") steps[v.step] = { ...base, phase: "succeeded", reason: undefined };
      else if (v.verdict === "retry") {
        steps[v.step] = { ...base, phase: "pending", reason: v.reason };
      } else {
        steps[v.step] = { ...base, phase: v.refused ? "refused" : "failed", reason: v.reason };
        audit.append({
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
      audit.append({
        runId: root,
        kind: "step.retry",
        actor: "loom-ops",
        step: v.step,
        data: { attempt: v.attempt, reason: v.reason },
        once: `${root}:step.retry:${v.step}#${v.attempt}`,
      });
    }
    return recur({ ...state, steps, round, failure, phase });
  }

  async function awaitApproval(ctx: StepContext, state: SupervisorState, step: PlanStep) {
    const root = ctx.runId;
    const gate = step.approve!;
    audit.append({
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

  async function rollback(ctx: StepContext, state: SupervisorState) {
    const root = ctx.runId;
    const plan = state.plan!;
    audit.append({
      runId: root,
      kind: "rollback.started",
      actor: "loom-ops",
      step: state.failure?.step,
      data: { steps: plan.rollback.map((s) => s.id), after: state.failure },
      once: `${root}:rollback.started`,
    });
    progress(`rolling back: ${plan.rollback.map((s) => s.id).join(", ")}`);
    // Rollback steps run one at a time, in the order written.
    const results = await ctx.child(executor, {
      runId: `${root}:rollback`,
      input: {
        root,
        config: { ...state.config, parallel: 1 },
        items: plan.rollback.map((step) => ({ step, attempt: 1 })),
        next: 0,
        results: [],
      },
    });
    const verdicts = await ctx.child(verifier, {
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

  function finish(ctx: StepContext, state: SupervisorState): OpsOutcome {
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
    audit.append({
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

  return { supervisor, planner, executor, verifier };
}

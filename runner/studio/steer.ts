/**
 * Steering a run from the studio: the POST routes. Each calls the runner's own admin function
 * (`sendSignal`, `cancelRun`, `retryRun`, `forkRun`; `resumeRun` with the embedded worker's
 * agents) so the studio does exactly what the CLI does; none of them decides anything itself.
 *
 * @module
 */
import type { Agent } from "../engine/agent.ts";
import { RunnerError } from "../errors.ts";
import { cancelRun, forkRun, retryRun, sendSignal } from "../inspect/admin.ts";
import type { RunRecord, Store } from "../store/store.ts";
import { gateOf } from "./api_run.ts";
import { json, jsonError } from "./security.ts";

/** What the steering routes need from the handler. */
export interface SteerContext {
  /** The store. */
  store: Store;
  /** Agents of the embedded worker by name (empty without `--agents`). */
  agents: Map<string, Agent<unknown, unknown, unknown>>;
  /** Starts advancing a run in this process (the embedded worker's agents). */
  advance(run: RunRecord): void;
}

/** The steering actions, by the last path segment. */
export const STEER_ACTIONS = ["signal", "approve", "resume", "cancel", "retry", "fork"] as const;

/** One steering action. */
export type SteerAction = typeof STEER_ACTIONS[number];

type Body = Record<string, unknown>;

/** A 400 answer naming what the body lacks. */
class BadRequest extends Error {}

function str(body: Body, name: string, required = true): string | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || (required && v === "")) {
    throw new BadRequest(`the body needs "${name}" as a non-empty string`);
  }
  return v;
}

/**
 * Runs a steering action on a run and answers in JSON: 400 for a body that does not fit,
 * 409 when the runner refuses (a finished run takes no signal, only a failed run retries...).
 */
export async function steer(
  ctx: SteerContext,
  action: SteerAction,
  run: RunRecord,
  body: Body,
): Promise<Response> {
  try {
    return json(await ACTIONS[action](ctx, run, body));
  } catch (e) {
    if (e instanceof BadRequest) return jsonError(400, e.message);
    if (e instanceof RunnerError) return jsonError(409, e.message);
    throw e;
  }
}

const ACTIONS: Record<SteerAction, (ctx: SteerContext, run: RunRecord, body: Body) => unknown> = {
  async signal(ctx, run, body) {
    const name = str(body, "name")!;
    const { seq } = await sendSignal(ctx.store, run.runId, name, body.data ?? null);
    return { seq };
  },
  async approve(ctx, run, body) {
    const decision = body.decision;
    if (decision !== "approve" && decision !== "deny") {
      throw new BadRequest('the body needs "decision": "approve" or "deny"');
    }
    const by = str(body, "by")!;
    const comment = str(body, "comment", false);
    const last = await ctx.store.lastStep(run.runId);
    const state = last?.state ? JSON.parse(last.state) : JSON.parse(run.initialState);
    const gate = gateOf(run, state);
    if (!gate) throw new RunnerError(`run ${run.runId} is not waiting at an approval gate`);
    // The gate would reject it and keep waiting (loom-ops' mayApprove): say so now instead.
    const anyone = gate.approvers.length === 0 || gate.approvers.includes("*");
    if (!anyone && !gate.approvers.includes(by)) {
      throw new RunnerError(
        `${by} may not decide step ${gate.step}; its approvers are ${gate.approvers.join(", ")}`,
      );
    }
    // The payload of loom-ops' ApprovalDecision (apps/ops/agents/approval.ts).
    const payload = { decision, by, ...(comment ? { comment } : {}), via: "studio", at: iso() };
    const { seq } = await sendSignal(ctx.store, run.runId, gate.signal, payload);
    return { seq };
  },
  resume(ctx, run) {
    const agent = ctx.agents.get(run.agentName);
    if (!agent) {
      throw new RunnerError(
        ctx.agents.size === 0
          ? `no worker is attached to this studio: start it with --agents DIR, or run loom-runner resume AGENT --run-id ${run.runId}`
          : `the attached worker has no agent named ${run.agentName}`,
      );
    }
    if (run.parentRunId !== null) {
      throw new RunnerError(
        `run ${run.runId} is a child run: resume its parent ${run.parentRunId}`,
      );
    }
    if (["completed", "failed", "cancelled"].includes(run.status)) {
      throw new RunnerError(`run ${run.runId} is ${run.status}; it cannot be resumed`);
    }
    ctx.advance(run);
    return { status: "running" };
  },
  async cancel(ctx, run, body) {
    await cancelRun(ctx.store, run.runId, str(body, "reason", false) || "cancelled in the studio");
    return { status: "cancelled" };
  },
  async retry(ctx, run) {
    await retryRun(ctx.store, run.runId);
    const now = (await ctx.store.getRun(run.runId))!;
    if (ctx.agents.has(now.agentName) && now.parentRunId === null) ctx.advance(now);
    return { status: now.status };
  },
  async fork(ctx, run, body) {
    const step = body.step;
    if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
      throw new BadRequest('the body needs "step" as a whole number');
    }
    const newRunId = `${run.runId}-fork-${crypto.randomUUID().slice(0, 8)}`;
    const fork = await forkRun(ctx.store, {
      runId: run.runId,
      step,
      newRunId,
      ...(body.state !== undefined ? { state: body.state } : {}),
    });
    if (ctx.agents.has(fork.agentName)) ctx.advance(fork);
    return { runId: fork.runId };
  },
};

function iso(): string {
  return new Date().toISOString();
}

/**
 * The planner agent (`<id>:planner`): produces the run's plan, from the runbook file (already
 * parsed into the run's config) or from the incident through the configured {@link Planner},
 * and records it in the audit trail.
 *
 * @module
 */
import { type Agent, defineAgent } from "@loom/runner";
import type { AuditLog } from "../audit.ts";
import type { Memory } from "../memory.ts";
import { confine, type Plan } from "../plan.ts";
import type { Planner } from "../planner.ts";
import { parsePlaybook, type Playbook } from "../playbook.ts";
import type { PlannerState, RunConfig } from "./state.ts";
import { NO_RETRY } from "./_util.ts";

/** The planner agent: its input is its state, its result the plan. */
export type PlannerAgent = Agent<PlannerState, Plan, PlannerState>;

/** What {@link createPlannerAgent} needs. */
export interface PlannerAgentDeps {
  /** The audit trail, which records the plan. */
  audit: AuditLog;
  /** Workspace memory: similar past incidents are shown to the planner. */
  memory: Memory;
  /** The planner behind `supervise`. */
  planner: Planner;
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

/** Creates the planner agent (`ops-planner`). */
export function createPlannerAgent(deps: PlannerAgentDeps): PlannerAgent {
  const { audit } = deps;
  return defineAgent<PlannerState, Plan, PlannerState>({
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
          () => planIncident(deps, config),
          { key: "plan", retry: NO_RETRY },
        );
        plan = out.plan;
        memoryIds = out.memoryIds;
      }
      await audit.append({
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
            writes: s.writes,
            network: s.network,
          })),
          rollback: plan.rollback.map((s) => ({ id: s.id, run: s.run })),
          // An LLM plan's tokens; `null` tokens: the server did not say (unknown, not zero).
          usage: plan.usage,
        },
        once: `${root}:plan`,
      });
      return plan;
    },
  });
}

/** Asks the planner for a plan, showing it the playbooks and the three closest memory notes. */
async function planIncident(
  deps: PlannerAgentDeps,
  config: RunConfig,
): Promise<{ plan: Plan; memoryIds: string[] }> {
  const memory = deps.memory.search(config.incident ?? "", 3);
  const plan = await deps.planner.plan({
    incident: config.incident ?? "",
    playbooks: loadPlaybooks(config.workspace),
    memory,
    allowlist: config.allowlist.allow,
  });
  // A planner (an LLM, say) cannot widen the OS sandbox: its steps get no writes and no network.
  return { plan: confine(plan), memoryIds: memory.map((m) => m.runId) };
}

/**
 * The planner turns an incident text into a plan of runbook-like steps. The mock planner (the
 * `--mock-llm` edge) is deterministic: it picks the workspace playbook whose title and keywords
 * share the most words with the incident, preferring playbooks that resolved similar past
 * incidents (workspace memory), and converts it with `playbookToPlan`.
 *
 * @module
 */
import type { MemoryHit } from "./memory.ts";
import type { Plan } from "./plan.ts";
import { type Playbook, playbookToPlan } from "./playbook.ts";

/** What the planner is given. */
export interface PlannerInput {
  /** The incident text. */
  incident: string;
  /** Playbooks found in the workspace. */
  playbooks: Playbook[];
  /** Similar past incidents from memory. */
  memory: MemoryHit[];
  /** The workspace allowlist prefixes, passed through to the plan. */
  allowlist?: string[][];
}

/** A planner (mock or LLM-backed). */
export interface Planner {
  /** Name recorded in the audit trail. */
  readonly name: string;
  /** Produces a plan; throws an Error with one clear sentence when it cannot. */
  plan(input: PlannerInput): Promise<Plan>;
}

function words(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((w) => w.length > 2));
}

/** How well a playbook matches an incident: shared words, keywords counting double. */
export function matchScore(incident: string, book: Playbook): number {
  const inc = words(incident);
  let score = 0;
  for (const w of words(book.title)) if (inc.has(w)) score += 1;
  for (const k of book.keywords) if (inc.has(k)) score += 2;
  return score;
}

/** The deterministic planner behind `--mock-llm`. */
export class MockPlanner implements Planner {
  /** Always `mock-llm`. */
  readonly name = "mock-llm";

  /** Picks and converts the best-matching playbook. */
  plan(input: PlannerInput): Promise<Plan> {
    const scored = input.playbooks.map((book) => {
      // A playbook that a similar past incident used gets a bonus per such incident.
      const reused = input.memory.filter((m) => m.actions.includes(`playbook: ${book.title}`));
      return { book, score: matchScore(input.incident, book) + reused.length, reused };
    }).sort((a, b) => b.score - a.score || a.book.title.localeCompare(b.book.title));
    const best = scored[0];
    if (!best || best.score === 0) {
      const names = input.playbooks.map((b) => b.title).join(", ") || "none";
      return Promise.reject(
        new Error(`no playbook matches the incident (playbooks in the workspace: ${names})`),
      );
    }
    const plan = playbookToPlan(best.book, input.allowlist);
    const why = [`matched playbook "${best.book.title}" (score ${best.score})`];
    if (input.memory.length) {
      why.push(
        `similar past incidents: ${
          input.memory.slice(0, 3).map((m) => `${m.runId} (${m.outcome})`).join(", ")
        }`,
      );
    }
    if (plan.description) why.push(plan.description);
    return Promise.resolve({ ...plan, description: why.join("; ") });
  }
}

/** Stands in when no planner is configured: planning fails with a sentence saying how to fix it. */
export class UnconfiguredPlanner implements Planner {
  /** Always `none`. */
  readonly name = "none";
  readonly #hint: string;
  constructor(hint: string) {
    this.#hint = hint;
  }
  /** Always rejects. */
  plan(): Promise<Plan> {
    return Promise.reject(new Error(`no LLM planner is configured: ${this.#hint}`));
  }
}

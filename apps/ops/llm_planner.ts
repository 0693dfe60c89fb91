/**
 * A planner backed by a real LLM through the OpenAI-compatible chat completions API (OpenAI,
 * Ollama's `/v1`, vLLM, llama.cpp server, …). The model is shown the incident, the workspace
 * playbooks, similar past incidents and the allowlist, and answers with a plan as JSON; the
 * answer is validated by the same code as YAML runbooks (JSON is YAML), so a malformed plan fails
 * with a line-numbered error. The model cannot weaken a gate: any step whose argv matches a
 * playbook step marked `[approve: …]` gets that gate whatever the model wrote.
 *
 * Configure with `LOOM_OPS_LLM_URL` (base URL ending before `/chat/completions`),
 * `LOOM_OPS_LLM_MODEL` and optionally `LOOM_OPS_LLM_API_KEY`.
 *
 * @module
 */
import type { Plan } from "./plan.ts";
import type { Planner, PlannerInput } from "./planner.ts";
import { parseRunbookYaml } from "./runbook.ts";

/** Settings of {@link LlmPlanner}. */
export interface LlmPlannerOptions {
  /** Base URL, e.g. `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  /** Model name. */
  model: string;
  /** Bearer key, when the server needs one. */
  apiKey?: string;
  /** Request timeout in ms (default 120 s). */
  timeoutMs?: number;
}

const SYSTEM = `You are the planner of loom-ops, an incident-response runner.
Answer with ONE JSON object and nothing else, of this shape:
{"name": "...", "description": "why this plan",
 "steps": [{"id": "kebab-id", "description": "...", "run": ["executable", "arg", ...],
            "needs": ["earlier-step-id"], "approve": {"by": ["name"], "reason": "..."},
            "verify": {"exit_code": 0, "output_contains": "..."}, "timeout": "30s",
            "retry": 1, "on_failure": "stop"}]}
Rules: "run" is an argv list, never a shell string; use only commands that start with one of the
allowed prefixes; prefer the playbook's steps; destructive steps keep the playbook's approvers;
independent diagnostics have no "needs" so they run in parallel. Omit optional fields you do not need.`;

/** Builds the user message shown to the model. */
export function plannerPrompt(input: PlannerInput): string {
  const books = input.playbooks.map((b) =>
    `## Playbook: ${b.title}\n${b.steps.map((s) => `${s.number}. ${s.text}`).join("\n")}`
  ).join("\n\n");
  const memory = input.memory.length
    ? input.memory.map((m) => `- ${m.runId}: ${m.incident} → ${m.actions} (${m.outcome})`).join(
      "\n",
    )
    : "(none)";
  const allowed = (input.allowlist ?? []).map((p) => p.join(" ")).join("\n") || "(none)";
  return `Incident: ${input.incident}\n\nAllowed command prefixes:\n${allowed}\n\n` +
    `Similar past incidents:\n${memory}\n\n${books || "(no playbooks)"}`;
}

/** Takes the JSON object out of a reply (tolerates a Markdown code fence around it). */
export function extractJson(reply: string): string {
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/.exec(reply);
  const text = (fenced ? fenced[1] : reply).trim();
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start < 0 || end < start) throw new Error("the LLM did not answer with a JSON plan");
  return text.slice(start, end + 1);
}

/** The LLM planner. */
export class LlmPlanner implements Planner {
  /** `llm:<model>`. */
  readonly name: string;
  readonly #o: LlmPlannerOptions;
  constructor(options: LlmPlannerOptions) {
    this.#o = options;
    this.name = `llm:${options.model}`;
  }

  /** Asks the model and validates its plan. */
  async plan(input: PlannerInput): Promise<Plan> {
    const url = `${this.#o.baseUrl.replace(/\/$/, "")}/chat/completions`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(this.#o.apiKey ? { authorization: `Bearer ${this.#o.apiKey}` } : {}),
        },
        body: JSON.stringify({
          model: this.#o.model,
          temperature: 0,
          messages: [
            { role: "system", content: SYSTEM },
            { role: "user", content: plannerPrompt(input) },
          ],
        }),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 120_000),
      });
    } catch (e) {
      throw new Error(`the LLM at ${url} could not be reached (${(e as Error).message})`);
    }
    if (!res.ok) {
      const detail = (await res.text()).slice(0, 200);
      throw new Error(`the LLM at ${url} answered HTTP ${res.status}: ${detail}`);
    }
    const body = await res.json();
    const content = body?.choices?.[0]?.message?.content;
    if (typeof content !== "string") throw new Error("the LLM reply has no message content");
    const plan = parseRunbookYaml(extractJson(content), `plan from ${this.name}`);
    return enforcePlaybookGates({ ...plan, source: this.name }, input);
  }
}

/** Gives every plan step whose argv matches a gated playbook step that playbook's gate. */
export function enforcePlaybookGates(plan: Plan, input: PlannerInput): Plan {
  const gates = new Map<string, string[]>();
  for (const book of input.playbooks) {
    for (const s of book.steps) {
      if (s.argv && s.approvers) gates.set(JSON.stringify(s.argv), s.approvers);
    }
  }
  return {
    ...plan,
    steps: plan.steps.map((s) => {
      const by = gates.get(JSON.stringify(s.run));
      return by ? { ...s, approve: { by, reason: "marked for approval in the playbook" } } : s;
    }),
  };
}

/** The LLM planner configured by environment, or undefined when `LOOM_OPS_LLM_URL` is unset. */
export function llmPlannerFromEnv(): LlmPlanner | undefined {
  const baseUrl = Deno.env.get("LOOM_OPS_LLM_URL");
  if (!baseUrl) return undefined;
  return new LlmPlanner({
    baseUrl,
    model: Deno.env.get("LOOM_OPS_LLM_MODEL") ?? "gpt-4o-mini",
    apiKey: Deno.env.get("LOOM_OPS_LLM_API_KEY") || undefined,
  });
}

/**
 * A planner backed by a real LLM through the OpenAI-compatible chat completions API (OpenAI,
 * Ollama's `/v1`, vLLM, llama.cpp server, …). The model is shown the incident, the workspace
 * playbooks, similar past incidents and the allowlist, and answers with a plan as JSON; the
 * answer is validated by the same code as YAML runbooks (JSON is YAML), so a malformed plan fails
 * with a line-numbered error. The model cannot weaken a gate: any step whose argv matches a
 * playbook step marked `[approve: …]` gets that gate whatever the model wrote.
 *
 * The client is deliberately small and its own (apps do not import each other): one
 * non-streamed request, accepting a streamed (SSE) answer from servers that ignore
 * `stream: false`. A refusal (`message.refusal`, `delta.refusal`) and a cut answer
 * (`finish_reason: "length"`) fail planning with one sentence instead of being read as a plan,
 * and a reply without `usage` records the tokens as unknown (`null`), never as 0.
 *
 * Configured like loom-run, with the same variables: `LOOM_LLM_BASE_URL` (base URL ending
 * before `/chat/completions`; default `https://api.openai.com/v1` when a key is set),
 * `LOOM_LLM_MODEL` (default `gpt-4o-mini`) and `LOOM_LLM_API_KEY` (else `OPENAI_API_KEY`).
 * loom-ops' older names `LOOM_OPS_LLM_URL`, `LOOM_OPS_LLM_MODEL` and `LOOM_OPS_LLM_API_KEY` are
 * still read, with a one-line notice.
 *
 * @module
 */
import type { Plan, PlannerUsage } from "./plan.ts";
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

/** What one chat completion answered, whether it came as JSON or as a stream. */
export interface LlmAnswer {
  /** The answer text. */
  content: string;
  /** The model's refusal, when it refused (`message.refusal` / `delta.refusal`). */
  refusal?: string;
  /** Why the answer ended, as the server said (`stop`, `length`, `content_filter`, …). */
  finishReason: string;
  /** The model that answered. */
  model: string;
  /** Tokens used; null when the server sent no `usage` (unknown, not zero). */
  usage: { promptTokens: number; completionTokens: number } | null;
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

  /**
   * Asks the model and validates its plan.
   *
   * @throws {Error} One sentence when the server cannot be reached or fails, when the model
   * refused, when its answer was cut off or filtered, or when the plan is not valid.
   */
  async plan(input: PlannerInput): Promise<Plan> {
    const answer = await this.#complete(input);
    const content = usableContent(answer, this.#o.model);
    const plan = parseRunbookYaml(extractJson(content), `plan from ${this.name}`);
    const usage: PlannerUsage = { model: answer.model, tokens: answer.usage };
    return enforcePlaybookGates({ ...plan, source: this.name, usage }, input);
  }

  async #complete(input: PlannerInput): Promise<LlmAnswer> {
    const url = `${this.#o.baseUrl.replace(/\/+$/, "")}/chat/completions`;
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
          stream: false,
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
    const text = await res.text();
    // Some servers answer with a stream even when asked not to.
    const streamed = (res.headers.get("content-type") ?? "").includes("text/event-stream") ||
      /^\s*data:/.test(text);
    try {
      return streamed ? answerFromStream(text, this.#o.model) : answerFromJson(text, this.#o.model);
    } catch {
      throw new Error(`the LLM at ${url} answered something that is not a chat completion`);
    }
  }
}

/**
 * The answer's text, when it can be a plan: a refusal, an answer cut at the length limit or
 * withheld by a content filter is an error saying so, never read as a (partial) plan.
 */
export function usableContent(answer: LlmAnswer, model: string): string {
  if (answer.refusal) throw new Error(`the LLM (${model}) refused to plan: ${answer.refusal}`);
  if (answer.finishReason === "length") {
    throw new Error(
      `the LLM's answer was cut off at its length limit (finish_reason: length), so its plan is incomplete; use a model or server setting that allows longer answers`,
    );
  }
  if (answer.finishReason === "content_filter") {
    throw new Error(
      `the LLM's answer was withheld by the server's content filter (finish_reason: content_filter)`,
    );
  }
  if (answer.content.trim() === "") throw new Error("the LLM answered with no content");
  return answer.content;
}

/** Token counts of a `usage` object, or null when there is none (unknown). */
function usageOf(
  usage: { prompt_tokens?: number; completion_tokens?: number } | null | undefined,
): LlmAnswer["usage"] {
  if (!usage || typeof usage !== "object") return null;
  return { promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0 };
}

/** Reads a `chat.completion` JSON body. */
export function answerFromJson(text: string, model: string): LlmAnswer {
  const body = JSON.parse(text);
  const choice = body?.choices?.[0];
  if (!choice || typeof choice !== "object") throw new Error("no choices");
  const message = choice.message ?? {};
  return {
    content: typeof message.content === "string" ? message.content : "",
    refusal: typeof message.refusal === "string" && message.refusal ? message.refusal : undefined,
    finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : "stop",
    model: typeof body.model === "string" ? body.model : model,
    usage: usageOf(body.usage),
  };
}

/** Reads a streamed answer (SSE `data:` lines of `chat.completion.chunk`s, up to `[DONE]`). */
export function answerFromStream(text: string, model: string): LlmAnswer {
  const answer: LlmAnswer = { content: "", finishReason: "stop", model, usage: null };
  let refusal = "";
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data === "[DONE]") break;
    if (data === "") continue;
    const chunk = JSON.parse(data);
    if (typeof chunk.model === "string") answer.model = chunk.model;
    if (chunk.usage) answer.usage = usageOf(chunk.usage);
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    if (typeof choice.finish_reason === "string") answer.finishReason = choice.finish_reason;
    if (typeof choice.delta?.content === "string") answer.content += choice.delta.content;
    if (typeof choice.delta?.refusal === "string") refusal += choice.delta.refusal;
  }
  if (refusal) answer.refusal = refusal;
  return answer;
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

/** The shared LLM settings (loom-run reads the same), each with loom-ops' older name. */
const SETTINGS = [
  { name: "LOOM_LLM_BASE_URL", old: "LOOM_OPS_LLM_URL" },
  { name: "LOOM_LLM_MODEL", old: "LOOM_OPS_LLM_MODEL" },
  { name: "LOOM_LLM_API_KEY", old: "LOOM_OPS_LLM_API_KEY" },
] as const;

/** How to configure an LLM, for messages. */
export const LLM_SETUP =
  "set LOOM_LLM_BASE_URL (an OpenAI-compatible endpoint such as http://127.0.0.1:11434/v1) and LOOM_LLM_MODEL, or LOOM_LLM_API_KEY for api.openai.com";

/** The LLM settings found in the environment. */
export interface LlmSettingsFromEnv {
  /** The planner's settings; undefined when no LLM is configured (no endpoint and no key). */
  options?: LlmPlannerOptions;
  /** One line naming the old variable names in use and their new names, when any is used. */
  notice?: string;
}

/**
 * Reads the LLM settings loom-run reads too: `LOOM_LLM_BASE_URL`, `LOOM_LLM_MODEL`,
 * `LOOM_LLM_API_KEY` (else `OPENAI_API_KEY`), each else its older loom-ops name. An LLM is
 * configured when an endpoint or a key is set; without an endpoint it is api.openai.com.
 *
 * @param env Reads one variable (default: the process environment; empty counts as unset).
 */
export function llmSettingsFromEnv(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): LlmSettingsFromEnv {
  const read = (name: string) => env(name) || undefined;
  const renamed: string[] = [];
  const [baseUrl, model, apiKey] = SETTINGS.map(({ name, old }) => {
    const value = read(name);
    const legacy = read(old);
    if (legacy !== undefined) {
      renamed.push(`${old} → ${name}${value !== undefined ? ` (ignored: ${name} is set)` : ""}`);
    }
    return value ?? legacy;
  });
  const key = apiKey ?? read("OPENAI_API_KEY");
  const found: LlmSettingsFromEnv = renamed.length
    ? {
      notice: `note: loom-ops reads the LLM settings loom-run reads; rename ${renamed.join(", ")}`,
    }
    : {};
  if (baseUrl === undefined && key === undefined) return found;
  found.options = {
    baseUrl: baseUrl ?? "https://api.openai.com/v1",
    model: model ?? "gpt-4o-mini",
    apiKey: key,
  };
  return found;
}

/**
 * The LLM planner configured by the environment ({@link llmSettingsFromEnv}), or undefined when
 * none is; `notice` gets the line about old variable names, when there is one.
 */
export function llmPlannerFromEnv(
  notice: (line: string) => void = () => {},
): LlmPlanner | undefined {
  const settings = llmSettingsFromEnv();
  if (settings.notice) notice(settings.notice);
  return settings.options && new LlmPlanner(settings.options);
}

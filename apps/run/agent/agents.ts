/**
 * The agents of one `loom-run` process and the runtimes they share.
 *
 * @module
 */
import type { RunRecord, Store } from "@loom/runner";
import type { Config, LlmSettings, RunSettings } from "../config.ts";
import { isLoopback } from "../config.ts";
import { messageOf, UsageError } from "../errors.ts";
import { CHAT_SYSTEM } from "../llm/prompts.ts";
import { loadMcpConfig } from "../mcp/config.ts";
import { Workspace } from "../tools/workspace.ts";
import { type ChatAgent, chatAgent } from "./chat.ts";
import { Runtimes } from "./runtime.ts";
import { SUPERVISOR_AGENT, supervisorAgent } from "./supervisor.ts";
import { readKnobs } from "./test_knobs.ts";

/** Name of loom-run's chat agent in the run store. */
export const CHAT_AGENT = "loom-run.chat";

/** loom-run's chat agent: a chat agent whose run settings are loom-run's `RunSettings`. */
export type RepoChatAgent = ChatAgent<RunSettings>;

/** The agents of one process, sharing one set of runtimes. */
export interface Agents {
  /** Runtimes (LLM, tools, events) shared by the agents. */
  runtimes: Runtimes;
  /** The chat agent. */
  chat: RepoChatAgent;
  /** The supervisor agent. */
  supervisor: ReturnType<typeof supervisorAgent>;
}

/**
 * loom-run's repository chat agent, built with the library's `chatAgent`: its model, tools and
 * budgets come from the settings stored with each run (`--max-steps` is `maxTurns`), its events
 * go to the process's event hub.
 */
export function repoChatAgent(runtimes: Runtimes): RepoChatAgent {
  return chatAgent<RunSettings>({
    name: CHAT_AGENT,
    system: CHAT_SYSTEM,
    model: async (settings) => (await runtimes.get(settings)).llm,
    tools: async (settings) => (await runtimes.get(settings)).list,
    limits: (settings) => ({ maxTurns: settings.maxSteps, maxToolCalls: settings.maxToolCalls }),
    onEvent: (event) => runtimes.events.emit(event),
  });
}

/** The LLM settings given explicitly (flag or env); they replace a stored run's on resume. */
export function llmOverride(config: Config): Partial<LlmSettings> {
  const override: Partial<LlmSettings> = {};
  if (config.explicit.has("provider")) override.provider = config.settings.llm.provider;
  if (config.explicit.has("model")) override.model = config.settings.llm.model;
  if (config.explicit.has("baseUrl")) override.baseUrl = config.settings.llm.baseUrl;
  if (config.explicit.has("timeoutMs")) override.timeoutMs = config.settings.llm.timeoutMs;
  return override;
}

/** True when `baseUrl` names this machine (localhost, 127.0.0.0/8, ::1). */
export function isLoopbackUrl(baseUrl: string): boolean {
  try {
    return isLoopback(new URL(baseUrl).hostname);
  } catch {
    return false;
  }
}

/**
 * Refuses to start an LLM run that would send requests without an API key to a remote endpoint
 * (api.openai.com or any non-loopback host). A local server (Ollama, llama.cpp) needs no key.
 */
export function checkApiKey(llm: LlmSettings, apiKey: string | undefined): void {
  if (llm.provider !== "openai" || apiKey !== undefined || isLoopbackUrl(llm.baseUrl)) return;
  throw new UsageError(
    `no API key for ${llm.baseUrl}: set LOOM_LLM_API_KEY (or OPENAI_API_KEY), use --mock-llm, or point LOOM_LLM_BASE_URL (--base-url) at a local server such as http://127.0.0.1:11434/v1`,
  );
}

/** Builds the runtimes and agents for a config. */
export function makeAgents(config: Config): Agents {
  const runtimes = new Runtimes({
    apiKey: config.apiKey,
    llmOverride: llmOverride(config),
    knobs: readKnobs(),
    hiddenFiles: [config.db],
  });
  const chat = repoChatAgent(runtimes);
  return { runtimes, chat, supervisor: supervisorAgent(runtimes, chat) };
}

/** True when a stored run belongs to loom-run (its chat or supervisor agent). */
export function isLoomRunAgent(agentName: string): boolean {
  return agentName === CHAT_AGENT || agentName === SUPERVISOR_AGENT;
}

/** A word as a shell would read it back: quoted when it holds anything but plain characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9._/:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that continues a stored run, chosen by the agent it belongs to: `loom-run resume`
 * for loom-run's runs, `loom-ops resume` (on the top run) for loom-ops', and the runner's own
 * `loom-runner resume <module>` for any other agent.
 */
export function resumeCommand(
  run: Pick<RunRecord, "runId" | "agentName" | "parentRunId">,
  db: string,
): string {
  const where = `--db ${shellWord(db)}`;
  if (isLoomRunAgent(run.agentName)) return `loom-run resume --run-id ${run.runId} ${where}`;
  if (run.agentName.startsWith("ops-")) {
    // loom-ops resumes a supervisor, which resumes its sub-runs.
    return `loom-ops resume --run-id ${run.parentRunId ?? run.runId} ${where}`;
  }
  return `loom-runner resume <module of agent '${run.agentName}'> --run-id ${run.runId} ${where}`;
}

/** The sentence for a run that is not loom-run's: whose it is and which command continues it. */
export function foreignRunMessage(
  run: Pick<RunRecord, "runId" | "agentName" | "parentRunId">,
  db: string,
): string {
  return `run '${run.runId}' belongs to agent '${run.agentName}', not to loom-run; continue it with: ${
    resumeCommand(run, db)
  }`;
}

/** Picks the agent that owns a stored run. */
export async function agentFor(
  store: Store,
  agents: Agents,
  runId: string,
): Promise<Agents["chat"] | Agents["supervisor"]> {
  const run = await store.getRun(runId);
  if (!run) throw new UsageError(`there is no run '${runId}' in ${store.location}`);
  if (run.agentName === agents.chat.name) return agents.chat;
  if (run.agentName === agents.supervisor.name) return agents.supervisor;
  throw new UsageError(foreignRunMessage(run, store.location));
}

/**
 * Checks that a stored run (resume, retry) can reach its LLM: its stored LLM settings with the
 * ones given now on top.
 */
export async function checkStoredRun(store: Store, config: Config, runId: string): Promise<void> {
  const run = await store.getRun(runId);
  if (!run?.input) return;
  const settings = (JSON.parse(run.input) as { settings?: RunSettings }).settings;
  if (settings?.llm) checkApiKey({ ...settings.llm, ...llmOverride(config) }, config.apiKey);
}

/**
 * Checks what a user can get wrong before a run starts: workspace, MCP file and (unless
 * `llm: false`, as `serve` does to start without one) the API key.
 */
export async function checkSettings(
  config: Config,
  options: { llm?: boolean } = {},
): Promise<void> {
  try {
    new Workspace(config.settings.workspace);
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  if (config.settings.mcpConfig) await loadMcpConfig(config.settings.mcpConfig);
  if (options.llm !== false) checkApiKey(config.settings.llm, config.apiKey);
}

/**
 * The agents of one `loom-run` process and the runtimes they share.
 *
 * @module
 */
import type { Store } from "@loom/runner";
import type { Config } from "../config.ts";
import { readEnv } from "../config.ts";
import { messageOf, UsageError } from "../errors.ts";
import { loadMcpConfig } from "../mcp/config.ts";
import { Workspace } from "../tools/workspace.ts";
import { chatAgent } from "./chat.ts";
import { Runtimes, type TestKnobs } from "./runtime.ts";
import { supervisorAgent } from "./supervisor.ts";

/** The agents of one process, sharing one set of runtimes. */
export interface Agents {
  /** Runtimes (LLM, tools, events) shared by the agents. */
  runtimes: Runtimes;
  /** The chat agent. */
  chat: ReturnType<typeof chatAgent>;
  /** The supervisor agent. */
  supervisor: ReturnType<typeof supervisorAgent>;
}

/** Reads the test-only knobs from the environment. */
export function readKnobs(): TestKnobs {
  const delay = Number(readEnv("LOOM_RUN_TOOL_DELAY_MS") ?? 0);
  return {
    toolDelayMs: Number.isFinite(delay) && delay > 0 ? delay : 0,
    toolLog: readEnv("LOOM_RUN_TOOL_LOG"),
  };
}

/** Builds the runtimes and agents for a config. */
export function makeAgents(config: Config): Agents {
  const llmOverride: Record<string, unknown> = {};
  if (config.explicit.has("provider")) llmOverride.provider = config.settings.llm.provider;
  if (config.explicit.has("model")) llmOverride.model = config.settings.llm.model;
  if (config.explicit.has("baseUrl")) llmOverride.baseUrl = config.settings.llm.baseUrl;
  if (config.explicit.has("timeoutMs")) llmOverride.timeoutMs = config.settings.llm.timeoutMs;
  const runtimes = new Runtimes({ apiKey: config.apiKey, llmOverride, knobs: readKnobs() });
  const chat = chatAgent(runtimes);
  return { runtimes, chat, supervisor: supervisorAgent(runtimes, chat) };
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
  throw new UsageError(`run '${runId}' belongs to agent '${run.agentName}', not to loom-run`);
}

/** Checks what a user can get wrong before a run starts: the workspace and the MCP file. */
export async function checkSettings(config: Config): Promise<void> {
  try {
    new Workspace(config.settings.workspace);
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  if (config.settings.mcpConfig) await loadMcpConfig(config.settings.mcpConfig);
}

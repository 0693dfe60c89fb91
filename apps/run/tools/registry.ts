/**
 * The tool set of a run: the local tools plus the tools of the configured MCP servers, each MCP
 * tool named `<server>__<tool>` so no server can shadow a local tool or another server's tool.
 *
 * @module
 */
import { type McpClient, McpClient as Client, McpError } from "../mcp/client.ts";
import { loadMcpConfig } from "../mcp/config.ts";
import type { ToolSpec } from "../llm/types.ts";
import { UsageError } from "../errors.ts";
import { type LocalToolOptions, localTools } from "./local.ts";
import { capOutput, type Tool, ToolError } from "./types.ts";

/** The tools of a run and the MCP processes behind them. */
export interface ToolSet {
  /** Tools by the name the LLM uses. */
  tools: Map<string, Tool>;
  /** Problems met while starting MCP servers (the run continues without them). */
  warnings: string[];
  /** Stops the MCP servers. */
  close(): Promise<void>;
}

/** The LLM-facing name of an MCP tool: `<server>__<tool>`, limited to `[A-Za-z0-9_-]{1,64}`. */
export function mcpToolName(server: string, tool: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_");
  return `${clean(server)}__${clean(tool)}`.slice(0, 64);
}

/** The specs handed to the LLM, in a stable order (local tools first). */
export function toolSpecs(set: ToolSet): ToolSpec[] {
  return [...set.tools.values()].map(({ name, description, parameters }) => ({
    name,
    description,
    parameters,
  }));
}

/** The schema as function parameters: an object schema without the `$schema` key some APIs refuse. */
function llmSchema(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!schema || typeof schema !== "object") return { type: "object", properties: {} };
  const { $schema: _ignored, ...rest } = schema;
  return { type: "object", ...rest };
}

/** Wraps an MCP server's tool as a `Tool`. */
function mcpTool(
  client: McpClient,
  name: string,
  info: { name: string; description?: string; inputSchema?: Record<string, unknown> },
): Tool {
  return {
    name,
    source: `mcp:${client.name}`,
    description: `[${client.name}] ${info.description ?? info.name}`.slice(0, 1000),
    parameters: llmSchema(info.inputSchema),
    run: async (args, { signal }) => {
      const result = await client.callTool(info.name, args, { signal });
      if (result.isError) {
        throw new ToolError(`${name} reported an error: ${result.text.slice(0, 2000)}`);
      }
      return capOutput(result.text);
    },
  };
}

/** Adds `tool` to `tools`, refusing a name that is already taken. */
function register(tools: Map<string, Tool>, tool: Tool): void {
  const existing = tools.get(tool.name);
  if (existing) {
    throw new UsageError(
      `the tool name '${tool.name}' is claimed by both ${existing.source} and ${tool.source}; rename one MCP server`,
    );
  }
  tools.set(tool.name, tool);
}

/**
 * Opens the tool set: local tools, then every server of `mcpConfig` (started in parallel).
 * A server that fails to start is reported in `warnings` and left out.
 */
export async function openToolSet(
  options: LocalToolOptions & { mcpConfig?: string },
): Promise<ToolSet> {
  const tools = new Map<string, Tool>();
  for (const tool of localTools(options)) register(tools, tool);
  const clients: McpClient[] = [];
  const warnings: string[] = [];
  const close = async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
  };
  if (!options.mcpConfig) return { tools, warnings, close };
  const servers = Object.entries(await loadMcpConfig(options.mcpConfig));
  const started = await Promise.allSettled(servers.map(async ([name, config]) => {
    const client = await Client.start(name, { cwd: options.workspace, ...config });
    clients.push(client);
    return { client, list: await client.listTools() };
  }));
  try {
    started.forEach((outcome, i) => {
      if (outcome.status === "rejected") {
        const reason = outcome.reason;
        warnings.push(
          reason instanceof McpError
            ? reason.message
            : `MCP server '${servers[i][0]}' failed: ${reason}`,
        );
        return;
      }
      for (const info of outcome.value.list) {
        register(
          tools,
          mcpTool(outcome.value.client, mcpToolName(outcome.value.client.name, info.name), info),
        );
      }
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { tools, warnings, close };
}

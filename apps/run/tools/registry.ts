/**
 * The tool set of a run: the local tools plus the tools of the configured MCP servers, each MCP
 * tool named `<server>__<tool>` so no server can shadow a local tool or another server's tool.
 *
 * A server's resources and prompts are offered as tools too, when its `initialize` capabilities
 * list them: `<server>__list_resources`, `<server>__read_resource` (`uri`),
 * `<server>__list_prompts` and `<server>__get_prompt` (`name`, `arguments`). A server tool of
 * the same name keeps the name (the generated one is left out, with a warning). Tools that need
 * task augmentation (`execution.taskSupport: "required"`) are not offered, with a warning: a
 * plain call of them can only fail. Every server gets the workspace as its one root.
 *
 * @module
 */
import {
  contentText,
  type McpClient,
  McpClient as Client,
  McpError,
  type McpServerConfig,
  type McpStartOptions,
  type McpToolInfo,
  requiresTask,
  workspaceRoot,
} from "../mcp/client.ts";
import { loadMcpConfig } from "../mcp/config.ts";
import type { ToolSpec } from "../llm/types.ts";
import { UsageError } from "../errors.ts";
import { type LocalToolOptions, localTools } from "./local.ts";
import { capOutput, stringArg, type Tool, ToolError } from "./types.ts";

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

/** `name — title: description`, the parts that are there. */
function described(name: string, title?: string, description?: string): string {
  const about = [title && title !== name ? title : "", description ?? ""].filter(Boolean);
  return about.length ? `${name} — ${about.join(": ").replace(/\s+/g, " ")}` : name;
}

/** A base64 blob as text when its MIME type says it is text (`text/*`, JSON, XML), else undefined. */
function blobText(blob: string | undefined, mimeType: string | undefined): string | undefined {
  if (
    blob === undefined ||
    !/^(text\/|application\/(json|xml)|[^;]*\+(json|xml))/.test(mimeType ?? "")
  ) {
    return undefined;
  }
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(blob), (c) => c.charCodeAt(0)));
  } catch {
    return undefined; // not valid base64
  }
}

/** The resource tools of a server that lists resources. */
function resourceTools(client: McpClient): Tool[] {
  const source = `mcp:${client.name}`;
  const list = mcpToolName(client.name, "list_resources");
  const read = mcpToolName(client.name, "read_resource");
  return [{
    name: list,
    source,
    description:
      `[${client.name}] List the resources (documents, data) MCP server '${client.name}' offers, with their URIs and URI templates; read one with ${read}.`,
    parameters: { type: "object", properties: {} },
    run: async () => {
      const resources = await client.listResources();
      const templates = await client.listResourceTemplates().catch(() => []);
      const lines = resources.map((r) =>
        `${r.uri}  ${described(r.name, r.title, r.description)}${
          r.mimeType ? ` (${r.mimeType})` : ""
        }`
      );
      for (const t of templates) {
        lines.push(`template ${t.uriTemplate}  ${described(t.name, t.title, t.description)}`);
      }
      return capOutput(lines.length ? lines.join("\n") : "(no resources)");
    },
  }, {
    name: read,
    source,
    description:
      `[${client.name}] Read a resource of MCP server '${client.name}' by its URI (from ${list}, a template filled in, or a resource_link in a tool result).`,
    parameters: {
      type: "object",
      properties: { uri: { type: "string", description: "the resource URI" } },
      required: ["uri"],
    },
    run: async (args, { signal }) => {
      const contents = await client.readResource(stringArg(args, "uri"), { signal });
      const parts = contents.map((c) => {
        const text = typeof c.text === "string" ? c.text : blobText(c.blob, c.mimeType);
        if (text === undefined) {
          return `[binary resource ${c.uri}${c.mimeType ? ` (${c.mimeType})` : ""}, ${
            Math.floor((c.blob?.length ?? 0) * 3 / 4)
          } bytes]`;
        }
        return contents.length > 1 ? `--- ${c.uri}\n${text}` : text;
      });
      return capOutput(parts.length ? parts.join("\n") : "(empty resource)");
    },
  }];
}

/** The prompt tools of a server that lists prompts. */
function promptTools(client: McpClient): Tool[] {
  const source = `mcp:${client.name}`;
  const get = mcpToolName(client.name, "get_prompt");
  return [{
    name: mcpToolName(client.name, "list_prompts"),
    source,
    description:
      `[${client.name}] List the prompt templates of MCP server '${client.name}' and their arguments (* = required); get one filled in with ${get}.`,
    parameters: { type: "object", properties: {} },
    run: async () => {
      const prompts = await client.listPrompts();
      const lines = prompts.map((p) => {
        const args = (p.arguments ?? []).map((a) => `${a.name}${a.required ? "*" : ""}`);
        return `${described(p.name, p.title, p.description)}${
          args.length ? ` (arguments: ${args.join(", ")})` : ""
        }`;
      });
      return capOutput(lines.length ? lines.join("\n") : "(no prompts)");
    },
  }, {
    name: get,
    source,
    description:
      `[${client.name}] Get a prompt of MCP server '${client.name}' with its arguments filled in; returns its messages.`,
    parameters: {
      type: "object",
      properties: {
        name: { type: "string", description: "the prompt name" },
        arguments: {
          type: "object",
          description: "the prompt's arguments, as strings",
          additionalProperties: { type: "string" },
        },
      },
      required: ["name"],
    },
    run: async (args, { signal }) => {
      const raw = args.arguments ?? {};
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new ToolError("argument 'arguments' must be an object of strings");
      }
      const values = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
      );
      const prompt = await client.getPrompt(stringArg(args, "name"), values, { signal });
      const lines = prompt.messages.map((m) => `${m.role}: ${contentText(m.content)}`);
      if (prompt.description) lines.unshift(`(${prompt.description})`);
      return capOutput(lines.join("\n"));
    },
  }];
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

/** A started MCP server's tools, named `<server>__<tool>`, and what was left out and why. */
export interface McpTools {
  /** The connected server. */
  client: McpClient;
  /** Its tools (but those that require task augmentation). */
  tools: Tool[];
  /** Tools for its resources and prompts, when its capabilities list them. */
  extras: Tool[];
  /** Tools left out (task-only tools), one sentence each. */
  warnings: string[];
}

/**
 * Starts one MCP server and lists what it offers as tools: its tools (but those that require
 * task augmentation, which are named in `warnings`), and resource and prompt tools when its
 * capabilities list them. Throws `McpError` when the server does not start.
 */
export async function startMcpTools(
  name: string,
  config: McpServerConfig,
  options: McpStartOptions = {},
): Promise<McpTools> {
  const client = await Client.start(name, config, options);
  const warnings: string[] = [];
  const tools: Tool[] = [];
  try {
    const list: McpToolInfo[] = client.capabilities.tools === undefined &&
        (client.capabilities.resources !== undefined || client.capabilities.prompts !== undefined)
      ? [] // a resources- or prompts-only server has no tools/list to ask
      : await client.listTools();
    for (const info of list) {
      if (requiresTask(info)) {
        warnings.push(
          `MCP server '${client.name}': tool '${info.name}' requires task-augmented calls, which loom-run does not make; it is not offered`,
        );
        continue;
      }
      tools.push(mcpTool(client, mcpToolName(client.name, info.name), info));
    }
  } catch (error) {
    await client.close();
    throw error;
  }
  const extras = [
    ...(client.capabilities.resources !== undefined ? resourceTools(client) : []),
    ...(client.capabilities.prompts !== undefined ? promptTools(client) : []),
  ];
  return { client, tools, extras, warnings };
}

/**
 * Adds a started server's tools to `tools`: its own tools (a name already taken is an error),
 * then its resource and prompt tools (a name already taken keeps its owner; the generated tool
 * is left out with a warning pushed to `warnings`).
 */
export function addMcpTools(tools: Map<string, Tool>, set: McpTools, warnings: string[]): void {
  warnings.push(...set.warnings);
  for (const tool of set.tools) register(tools, tool);
  for (const tool of set.extras) {
    const owner = tools.get(tool.name);
    if (owner) {
      warnings.push(
        `MCP server '${set.client.name}': '${tool.name}' is taken by ${owner.source}, so loom-run's tool of that name for the server's resources or prompts is left out`,
      );
    } else register(tools, tool);
  }
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
  const roots = [workspaceRoot(Deno.realPathSync(options.workspace))];
  const started = await Promise.allSettled(servers.map(async ([name, config]) => {
    const set = await startMcpTools(name, { cwd: options.workspace, ...config }, { roots });
    clients.push(set.client);
    return set;
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
      addMcpTools(tools, outcome.value, warnings);
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { tools, warnings, close };
}

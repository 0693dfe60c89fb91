/**
 * `mcpServer()`: an MCP server (stdio) whose tools a chat agent offers the model, named
 * `<server>__<tool>`, with its resources and prompts as tools too when it offers them. The
 * server is started by the agent on first use, once per process, and stopped by `agent.close()`.
 *
 * @module
 */
import type { McpServerConfig } from "./client.ts";

/** What `mcpServer()` takes: a name and how to start the server. */
export interface McpServerOptions extends McpServerConfig {
  /** Name of the server; its tools are offered as `<name>__<tool>`. */
  name: string;
  /**
   * Folders the server may work in, declared as MCP roots (`roots/list`). Relative paths are
   * resolved against the working directory. @default none: the `roots` capability is not declared
   */
  roots?: string[];
}

/** An MCP server for `chatAgent({ mcp: [...] })`: a checked description, started on first use. */
export interface McpServer {
  /** Name of the server. */
  readonly name: string;
  /** How to start it. */
  readonly config: Readonly<McpServerConfig>;
  /** Folders declared as roots. */
  readonly roots?: readonly string[];
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/**
 * Describes an MCP server started over stdio. Nothing starts here: the chat agent starts it on
 * its first step in a process. Only the variables named in `env` (plus PATH, HOME and the like)
 * reach the server, never the rest of this process's environment; `${NAME}` in a value takes
 * this process's NAME.
 *
 * @param options Name, command, arguments, environment, working directory, timeouts, roots.
 * @returns The description to pass in `chatAgent`'s `mcp` list.
 * @throws {TypeError} When the name or command is empty, or `args`/`env`/`roots` are malformed.
 * @throws {RangeError} When a timeout is not a positive number.
 *
 * @example
 * ```ts
 * import { mcpServer } from "@loom/run";
 *
 * const memory = mcpServer({
 *   name: "memory",
 *   command: "npx",
 *   args: ["-y", "@modelcontextprotocol/server-memory"],
 * });
 * console.log(memory.name); // tools are offered as memory__create_entities, ...
 * ```
 */
export function mcpServer(options: McpServerOptions): McpServer {
  const { name, command, args, env, cwd, timeoutMs, initTimeoutMs, roots } = options ?? {};
  const fail = (what: string, value: unknown) =>
    new TypeError(
      `Cannot describe MCP server '${name}' as ${what}: current value is ${JSON.stringify(value)}`,
    );
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]{1,40}$/.test(name)) {
    throw new TypeError(
      `Cannot describe an MCP server as 'name' must be 1 to 40 letters, digits, '_' or '-': current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  if (typeof command !== "string" || command === "") {
    throw fail("'command' must be a non-empty string", command);
  }
  if (args !== undefined && !isStringArray(args)) throw fail("'args' must be strings", args);
  if (
    env !== undefined &&
    !(typeof env === "object" && env !== null &&
      Object.values(env).every((v) => typeof v === "string"))
  ) throw fail("'env' must be an object of strings", env);
  if (cwd !== undefined && typeof cwd !== "string") throw fail("'cwd' must be a path", cwd);
  if (roots !== undefined && !isStringArray(roots)) throw fail("'roots' must be paths", roots);
  for (
    const [key, value] of [["timeoutMs", timeoutMs], ["initTimeoutMs", initTimeoutMs]] as const
  ) {
    if (
      value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value > 0)
    ) {
      throw new RangeError(
        `Cannot describe MCP server '${name}' as '${key}' must be a positive number: current value is ${value}`,
      );
    }
  }
  const config: McpServerConfig = { command };
  if (args) config.args = [...args];
  if (env) config.env = { ...env };
  if (cwd) config.cwd = cwd;
  if (timeoutMs) config.timeoutMs = timeoutMs;
  if (initTimeoutMs) config.initTimeoutMs = initTimeoutMs;
  return Object.freeze({
    name,
    config: Object.freeze(config),
    ...(roots ? { roots: Object.freeze([...roots]) } : {}),
  });
}

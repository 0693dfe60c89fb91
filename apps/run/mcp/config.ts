/**
 * Loading the `--mcp-config` file: `{"name": {"command", "args", "env"}}` (a top-level
 * `mcpServers` object, as other MCP clients write it, is accepted too).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { McpServerConfig } from "./client.ts";

/** Reads and validates an MCP servers file. Throws `UsageError` naming the file and the problem. */
export async function loadMcpConfig(path: string): Promise<Record<string, McpServerConfig>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`the MCP config file '${path}' does not exist`);
    }
    throw new UsageError(
      `the MCP config file '${path}' cannot be read: ${(error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`the MCP config file '${path}' is not valid JSON`);
  }
  if (isObject(json) && isObject(json.mcpServers)) json = json.mcpServers;
  if (!isObject(json)) {
    throw new UsageError(`the MCP config file '${path}' must hold an object of servers`);
  }
  const servers: Record<string, McpServerConfig> = {};
  for (const [name, entry] of Object.entries(json)) {
    const bad = (what: string) => new UsageError(`MCP server '${name}' in '${path}': ${what}`);
    if (!isObject(entry)) throw bad("must be an object with a command");
    if (typeof entry.command !== "string" || entry.command === "") {
      throw bad("'command' must be a non-empty string");
    }
    if (
      entry.args !== undefined &&
      !(Array.isArray(entry.args) && entry.args.every((a) => typeof a === "string"))
    ) {
      throw bad("'args' must be an array of strings");
    }
    if (
      entry.env !== undefined &&
      !(isObject(entry.env) && Object.values(entry.env).every((v) => typeof v === "string"))
    ) {
      throw bad("'env' must be an object of strings");
    }
    if (
      entry.timeoutMs !== undefined && !(typeof entry.timeoutMs === "number" && entry.timeoutMs > 0)
    ) {
      throw bad("'timeoutMs' must be a positive number");
    }
    if (
      entry.initTimeoutMs !== undefined &&
      !(typeof entry.initTimeoutMs === "number" && entry.initTimeoutMs > 0)
    ) {
      throw bad("'initTimeoutMs' must be a positive number");
    }
    servers[name] = {
      command: entry.command,
      args: entry.args as string[] | undefined,
      env: entry.env as Record<string, string> | undefined,
      cwd: typeof entry.cwd === "string" ? entry.cwd : undefined,
      timeoutMs: entry.timeoutMs as number | undefined,
      initTimeoutMs: entry.initTimeoutMs as number | undefined,
    };
  }
  return servers;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

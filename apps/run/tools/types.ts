/**
 * The tool shape shared by local tools and MCP tools.
 *
 * @module
 */
import type { ToolSpec } from "../llm/types.ts";

/** What a tool gets besides its arguments. */
export interface ToolRunOptions {
  /** Aborts the call. */
  signal: AbortSignal;
  /** Tells the user something about this call (a `warning:` line); the LLM sees only the result. */
  warn?: (message: string) => void;
}

/** A tool the agent can call. Its result is text for the LLM (already capped). */
export interface Tool extends ToolSpec {
  /** Where it comes from: `local` or `mcp:<server>`. */
  source: string;
  /** Runs the tool. Throws `ToolError` for failures the LLM should see as an error result. */
  run(args: Record<string, unknown>, options: ToolRunOptions): Promise<string>;
}

/** A tool failure caused by its input (bad path, missing file): shown to the LLM, not retried. */
export class ToolError extends Error {
  /** @param message one clear sentence */
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

/** Largest tool output handed to the LLM, in characters. */
export const OUTPUT_CAP = 16_000;

/** Caps `text` at `cap` characters, saying how much was cut. */
export function capOutput(text: string, cap: number = OUTPUT_CAP): string {
  if (text.length <= cap) return text;
  return `${text.slice(0, cap)}\n[... output truncated: ${text.length - cap} more characters]`;
}

/** Reads a required string argument or throws a `ToolError` naming it. */
export function stringArg(args: Record<string, unknown>, name: string, fallback?: string): string {
  const value = args[name] ?? fallback;
  if (typeof value !== "string") throw new ToolError(`argument '${name}' must be a string`);
  return value;
}

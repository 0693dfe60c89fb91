/**
 * The tool shape shared by your tools (`tool()`), loom-run's local tools and MCP tools.
 *
 * @module
 */
import type { RetryPolicy } from "@loom/runner";
import type { ToolSpec } from "../llm/types.ts";

/**
 * What `Tool.run` gets besides its arguments. The chat agent always sets every field; a test
 * that calls a tool directly may give only `signal`.
 */
export interface ToolRunOptions {
  /** Aborts the call (the run was cancelled or interrupted, or the tool timed out). */
  signal: AbortSignal;
  /** Tells the user something about this call (a `warning:` line); the LLM sees only the result. */
  warn?: (message: string) => void;
  /** The run the call belongs to. */
  runId?: string;
  /** The call's idempotency key: the same in every attempt and process; hand it to external APIs. */
  key?: string;
  /** The model's id for this tool call. */
  callId?: string;
  /** Attempt number, from 1. */
  attempt?: number;
  /** True when an earlier process started this call and died before its result was stored. */
  maybeRanBefore?: boolean;
}

/** A tool the agent can call. Its result is text for the LLM (already capped). */
export interface Tool extends ToolSpec {
  /** Where it comes from: `tool` (made by `tool()`), `local` (loom-run's) or `mcp:<server>`. */
  source: string;
  /**
   * Which failures are retried, and how (the runner's categories; default: `transient` errors,
   * 3 attempts in all). Other failures, and the last one, go to the model as the tool's result.
   */
  retry?: RetryPolicy;
  /** Time limit of one attempt in ms; a timeout is a `transient` failure. */
  timeoutMs?: number;
  /** Runs the tool. Throws for failures (a `ToolError` for those caused by the arguments). */
  run(args: Record<string, unknown>, options: ToolRunOptions): Promise<string>;
}

/**
 * A tool failure caused by its input (bad path, missing file): shown to the model, not retried.
 *
 * @example
 * ```ts
 * import { tool, ToolError } from "@loom/run";
 *
 * const divide = tool({
 *   name: "divide",
 *   description: "Divides a by b.",
 *   parameters: {
 *     type: "object",
 *     properties: { a: { type: "number" }, b: { type: "number" } },
 *     required: ["a", "b"],
 *   },
 *   run: ({ a, b }) => {
 *     if (b === 0) throw new ToolError("b must not be 0");
 *     return a / b;
 *   },
 * });
 * ```
 */
export class ToolError extends Error {
  /** Category for the runner's retry policy: input errors are never retried. */
  readonly category = "validation";
  /**
   * Creates the error.
   *
   * @param message one clear sentence
   */
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

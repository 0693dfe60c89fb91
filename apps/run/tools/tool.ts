/**
 * `tool()`: a function the model can call, with a JSON Schema for its arguments. The chat agent
 * checks the model's arguments against the schema before `run` (a bad argument goes back to the
 * model as a tool error), runs it as a durable call (a finished call is never run again after a
 * crash), retries the failures its `retry` policy names, and shows the model the result as text.
 *
 * @module
 */
import type { RetryPolicy } from "@loom/runner";
import type { JsonSchema, JsonType } from "./json_schema.ts";
import { capOutput, type Tool, type ToolRunOptions } from "./types.ts";

/** What a tool's `run` gets besides its arguments. */
export interface ToolContext {
  /** Aborted when the run is cancelled or interrupted, or the attempt times out. */
  signal: AbortSignal;
  /** The run this call belongs to. */
  runId: string;
  /**
   * The call's idempotency key, the same in every attempt and process: hand it to an external
   * API that deduplicates (a payment, an email) so a repeated attempt is not a second effect.
   */
  key: string;
  /** The model's id for this tool call. */
  callId: string;
  /** Attempt number, from 1 (attempts of earlier processes count). */
  attempt: number;
  /**
   * True when an earlier process started this call and died before its result was stored: the
   * effect may have happened. Ask the external system about `key` before doing it again.
   */
  maybeRanBefore: boolean;
  /** Shows the user a warning about this call; the model sees only the result. */
  warn(message: string): void;
}

/** The TypeScript type of the values a JSON Schema accepts (the subset tools use). */
export type SchemaValue<S> = S extends { enum: readonly (infer E)[] } ? E
  : S extends { const: infer C } ? C
  : S extends { anyOf: readonly (infer A)[] } ? SchemaValue<A>
  : S extends { oneOf: readonly (infer A)[] } ? SchemaValue<A>
  : S extends { type: infer T }
    ? (T extends readonly JsonType[] ? SchemaTypeValue<S, T[number]> : SchemaTypeValue<S, T>)
  : unknown;

/** The TypeScript type of the values of schema `S` that have JSON type `T` (one of its `type`s). */
export type SchemaTypeValue<S, T> = T extends "string" ? string
  : T extends "number" | "integer" ? number
  : T extends "boolean" ? boolean
  : T extends "null" ? null
  : T extends "array" ? (S extends { items: infer I } ? SchemaValue<I>[] : unknown[])
  : T extends "object" ? SchemaObjectValue<S>
  : unknown;

/**
 * The TypeScript type of an object schema's values: its `required` properties, its other
 * properties as optional ones; `Record<string, unknown>` when it lists no properties.
 */
export type SchemaObjectValue<S> = S extends { properties: infer P } ?
    & {
      -readonly [
        K in keyof P as K extends (S extends { required: readonly (infer R)[] } ? R : never) ? K
          : never
      ]: SchemaValue<P[K]>;
    }
    & {
      -readonly [
        K in keyof P as K extends (S extends { required: readonly (infer R)[] } ? R : never) ? never
          : K
      ]?: SchemaValue<P[K]>;
    }
  : Record<string, unknown>;

/** What `tool()` takes. `P` is the parameters schema; `run`'s arguments are typed from it. */
export interface ToolDefinition<P extends JsonSchema> {
  /** Name the model calls it by: 1 to 64 of `A-Z a-z 0-9 _ -`. */
  name: string;
  /** What it does and when to use it, for the model. */
  description: string;
  /** JSON Schema of the arguments object (`type: "object"`); checked before every `run`. */
  parameters: P;
  /**
   * Does the work. Its return value is the model's tool result: a string as it is, anything
   * else as JSON (both capped at 16 000 characters). Throw to fail: a `ToolError` (or any error
   * whose category is not retried) goes to the model as `error: <message>`.
   */
  run(args: SchemaValue<P>, context: ToolContext): unknown;
  /**
   * Retries of failures by the runner's categories (the error's `category`, an HTTP `status`,
   * network errors are `transient`...). Default: `transient` failures, 3 attempts in all.
   */
  retry?: RetryPolicy;
  /** Time limit of one attempt in ms; a timeout is a `transient` failure. Default: none. */
  timeoutMs?: number;
}

/** Names the model can call a tool by (OpenAI's rule). */
export const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks a tool definition; throws a `TypeError` or `RangeError` naming what is wrong. */
function checkDefinition(def: ToolDefinition<JsonSchema>): void {
  if (!isObject(def)) {
    throw new TypeError(`Cannot create a tool as its definition must be an object: got ${def}`);
  }
  const bad = (what: string, value: unknown) =>
    new TypeError(
      `Cannot create tool '${def.name}' as ${what}: current value is ${JSON.stringify(value)}`,
    );
  if (typeof def.name !== "string" || !TOOL_NAME.test(def.name)) {
    throw new TypeError(
      `Cannot create a tool as 'name' must be 1 to 64 letters, digits, '_' or '-': current value is ${
        JSON.stringify(def.name)
      }`,
    );
  }
  if (typeof def.description !== "string" || def.description.trim() === "") {
    throw bad("'description' must be a non-empty string", def.description);
  }
  if (!isObject(def.parameters) || def.parameters.type !== "object") {
    throw bad(`'parameters' must be a JSON Schema with type "object"`, def.parameters);
  }
  if (typeof def.run !== "function") throw bad("'run' must be a function", typeof def.run);
  if (
    def.timeoutMs !== undefined &&
    !(typeof def.timeoutMs === "number" && Number.isFinite(def.timeoutMs) && def.timeoutMs > 0)
  ) {
    throw new RangeError(
      `Cannot create tool '${def.name}' as 'timeoutMs' must be a positive number: current value is ${def.timeoutMs}`,
    );
  }
  const attempts = def.retry?.maxAttempts;
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
    throw new RangeError(
      `Cannot create tool '${def.name}' as 'retry.maxAttempts' must be a positive integer: current value is ${attempts}`,
    );
  }
}

/** A tool's return value as the text the model reads. */
export function resultText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(value) ?? String(value);
}

/**
 * Defines a tool for `chatAgent`. The definition is checked at once (name, description, an
 * object schema, `run`); the arguments `run` receives are typed from the schema.
 *
 * @param definition Name, description, parameters schema, `run`, and optional retry/timeout.
 * @returns The tool.
 * @throws {TypeError} When the name, description, parameters or run is missing or malformed.
 * @throws {RangeError} When `timeoutMs` or `retry.maxAttempts` is not positive.
 *
 * @example
 * ```ts
 * import { tool } from "@loom/run";
 *
 * const forecast = tool({
 *   name: "forecast",
 *   description: "Tomorrow's weather for a city.",
 *   parameters: {
 *     type: "object",
 *     properties: { city: { type: "string" }, unit: { enum: ["C", "F"] } },
 *     required: ["city"],
 *     additionalProperties: false,
 *   },
 *   run: ({ city, unit = "C" }) => ({ city, high: unit === "C" ? 21 : 70, sky: "sunny" }),
 * });
 * ```
 */
export function tool<const P extends JsonSchema>(definition: ToolDefinition<P>): Tool {
  checkDefinition(definition as unknown as ToolDefinition<JsonSchema>);
  const { name, description, parameters, retry, timeoutMs } = definition;
  const run = definition.run as (args: unknown, context: ToolContext) => unknown;
  return Object.freeze({
    name,
    description,
    parameters: parameters as Record<string, unknown>,
    source: "tool",
    retry,
    timeoutMs,
    run: async (args: Record<string, unknown>, options: ToolRunOptions): Promise<string> => {
      const context: ToolContext = {
        signal: options.signal,
        runId: options.runId ?? "",
        key: options.key ?? "",
        callId: options.callId ?? "",
        attempt: options.attempt ?? 1,
        maybeRanBefore: options.maybeRanBefore ?? false,
        warn: options.warn ?? (() => {}),
      };
      return capOutput(resultText(await run(args, context)));
    },
  });
}

/**
 * Agent definitions: `defineAgent` and the policies an agent may carry.
 *
 * @module
 */
import type { TailCall } from "@loom/tailcalls";
import type { StepContext } from "./context.ts";
import type { RetryPolicy } from "./retry.ts";
import { sha256Hex } from "../json.ts";

/**
 * Which checkpoints a run keeps. `full` keeps the checkpoint after every step; `compact` keeps
 * every `every`-th one (default 100) plus the latest. Step rows (step, attempt, timing) are kept
 * for every step in both modes.
 */
export type CheckpointPolicy =
  | "full"
  | "compact"
  | { mode: "full" }
  | { mode: "compact"; every?: number };

/** How much of a call result is stored inline. Results above the cap are stored as a stub. */
export interface PayloadPolicy {
  /** Largest call result stored whole, in UTF-8 bytes of its JSON. @default 1_048_576 (1 MiB) */
  maxInlineBytes?: number;
}

/** What `defineAgent` takes. `S` state, `R` final result, `I` input given at start. */
export interface AgentDefinition<S, R, I = unknown> {
  /** Agent name, recorded with each run; a run can only be resumed by an agent of that name. */
  name: string;
  /** Version of the state shape; resuming a run of another version calls `migrate`. @default 1 */
  version?: number;
  /** The first state, from the run's input. Called once when a run starts. */
  initialState: (input: I) => S;
  /** One transition: return a final value, or `recur(nextState)` to checkpoint and continue. */
  step(state: S, ctx: StepContext): R | TailCall<[S]> | Promise<R | TailCall<[S]>>;
  /**
   * Retry policy of the steps (tool calls take their own in `ctx.callTool`).
   * @default `{}`: 3 attempts, transient errors only (see `RetryPolicy`)
   */
  retry?: RetryPolicy;
  /** Converts a state stored by an older `version` (given as plain JSON) into the current shape. */
  migrate?: (state: unknown, fromVersion: number) => S;
  /** Turns the state into plain JSON before storage (for custom types). */
  encode?: (state: S) => unknown;
  /** Turns stored JSON back into the state (inverse of `encode`). */
  decode?: (json: unknown) => S;
  /**
   * The step never mutates the state it receives (nor anything `encode` returned before): it
   * returns new objects for what changed, e.g. `recur({ ...state, messages: [...state.messages,
   * m] })`. Unchanged parts are then recognised by reference, so writing a step's checkpoint costs
   * about its change, not the whole state. Without it only frozen (`Object.freeze`) parts are
   * recognised by reference and the rest is compared value by value. A step that mutates anyway
   * gets wrong checkpoints; set `LOOM_CHECK_IMMUTABLE=1` in tests to make such a step fail with
   * the path of what it changed.
   * @default false
   */
  immutableState?: boolean;
  /** Steps an invocation runs before pausing, unless `RunOptions.maxSteps` says. @default no limit */
  maxSteps?: number;
  /** Checkpoint policy of new runs (stored with the run). @default "full" */
  checkpoint?: CheckpointPolicy;
  /** Payload policy of new runs' call results (stored with the run). @default 1 MiB inline */
  payload?: PayloadPolicy;
  /** URL of the defining module, used for the source hash. Found from the call stack if omitted. */
  moduleUrl?: string;
}

/** Brand of agents made by `defineAgent` (`Symbol.for`, so copies of the library agree). */
export const AGENT_BRAND: unique symbol = Symbol.for("loom.agent") as never;

/** A defined agent, as returned by `defineAgent`. */
export interface Agent<S = unknown, R = unknown, I = unknown> extends AgentDefinition<S, R, I> {
  /** Brand checked when a module is loaded by the CLI. */
  readonly [AGENT_BRAND]: true;
  /** `AgentDefinition.version`, 1 when it was left out. */
  readonly version: number;
}

/** True when `value` is an agent made by `defineAgent`. */
export function isAgent(value: unknown): value is Agent<unknown, unknown, unknown> {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[AGENT_BRAND] === true;
}

function callerModuleUrl(): string | undefined {
  const stack = new Error().stack ?? "";
  const here = import.meta.url;
  for (const m of stack.matchAll(/((?:file|https?):\/\/[^\s()]+?):\d+:\d+/g)) {
    if (m[1] !== here) return m[1];
  }
  return undefined;
}

/**
 * Defines an agent. State and result types flow from `initialState` and `step`.
 *
 * @example
 * ```ts
 * import { defineAgent, recur } from "@loom/runner";
 * export default defineAgent({
 *   name: "counter",
 *   initialState: () => ({ current: 0, target: 10 }),
 *   step(state, ctx) {
 *     if (state.current >= state.target) return { current: state.current, steps: ctx.step };
 *     return recur({ ...state, current: state.current + 1 });
 *   },
 * });
 * ```
 */
export function defineAgent<S, R, I = unknown>(def: AgentDefinition<S, R, I>): Agent<S, R, I> {
  if (!def || typeof def.name !== "string" || def.name === "") {
    throw new TypeError("defineAgent needs a non-empty name");
  }
  if (typeof def.step !== "function" || typeof def.initialState !== "function") {
    throw new TypeError(`agent ${def.name} needs step and initialState functions`);
  }
  const version = def.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new TypeError(`agent ${def.name} has an invalid version ${version}`);
  }
  return Object.freeze({
    ...def,
    version,
    moduleUrl: def.moduleUrl ?? callerModuleUrl(),
    [AGENT_BRAND]: true as const,
  });
}

const hashCache = new Map<string, string | null>();

/** SHA-256 of the agent's module source, or `null` when the source cannot be read. */
export function agentSourceHash(agent: Agent<unknown, unknown, unknown>): string | null {
  const url = agent.moduleUrl;
  if (!url || !url.startsWith("file:")) return null;
  let hash = hashCache.get(url);
  if (hash === undefined) {
    try {
      hash = sha256Hex(Deno.readTextFileSync(new URL(url))).slice(0, 16);
    } catch {
      hash = null;
    }
    hashCache.set(url, hash);
  }
  return hash;
}

/**
 * Fault injection for scenarios. Tool faults wrap the agent, not the runner: `withFaults`
 * returns an agent of the same name and version whose `step` receives a context whose
 * `callTool` wraps the tool function, so the runner's own retry, timeout and idempotency code
 * is what gets exercised. Faults are plain JSON so the crash driver subprocess applies the same
 * ones.
 *
 * @module
 */
import { type Agent, defineAgent } from "../engine/agent.ts";
import type { StepContext, ToolCallContext } from "../engine/context.ts";
import { LoomError } from "../errors.ts";

/** A fault on every call of one tool. */
export interface ToolFault {
  /** Tool name as given to `ctx.callTool`. */
  name: string;
  /** The first `failTimes` attempts of each call fail with a transient error. @default 0 */
  failTimes?: number;
  /** How long a slow attempt waits before the tool runs, ms. @default none: no attempt is slow */
  delayMs?: number;
  /** How many attempts of each call are slow (when `delayMs` is set). @default 1 */
  slowTimes?: number;
  /** Message of the injected error. @default one naming the tool and the attempt */
  message?: string;
}

/** What can go wrong in a scenario. */
export interface Faults {
  /**
   * Run the agent in a real subprocess and SIGKILL it once step `crashAfterStep` (0-based, as
   * in the run's history) is committed; the scenario then resumes the run in-process. Needs
   * the agent as a module (`agent: new URL("./agent.ts", import.meta.url)`). For app commands,
   * the first invocation gets `LOOM_TEST_CRASH_AFTER_STEP=<runId>:<step>` and the runner's
   * engine SIGKILLs that process itself right after the step's commit.
   */
  crashAfterStep?: number;
  /** Tool faults (transient failures, slowness). */
  tools?: ToolFault[];
}

/** The transient error a faulty tool throws. */
export class InjectedFault extends LoomError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { category: "transient" });
    this.name = "InjectedFault";
  }
}

function wait(ms: number, abortSignal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abortSignal.aborted) return reject(abortSignal.reason);
    const timer = setTimeout(() => {
      abortSignal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortSignal.reason);
    };
    abortSignal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Wraps a tool function with the fault for its name. */
function faulty<T>(
  fault: ToolFault,
  // deno-lint-ignore no-explicit-any
  fn: (args: any, info: ToolCallContext) => T | Promise<T>,
  // deno-lint-ignore no-explicit-any
): (args: any, info: ToolCallContext) => Promise<T> {
  return async (args, info) => {
    if (fault.delayMs !== undefined && info.attempt <= (fault.slowTimes ?? 1)) {
      // Abortable, so the runner's per-attempt timeout really interrupts the slow attempt.
      await wait(fault.delayMs, info.abortSignal);
    }
    if (info.attempt <= (fault.failTimes ?? 0)) {
      throw new InjectedFault(
        fault.message ??
          `injected fault: ${fault.name} fails (attempt ${info.attempt} of ${fault.failTimes})`,
      );
    }
    return await fn(args, info);
  };
}

/** A step context whose `callTool` applies the faults; everything else is the real context. */
function faultyContext(ctx: StepContext, faults: Map<string, ToolFault>): StepContext {
  return new Proxy(ctx, {
    get(target, prop) {
      if (prop === "callTool") {
        return (
          name: string,
          args: unknown,
          // deno-lint-ignore no-explicit-any
          fn: (args: any, info: ToolCallContext) => unknown,
          options?: Parameters<StepContext["callTool"]>[3],
        ) => {
          const fault = faults.get(name);
          return target.callTool(name, args, fault ? faulty(fault, fn) : fn, options);
        };
      }
      const value = Reflect.get(target, prop, target);
      // Methods of the real context use private fields: call them on the real object.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Returns the agent with tool faults applied (or the agent itself when there are none). The
 * result has the same name, version and module, so runs resume across the two interchangeably.
 *
 * @param agent The agent under test.
 * @param faults The faults.
 * @returns An agent whose tool calls misbehave as described.
 */
export function withFaults<S, R, I>(
  agent: Agent<S, R, I>,
  faults: Faults | undefined,
): Agent<S, R, I> {
  const tools = new Map((faults?.tools ?? []).map((t) => [t.name, t]));
  if (tools.size === 0) return agent;
  return defineAgent<S, R, I>({
    ...agent,
    moduleUrl: agent.moduleUrl,
    step: (state, ctx) => agent.step(state, faultyContext(ctx, tools)),
  });
}

/**
 * The executor agent (`<id>:executor`, later rounds `<id>:executor.2`, …, and `<id>:rollback`):
 * runs a round's ready steps, at most `parallel` at a time, each command an idempotent tool call.
 *
 * @module
 */
import { type Agent, defineAgent, recur } from "@loom/runner";
import type { CommandRunner } from "./command.ts";
import type { ExecutorState, StepResult } from "./state.ts";
import { NO_RETRY } from "./_util.ts";

/** The executor agent: its input is its state, its result the round's command results. */
export type ExecutorAgent = Agent<ExecutorState, StepResult[], ExecutorState>;

/** What {@link createExecutorAgent} needs. */
export interface ExecutorAgentDeps {
  /** Runs one command as a durable tool call. */
  runCommand: CommandRunner;
}

/** Creates the executor agent (`ops-executor`). */
export function createExecutorAgent(deps: ExecutorAgentDeps): ExecutorAgent {
  const { runCommand } = deps;
  return defineAgent<ExecutorState, StepResult[], ExecutorState>({
    name: "ops-executor",
    retry: NO_RETRY,
    initialState: (input) => input,
    async step(state, ctx) {
      if (state.next >= state.items.length) return state.results;
      // One transition runs one bounded batch of independent steps in parallel.
      const batch = state.items.slice(state.next, state.next + Math.max(1, state.config.parallel));
      const results = await Promise.all(batch.map(async ({ step, attempt }) => {
        if (attempt > 1 && step.retry.delayMs > 0) await ctx.sleep(step.retry.delayMs);
        const exec = await runCommand(
          ctx,
          state.root,
          state.config,
          step,
          attempt,
          step.run,
          "command",
        );
        return { step: step.id, attempt, exec };
      }));
      return recur({
        ...state,
        next: state.next + batch.length,
        results: [...state.results, ...results],
      });
    },
  });
}

/**
 * Access to the run store for the commands: opening it, reading a run's latest state.
 *
 * @module
 */
import { openStore, type Store } from "@loom/runner";

/** Opens the SQLite run store at `path` (created when missing). */
export function openRunStore(path: string): Store {
  return openStore(path);
}

/**
 * The latest stored state of a run, parsed (the final step keeps no state, so this walks back to
 * the last checkpoint), or the initial state when no step has committed.
 */
export async function latestState(store: Store, runId: string): Promise<unknown> {
  const steps = await store.listSteps(runId);
  for (let i = steps.length - 1; i >= 0; i--) {
    const state = steps[i].state;
    if (state !== null) return JSON.parse(state);
  }
  const run = await store.getRun(runId);
  return run?.initialState ? JSON.parse(run.initialState) : undefined;
}

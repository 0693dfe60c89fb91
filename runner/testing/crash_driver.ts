/**
 * The subprocess half of the `crashAfterStep` fault: runs an agent module on the scenario's
 * database, prints `LOOM_CRASH_POINT <step>` once that step is committed and then freezes the
 * thread, so nothing further is committed before the parent's SIGKILL lands. Run by the
 * scenario machinery only: `deno run -A crash_driver.ts '<json config>'`.
 *
 * @module
 */
import { isAgent } from "../engine/agent.ts";
import { startRun } from "../engine/engine.ts";
import { openStore } from "../store/sqlite.ts";
import { type Faults, withFaults } from "./faults.ts";

/** What the parent hands the driver. */
export interface CrashDriverConfig {
  /** URL of the module that defines the agent. */
  module: string;
  /** The export holding the agent, e.g. `default`. */
  exportName: string;
  /** The SQLite file the run is stored in. */
  db: string;
  /** The run the driver starts. */
  runId: string;
  /** What the agent's `initialState` receives. */
  input: unknown;
  /** Faults (the driver applies the tool faults too). */
  faults: Faults;
  /** Step after whose commit the process freezes. */
  crashAfterStep: number;
}

/** The line the driver prints at the crash point. */
export const CRASH_POINT = "LOOM_CRASH_POINT";

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0]) as CrashDriverConfig;
  // The scenario's agent module, by absolute URL, known only at run time (deno publish warns
  // "unanalyzable dynamic import"; nothing to rewrite: it needs no import map of ours).
  const mod = await import(config.module);
  const agent = mod[config.exportName];
  if (!isAgent(agent)) {
    console.error(`error: ${config.module} has no agent export "${config.exportName}"`);
    Deno.exit(2);
  }
  const store = openStore(config.db);
  const encoder = new TextEncoder();
  const result = await startRun(withFaults(agent, config.faults), {
    store,
    runId: config.runId,
    input: config.input,
    logger: { info() {}, warn() {}, error() {} },
    observer: {
      onStepEnd(info) {
        if (info.runId !== config.runId || info.step < config.crashAfterStep) return;
        Deno.stdout.writeSync(encoder.encode(`${CRASH_POINT} ${info.step}\n`));
        // Observers run synchronously inside the engine: blocking here stops the run right
        // after this commit, so the kill point is exact, not a race.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      },
    },
  });
  // Reaching this line means the run ended before the crash point.
  console.log(`LOOM_RUN_ENDED ${result.status} ${result.steps}`);
  store.close();
}

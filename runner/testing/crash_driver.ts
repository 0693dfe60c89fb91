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
  /** Module of the agent. */
  module: string;
  /** Export holding the agent (default `default`). */
  exportName: string;
  /** Database file. */
  db: string;
  /** Run id. */
  runId: string;
  /** Run input. */
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
        if (info.runId !== config.runId || info.stepIndex < config.crashAfterStep) return;
        Deno.stdout.writeSync(encoder.encode(`${CRASH_POINT} ${info.stepIndex}\n`));
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

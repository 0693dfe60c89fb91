/**
 * Test-only fault hook: lets a test SIGKILL a runner process at an exact point, right after a
 * given step is committed, when the process is a subprocess it cannot reach into (an app's CLI).
 * Not part of the public API; never set it outside tests.
 *
 * `LOOM_TEST_CRASH_AFTER_STEP=<step>` makes the process SIGKILL itself right after step `<step>`
 * (0-based, as in the run's history) of any run is committed, before anything else is written;
 * `LOOM_TEST_CRASH_AFTER_STEP=<runId>:<step>` limits it to that run (the last `:` separates).
 *
 * The variable is read once, when this module loads, and only when env access to it is already
 * granted (no permission prompt): unset, the hook is one comparison per committed step.
 *
 * @module
 */

/** Name of the environment variable read by {@linkcode crashIfRequested}. */
export const CRASH_AFTER_STEP_ENV = "LOOM_TEST_CRASH_AFTER_STEP";

/** Where the process is asked to die: after `step` of `runId` (any run when undefined). */
export interface CrashPoint {
  /** Run id, or undefined for any run. */
  runId?: string;
  /** Step after whose commit the process SIGKILLs itself. */
  step: number;
}

/**
 * Parses a value of {@linkcode CRASH_AFTER_STEP_ENV}.
 *
 * @param value `<step>` or `<runId>:<step>`; undefined or empty means no crash point.
 * @returns The crash point, or undefined.
 * @throws {TypeError} When the value is neither form.
 */
export function parseCrashPoint(value: string | undefined): CrashPoint | undefined {
  if (value === undefined || value === "") return undefined;
  const match = /^(?:(.+):)?(\d+)$/.exec(value);
  if (!match) {
    throw new TypeError(
      `${CRASH_AFTER_STEP_ENV} must be "<step>" or "<runId>:<step>" with a step number: current value is "${value}"`,
    );
  }
  return { runId: match[1], step: Number(match[2]) };
}

function readEnv(): string | undefined {
  try {
    const env = { name: "env", variable: CRASH_AFTER_STEP_ENV } as const;
    if (Deno.permissions.querySync(env).state !== "granted") return undefined;
    return Deno.env.get(CRASH_AFTER_STEP_ENV);
  } catch {
    return undefined; // no Deno.permissions / Deno.env here: no hook
  }
}

const crashPoint = parseCrashPoint(readEnv());

/**
 * Called by the engine right after it committed `step` of `runId`: SIGKILLs this process when
 * that is the configured crash point. Does nothing when the variable is unset.
 *
 * @param runId Run whose step was just committed.
 * @param step The committed step.
 */
export function crashIfRequested(runId: string, step: number): void {
  if (crashPoint === undefined || step !== crashPoint.step) return;
  if (crashPoint.runId !== undefined && crashPoint.runId !== runId) return;
  try {
    Deno.kill(Deno.pid, "SIGKILL");
  } catch (e) {
    console.error(`${CRASH_AFTER_STEP_ENV}: could not SIGKILL this process: ${e}`);
  }
  // SIGKILL is not delivered synchronously everywhere: block until it lands, so nothing more
  // is committed in between (and if it never does, exit without running any more code).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  Deno.exit(137);
}

// Helpers shared by the runner's tests (not exported from mod.ts).
import type { StepLogger } from "./engine/context.ts";
import type { RunRecord, Store } from "./store/store.ts";
import { testBackend } from "./testing/_stores.ts";
import type { SeededRandom } from "./testing/seed.ts";
import { waitFor } from "./testing/wait.ts";

/**
 * A fresh store for one test and a temp dir, removed afterwards: a SQLite file, or a PostgreSQL
 * schema when `LOOM_TEST_STORE=postgres` (engine_postgres_test.ts runs the engine suite so).
 */
export async function withTempStore(
  fn: (store: Store, dir: string) => Promise<void>,
): Promise<void> {
  const backend = testBackend();
  const dir = await Deno.makeTempDir({ prefix: "loom-runner-test-" });
  const t = await backend.open();
  try {
    await fn(t.store, dir);
  } finally {
    await t.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A logger that keeps lines instead of printing them. */
export function memoryLogger(): StepLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

/** When one round of a crash test SIGKILLs the crash fixture (testdata/crash_agent.ts). */
export interface PlannedKill {
  /**
   * Kill once this process wrote the side effect of this step (or a later one), then wait
   * `delayMs`; undefined for a start-up kill: after `delayMs` or at the first side effect,
   * whichever comes first.
   */
  afterStep?: number;
  /** Seeded delay before the kill, so kills land in tool calls, between effect and record, and in commits. */
  delayMs: number;
}

/**
 * A seeded kill plan for `rounds` processes of a run of `steps` steps: round 0 dies in start-up
 * (within `startupMs`), the others after increasing side-effect steps spread over the run but
 * at least `margin` steps before its end, each after a further 0-`maxDelayMs` ms.
 */
export function planKills(
  random: SeededRandom,
  options: { steps: number; rounds: number; margin: number; maxDelayMs: number; startupMs: number },
): PlannedKill[] {
  const { steps, rounds, margin, maxDelayMs, startupMs } = options;
  const last = steps - margin;
  if (last < rounds) {
    throw new RangeError(
      `cannot plan ${rounds} kills in ${steps} steps with a margin of ${margin}`,
    );
  }
  const targets = new Set<number>();
  while (targets.size < rounds - 1) targets.add(random.int(1, last));
  return [
    { delayMs: random.int(0, startupMs) },
    ...[...targets].sort((a, b) => a - b).map((afterStep) => ({
      afterStep,
      delayMs: random.int(0, maxDelayMs),
    })),
  ];
}

/** Size of a file, 0 when missing. */
export function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Step of the last side effect the crash fixture wrote to `effects` ("<run>:<step>:…"), or -1. */
export function lastEffectStep(effects: string): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(effects);
  } catch {
    return -1;
  }
  const lines = text.trimEnd().split("\n");
  const step = Number(lines[lines.length - 1].split(":")[1]);
  return Number.isInteger(step) ? step : -1;
}

/**
 * SIGKILLs `child` (the crash fixture, started when `effects` had `sizeBefore` bytes) as `plan`
 * says, or at once when it holds the final step (`held` exists: no side effect will follow);
 * gives up quietly once `exited()` (the process ended by itself: the caller's assertions report
 * it).
 */
export async function killAsPlanned(
  child: Deno.ChildProcess,
  plan: PlannedKill,
  files: { effects: string; held: string },
  sizeBefore: number,
  exited: () => boolean,
): Promise<void> {
  const started = Date.now();
  const newEffect = () => fileSize(files.effects) > sizeBefore;
  const holding = () => exists(files.held);
  if (plan.afterStep === undefined) {
    await waitFor(
      `${plan.delayMs} ms or the first side effect`,
      () => exited() || holding() || newEffect() || Date.now() - started >= plan.delayMs,
      { intervalMs: 1 },
    );
  } else {
    const step = plan.afterStep;
    await waitFor(
      `the side effect of step ${step}`,
      () => exited() || holding() || (newEffect() && lastEffectStep(files.effects) >= step),
      { intervalMs: 1 },
    );
    if (!holding()) await new Promise((r) => setTimeout(r, plan.delayMs));
  }
  if (exited()) return;
  try {
    child.kill("SIGKILL");
  } catch { /* exited meanwhile */ }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A hand-driven clock for {@linkcode withFakeClock}. */
export interface FakeClock {
  /** The time `Date.now()` returns. */
  now: number;
  /** Moves the clock forward. */
  advance(ms: number): void;
}

/**
 * Runs `fn` with `Date.now()` frozen at the real time it starts and moved only by
 * `clock.advance`: deadlines, wake times and lease expiries become exact, whatever the machine's
 * speed. Timers (`setTimeout`) stay real, so code must not wait on them for the faked time.
 */
export async function withFakeClock(fn: (clock: FakeClock) => Promise<void>): Promise<void> {
  const realNow = Date.now;
  const clock: FakeClock = {
    now: realNow(),
    advance(ms) {
      clock.now += ms;
    },
  };
  Date.now = () => clock.now;
  try {
    await fn(clock);
  } finally {
    Date.now = realNow;
  }
}

/** A fixed time for records built by tests (ms since epoch). */
export const T0 = 1_790_000_000_000;

/** A paused run record with every field set; `fields` override. */
export function runRecord(runId: string, fields: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    agentName: "a",
    agentVersion: 1,
    agentHash: null,
    status: "paused",
    parentRunId: null,
    parentStep: null,
    forkOfRunId: null,
    forkOfStep: null,
    firstStep: 0,
    initialState: "{}",
    input: null,
    result: null,
    error: null,
    errorCategory: null,
    waiting: null,
    policy: '{"checkpoint":"full","every":1,"maxInlineBytes":1048576}',
    patchedStep: null,
    patchedState: null,
    leaseOwner: null,
    leaseExpires: null,
    retryStep: null,
    retryBase: 0,
    createdAt: T0,
    updatedAt: T0,
    endedAt: null,
    ...fields,
  };
}

/** Child processes a test started and has not seen exit; `reap()` in a `finally` leaks none. */
export class LiveProcesses {
  #live = new Set<Deno.ChildProcess>();

  /** Tracks a started process. */
  add(child: Deno.ChildProcess): void {
    this.#live.add(child);
  }

  /** Waits for a tracked process to exit; its exit and its output, decoded. */
  async finish(
    child: Deno.ChildProcess,
  ): Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }> {
    const out = await child.output();
    this.#live.delete(child);
    const dec = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  }

  /** SIGKILLs the processes still running and waits for them. */
  async reap(): Promise<void> {
    for (const child of this.#live) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.output();
      this.#live.delete(child);
    }
  }
}

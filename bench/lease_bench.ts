/**
 * Lease-owner liveness benchmark, against baselines measured in the same run:
 *
 * - **Takeover after SIGKILL under least privilege**: a CLI process (`--allow-read=DIR,AGENTS
 *   --allow-write=DIR`) is SIGKILLed right after step 2 (`LOOM_TEST_CRASH_AFTER_STEP`), then
 *   `resume` is timed until it succeeds; the baseline is the same `resume` command of a run that
 *   was paused cleanly (nothing to take over). A ratio near 1 means no waiting for the lease
 *   (30 s) at all.
 * - **Owner lock cost per invocation**: `startRun` of a two-step run on a SQLite file, and the
 *   owner lock's hold and release alone (what each invocation adds when its process holds no
 *   other run).
 *
 *     deno run -A bench/lease_bench.ts [--rounds 5] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { defineAgent, openStore, recur, startRun } from "@loom/runner";
import { holdOwnerLock, ownerLockDir } from "../runner/engine/owner_lock.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string" }, json: { type: "boolean" } },
});
const ROUNDS = Number(values.rounds ?? 5);
const CLI = new URL("../runner/cli.ts", import.meta.url).pathname;
const RUNNER = new URL("../runner", import.meta.url).pathname;
const AGENT = `${RUNNER}/testdata/held_agent.ts`;

async function cli(dir: string, args: string[], crashAt?: string): Promise<Deno.CommandOutput> {
  const env = crashAt ? ["--allow-env=LOOM_TEST_CRASH_AFTER_STEP"] : [];
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-read=${dir},${RUNNER}`, `--allow-write=${dir}`, ...env, CLI, ...args],
    env: crashAt ? { LOOM_TEST_CRASH_AFTER_STEP: crashAt } : {},
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
}

/** Ms from the end of the killed (or paused) process to the first successful resume. */
async function resumeAfter(kill: boolean): Promise<{ ms: number; attempts: number }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-lease-bench-" });
  try {
    const db = `${dir}/runs.sqlite`;
    const run = ["run", AGENT, "--run-id", "b", "--db", db, "--input", '{"n":5}'];
    const first = kill ? await cli(dir, run, "b:2") : await cli(dir, [...run, "--max-steps", "3"]);
    if (kill ? first.signal !== "SIGKILL" : first.code !== 1 && first.code !== 0) {
      throw new Error(`the first process ended unexpectedly: ${first.code}`);
    }
    const t0 = performance.now();
    for (let attempts = 1;; attempts++) {
      const out = await cli(dir, ["resume", AGENT, "--run-id", "b", "--db", db]);
      if (out.success) return { ms: performance.now() - t0, attempts };
      if (attempts > 200) throw new Error(new TextDecoder().decode(out.stderr));
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function invocationCost(): Promise<{ startRunUs: number; holdUs: number }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-lease-bench-" });
  const store = openStore(`${dir}/runs.sqlite`);
  try {
    const agent = defineAgent({
      name: "two",
      initialState: () => 0,
      step: (s: number) => s >= 1 ? s : recur(s + 1),
    });
    const n = 2000;
    for (let i = 0; i < 200; i++) await startRun(agent, { store, runId: `w${i}` });
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await startRun(agent, { store, runId: `r${i}` });
    const startRunUs = (performance.now() - t0) / n * 1000;
    const lockDir = ownerLockDir(`${dir}/runs.sqlite`);
    t0 = performance.now();
    for (let i = 0; i < n; i++) holdOwnerLock(lockDir).release();
    return { startRunUs, holdUs: (performance.now() - t0) / n * 1000 };
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const killed: number[] = [];
const paused: number[] = [];
let maxAttempts = 0;
for (let i = 0; i < ROUNDS; i++) {
  const k = await resumeAfter(true);
  killed.push(k.ms);
  maxAttempts = Math.max(maxAttempts, k.attempts);
  paused.push((await resumeAfter(false)).ms);
}
const cost = await invocationCost();
const result = {
  resumeAfterKillMs: Math.round(median(killed)),
  resumeAfterPauseMs: Math.round(median(paused)),
  ratio: Number((median(killed) / median(paused)).toFixed(2)),
  maxAttempts,
  startRunUs: Math.round(cost.startRunUs),
  ownerLockHoldUs: Math.round(cost.holdUs),
  holdShare: Number((cost.holdUs / cost.startRunUs).toFixed(3)),
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `resume right after SIGKILL (least privilege): ${result.resumeAfterKillMs} ms, ` +
      `${result.maxAttempts} attempt(s) at most; after a clean pause: ${result.resumeAfterPauseMs} ms ` +
      `(ratio ${result.ratio}; without owner locks the first would wait for the 30 s lease)`,
  );
  console.log(
    `owner lock per invocation: ${result.ownerLockHoldUs} µs of a ${result.startRunUs} µs ` +
      `two-step startRun on a file (${(result.holdShare * 100).toFixed(1)} %)`,
  );
}

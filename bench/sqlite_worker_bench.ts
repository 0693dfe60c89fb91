/**
 * Workers on a SQLite file: how fast an idle `loom-runner worker --db FILE` picks up a signal
 * sent by another process, how late it resumes a due timer, and what it costs while idle.
 *
 * - signal -> pickup: from the signal's commit (`signals.sent_at`) to the worker's `resumed`
 *   event for that run (both ms since epoch, one host). Target: < 200 ms.
 * - timer lateness: from a suspended timer's wake-up time (`calls.deadline`) to the `resumed`
 *   event. Target: < 100 ms.
 * - idle CPU: user+system time of the worker process (`/proc/PID/stat`) over a window in which
 *   nothing happens, against, in the same window, an idle Deno process (baseline: a pending
 *   timer) and a worker polling every 50 ms (`--poll-interval 50`, what a polling design costs);
 *   then while another process commits steps to the same file (each commit wakes the worker,
 *   at most once per 50 ms).
 *
 * `deno run -A bench/sqlite_worker_bench.ts [--signals N] [--timers N] [--idle-ms MS]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { enqueueRun, openStore, sendSignal } from "../runner/mod.ts";
import { sleeper, waiter } from "../runner/testdata/worker_agents/agents.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    signals: { type: "string", default: "20" },
    timers: { type: "string", default: "20" },
    "idle-ms": { type: "string", default: "5000" },
  },
});
const SIGNALS = Number(values.signals);
const TIMERS = Number(values.timers);
const IDLE_MS = Number(values["idle-ms"]);

const CLI = new URL("../runner/cli.ts", import.meta.url).pathname;
const AGENTS = new URL("../runner/testdata/worker_agents", import.meta.url).pathname;
const SLOW = new URL("../runner/testdata/slow_agent.ts", import.meta.url).pathname;
const TICK_MS = 10; // USER_HZ = 100 on Linux

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "null" }).spawn();
}

/** CPU time (user + system) of a process so far, ms. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${s[s.length - 1]} ms, mean ${
    mean.toFixed(1)
  } ms (n=${s.length})`;
}

const dir = await Deno.makeTempDir({ prefix: "loom-worker-bench-" });
const db = `${dir}/runs.sqlite`;
const store = openStore(db);
const workerArgs = (poll: number) => [
  "run",
  "-A",
  CLI,
  "worker",
  "--db",
  db,
  "--agents",
  AGENTS,
  "--concurrency",
  "4",
  "--max-in-process-sleep",
  "0",
  "--poll-interval",
  String(poll),
];
const resumedAt = (runId: string): number | undefined =>
  (store.db.prepare(
    "SELECT max(at) AS at FROM events WHERE run_id = ? AND kind = 'resumed'",
  ).get(runId) as { at: number | null }).at ?? undefined;
const status = (runId: string) => store.getRun(runId)?.status;

const worker = spawn(workerArgs(600_000));
try {
  // Runs that wait for a signal, suspended by the worker.
  for (let i = 0; i < SIGNALS; i++) await enqueueRun(waiter, { store, runId: `w${i}` });
  await until("the waits", () => {
    for (let i = 0; i < SIGNALS; i++) if (status(`w${i}`) !== "waiting") return false;
    return true;
  });

  // 1. Idle CPU: the worker, an idle Deno process, and a worker polling every 50 ms.
  const baseline = spawn(["eval", "setTimeout(() => {}, 1e9)"]);
  const poller = spawn(workerArgs(50));
  await sleep(1500); // both started and settled
  const procs = { worker: worker.pid, baseline: baseline.pid, poller: poller.pid };
  const before = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuMs(p)]));
  await sleep(IDLE_MS);
  const idle = Object.fromEntries(
    Object.entries(procs).map(([k, p]) => [k, cpuMs(p) - before[k]]),
  );
  baseline.kill("SIGTERM");
  poller.kill("SIGTERM");
  await Promise.all([baseline.status, poller.status]);

  // 2. Signal -> pickup, one at a time, the worker idle before each.
  const signalMs: number[] = [];
  for (let i = 0; i < SIGNALS; i++) {
    await sleep(100 + (i * 37) % 200);
    await sendSignal(store, `w${i}`, "go", { value: i });
    await until(`w${i} to complete`, () => status(`w${i}`) === "completed");
    const sent = store.listSignals(`w${i}`)[0].sentAt;
    signalMs.push(resumedAt(`w${i}`)! - sent);
  }

  // 3. Timer lateness: suspended timers spread over ~2 s, resumed when due.
  const t0 = Date.now();
  for (let i = 0; i < TIMERS; i++) {
    await enqueueRun(sleeper, { store, runId: `t${i}`, input: { ms: 800 + i * 97 } });
  }
  await until("the timers", () => {
    for (let i = 0; i < TIMERS; i++) if (status(`t${i}`) !== "completed") return false;
    return true;
  });
  const timerMs: number[] = [];
  for (let i = 0; i < TIMERS; i++) {
    const wakeAt = (store.db.prepare(
      "SELECT deadline FROM calls WHERE run_id = ? AND kind = 'timer'",
    ).get(`t${i}`) as { deadline: number }).deadline;
    timerMs.push(resumedAt(`t${i}`)! - wakeAt);
  }
  const timersWall = Date.now() - t0;

  // 4. Idle while another process commits steps to the file.
  const busy = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "run",
      SLOW,
      "--run-id",
      "busy",
      "--input",
      '{"n":1000000,"ms":1}',
      "--db",
      db,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await until("the neighbour's steps", () => (store.lastStep("busy")?.step ?? -1) >= 10);
  const stepsBefore = store.lastStep("busy")!.step;
  const busyBefore = cpuMs(worker.pid);
  await sleep(IDLE_MS);
  const busyCpu = cpuMs(worker.pid) - busyBefore;
  const neighbourSteps = store.lastStep("busy")!.step - stepsBefore;
  busy.kill("SIGKILL");
  await busy.status;

  const pct = (ms: number) => `${(100 * ms / IDLE_MS).toFixed(2)}%`;
  console.log(`SQLite worker wake-ups (${new Date().toISOString()}, load ${Deno.loadavg()[0]})`);
  console.log(
    `signal -> pickup (another process's commit to the worker's resume): ${stats(signalMs)}`,
  );
  console.log(
    `timer lateness (wake-up time to resume): ${
      stats(timerMs)
    }; ${TIMERS} timers in ${timersWall} ms`,
  );
  console.log(`idle CPU over ${IDLE_MS} ms (ticks of ${TICK_MS} ms):`);
  console.log(`  idle Deno process (baseline)     ${idle.baseline} ms  ${pct(idle.baseline)}`);
  console.log(
    `  idle worker (file watch)         ${idle.worker} ms  ${pct(idle.worker)}  (${
      (idle.worker / Math.max(idle.baseline, TICK_MS)).toFixed(1)
    }x baseline, floor one tick)`,
  );
  console.log(
    `  worker polling every 50 ms       ${idle.poller} ms  ${pct(idle.poller)}  (${
      (idle.poller / Math.max(idle.baseline, TICK_MS)).toFixed(1)
    }x baseline)`,
  );
  console.log(
    `  idle worker, neighbour committing ${
      (neighbourSteps / (IDLE_MS / 1000)).toFixed(0)
    } steps/s  ${busyCpu} ms  ${pct(busyCpu)}`,
  );
} finally {
  worker.kill("SIGTERM");
  await worker.status;
  store.close();
  await Deno.remove(dir, { recursive: true });
}

/**
 * Runner benchmark: a 10,000-step counter with a checkpoint per step, for the full and compact
 * checkpoint policies and both durability settings, against baselines measured in the same run:
 * the same loop under `tailrec` in memory, and raw `node:sqlite` autocommit INSERTs of the same
 * rows (what the hot path costs at the SQLite level).
 *
 *     deno run -A bench/runner_bench.ts [--steps 10000] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { recur, tailrec } from "@loom/tailcalls";
import { type CheckpointPolicy, defineAgent, openStore, startRun } from "@loom/runner";

const { values } = parseArgs({
  args: Deno.args,
  options: { steps: { type: "string" }, json: { type: "boolean" }, repeat: { type: "string" } },
});
const STEPS = Number(values.steps ?? 10_000);
const REPEAT = Number(values.repeat ?? 3);

type State = { current: number; target: number };
const stepFn = (state: State, step: number) =>
  state.current >= state.target
    ? { current: state.current, steps: step }
    : recur({ ...state, current: state.current + 1 });

const counter = defineAgent({
  name: "counter",
  initialState: (input: { target: number }) => ({ current: 0, target: input.target }),
  step: (state: State, ctx) => stepFn(state, ctx.step),
});

async function inMemory(): Promise<{ ms: number }> {
  let i = 0;
  const loop = tailrec((state: State) => stepFn(state, i++));
  const t0 = performance.now();
  await loop({ current: 0, target: STEPS });
  return { ms: performance.now() - t0 };
}

async function tempDb<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "loom-bench-" });
  try {
    return await fn(`${dir}/bench.sqlite`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function rawSqlite(sync: "NORMAL" | "FULL"): Promise<{ ms: number }> {
  return tempDb((path) => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${sync};
      CREATE TABLE steps (run_id TEXT, step INTEGER, attempt INTEGER, started_at INTEGER,
        duration_ms REAL, state TEXT, PRIMARY KEY (run_id, step)) WITHOUT ROWID;`);
    const ins = db.prepare("INSERT INTO steps VALUES (?,?,?,?,?,?)");
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) {
      ins.run("bench", i, 1, Date.now(), 0.01, `{"current":${i + 1},"target":${STEPS}}`);
    }
    const ms = performance.now() - t0;
    db.close();
    return Promise.resolve({ ms });
  });
}

async function durable(
  checkpoint: CheckpointPolicy,
  durability: "normal" | "fsync",
  pageSize?: number,
): Promise<{ ms: number; bytesPerStep: number }> {
  return await tempDb(async (path) => {
    const store = openStore(path, { durability, pageSize });
    const empty = store.sizeBytes();
    const t0 = performance.now();
    const r = await startRun(counter, {
      store,
      runId: "bench",
      input: { target: STEPS },
      checkpoint,
    });
    const ms = performance.now() - t0;
    if (r.status !== "completed" || r.steps !== STEPS + 1) {
      throw new Error(`bench run ended ${r.status}`);
    }
    store.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const bytesPerStep = (store.sizeBytes() - empty) / (STEPS + 1);
    store.close();
    return { ms, bytesPerStep };
  });
}

// Cost of awaiting a store method that returns a plain value (what an async-capable interface adds).
async function awaitCost(): Promise<{ ms: number }> {
  const f = (i: number): number | Promise<number> => i;
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) acc += await f(i);
  if (acc < 0) console.log(acc);
  return { ms: performance.now() - t0 };
}

// Engine cost without file I/O: the same run on an in-memory SQLite store.
async function engineInMemory(): Promise<{ ms: number }> {
  const store = openStore(":memory:");
  const t0 = performance.now();
  await startRun(counter, { store, runId: "bench", input: { target: STEPS } });
  const ms = performance.now() - t0;
  store.close();
  return { ms };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// The machine is shared: interleave the measurements of each repetition so load changes hit all
// of them alike, and report medians.
const samples: Record<string, number[]> = {};
const bytes: Record<string, number> = {};
const add = (k: string, ms: number) => (samples[k] ??= []).push(ms);
for (let i = 0; i < REPEAT; i++) {
  add("tailrec", (await inMemory()).ms);
  add("await", (await awaitCost()).ms);
  add("raw", (await rawSqlite("NORMAL")).ms);
  add("memoryStore", (await engineInMemory()).ms);
  for (
    const [name, cp] of [["full", "full"], ["compact", { mode: "compact", every: 100 }]] as const
  ) {
    const r = await durable(cp as CheckpointPolicy, "normal");
    add(name, r.ms);
    bytes[name] = r.bytesPerStep;
  }
  // Tuning for tiny states: 1 KiB pages write less per commit (hurts states of tens of KB).
  const small = await durable("full", "normal", 1024);
  add("fullPage1k", small.ms);
  bytes.fullPage1k = small.bytesPerStep;
}
add("rawFull", (await rawSqlite("FULL")).ms);
for (
  const [name, cp] of [["fullFsync", "full"], ["compactFsync", {
    mode: "compact",
    every: 100,
  }]] as const
) {
  const r = await durable(cp as CheckpointPolicy, "fsync");
  add(name, r.ms);
  bytes[name] = r.bytesPerStep;
}
const m = (k: string) => median(samples[k]);
const rate = (k: string) => STEPS / (m(k) / 1000);
const rows = [
  ["full, synchronous=NORMAL", "full", "raw"],
  ["compact(100), synchronous=NORMAL", "compact", "raw"],
  ["full, synchronous=NORMAL, page_size=1024", "fullPage1k", "raw"],
  ["full, synchronous=FULL (fsync)", "fullFsync", "rawFull"],
  ["compact(100), synchronous=FULL (fsync)", "compactFsync", "rawFull"],
].map(([name, k, base]) => ({
  name,
  stepsPerSec: rate(k),
  bytesPerStep: bytes[k],
  ms: m(k),
  slowdownVsTailrec: m(k) / m("tailrec"),
  shareOfRawSqlite: rate(k) / rate(base),
}));
const perStepUs = (k: string) => (m(k) * 1000) / STEPS;
const report = {
  steps: STEPS,
  repeat: REPEAT,
  baselines: {
    tailrecInMemoryStepsPerSec: rate("tailrec"),
    rawSqliteInsertsPerSecNormal: rate("raw"),
    rawSqliteInsertsPerSecFull: rate("rawFull"),
    awaitOfPlainValueNsPerStep: perStepUs("await") * 1000,
    engineOnMemoryStoreStepsPerSec: rate("memoryStore"),
  },
  // Where the time of one durable step (full, NORMAL) goes, in microseconds.
  perStepUs: {
    total: perStepUs("full"),
    sqliteCommitToFile: perStepUs("raw"),
    engineAndInMemorySqlite: perStepUs("memoryStore"),
    stepFunctionUnderTailrec: perStepUs("tailrec"),
  },
  runs: rows,
};

if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const f = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(
    `runner bench: ${STEPS} counter steps, median of ${REPEAT} interleaved runs (fsync rows: 1 run)`,
  );
  console.log(
    `  baseline tailrec in memory     ${f(report.baselines.tailrecInMemoryStepsPerSec)} steps/s`,
  );
  console.log(
    `  baseline raw SQLite INSERT     ${
      f(report.baselines.rawSqliteInsertsPerSecNormal)
    } commits/s (NORMAL), ${f(report.baselines.rawSqliteInsertsPerSecFull)} (FULL)`,
  );
  console.log(
    `  await of a plain value         ${
      report.baselines.awaitOfPlainValueNsPerStep.toFixed(0)
    } ns per step`,
  );
  console.log(
    `  engine on an in-memory store   ${
      f(report.baselines.engineOnMemoryStoreStepsPerSec)
    } steps/s`,
  );
  const p = report.perStepUs;
  console.log(
    `  one durable step (full, NORMAL) ${p.total.toFixed(1)} us: raw SQLite commit to the file ` +
      `${p.sqliteCommitToFile.toFixed(1)} us; engine incl. an in-memory SQLite insert ` +
      `${p.engineAndInMemorySqlite.toFixed(1)} us; the step function ${
        p.stepFunctionUnderTailrec.toFixed(2)
      } us`,
  );
  for (const r of report.runs) {
    console.log(
      `  ${r.name.padEnd(40)} ${f(r.stepsPerSec).padStart(7)} steps/s  ${
        r.bytesPerStep.toFixed(0).padStart(4)
      } B/step  ` +
        `${r.slowdownVsTailrec.toFixed(0)}x tailrec time, ${
          (r.shareOfRawSqlite * 100).toFixed(0)
        }% of raw SQLite rate`,
    );
  }
}

// Durable steps per second: PostgreSQL with 1, 2 and 4 worker processes over 1,000 short runs,
// next to SQLite measured in the same run (the baseline of the ratios), plus where the time of
// one PostgreSQL worker goes, store method by store method.
//
//   deno run -A bench/postgres_bench.ts [--runs 1000] [--steps 5] [--url postgres://...]
//
// Every run is the `chain` test agent: `steps - 1` recur transitions and a final step, no delay,
// so the figures are the cost of the durable machinery itself.
import { parseArgs } from "node:util";
import { enqueueRun, startRun, type Store } from "@loom/runner";
import { openStore } from "../runner/store/sqlite.ts";
import {
  connectPostgresAdmin,
  openPostgresStore,
  type PostgresStore,
} from "../runner/store/postgres/mod.ts";
import { chain } from "../runner/testdata/worker_agents/agents.ts";
import { runWorker } from "../runner/worker/worker.ts";
import type { WorkQueue } from "../runner/store/work_queue.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    steps: { type: "string", default: "5" },
    url: {
      type: "string",
      default: Deno.env.get("LOOM_BENCH_PG_URL") ?? "postgres://postgres@127.0.0.1:5432/test",
    },
    concurrency: { type: "string", default: "4" },
  },
});
const RUNS = Number(values.runs);
const STEPS = Number(values.steps); // transitions per run, the final one included
const URL_ = values.url!;
const CONCURRENCY = Number(values.concurrency);
const TOTAL = RUNS * STEPS;
const CLI = new URL("../runner/cli/worker.ts", import.meta.url).pathname;
const AGENTS_DIR = new URL("../runner/testdata/worker_agents", import.meta.url).pathname;
const input = { n: STEPS - 1 };

interface Row {
  name: string;
  seconds: number;
  note?: string;
}
const rows: Row[] = [];

function schemaName(): string {
  return `loombench_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

async function sqliteSequential(durability: "normal" | "fsync"): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-bench-" });
  const store = openStore(`${dir}/runs.db`, { durability });
  try {
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i++) await startRun(chain, { store, runId: `r${i}`, input });
    rows.push({
      name: `SQLite (${durability}), 1 process, runs one after another`,
      seconds: (performance.now() - t0) / 1000,
    });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function withPgSchema<T>(
  fn: (store: PostgresStore) => Promise<T>,
  synchronousCommit?: "off",
): Promise<T> {
  const schema = schemaName();
  const store = await openPostgresStore(URL_, { schema, synchronousCommit, maxConnections: 8 });
  const admin = connectPostgresAdmin(URL_);
  try {
    return await fn(store);
  } finally {
    await store.close();
    await admin.dropSchema(schema);
    await admin.close();
  }
}

async function enqueueAll(store: PostgresStore): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, RUNS - i) },
        (_, j) => enqueueRun(chain, { store, runId: `r${i + j}`, input }),
      ),
    );
  }
  return (performance.now() - t0) / 1000;
}

async function checkAllDone(store: PostgresStore): Promise<void> {
  const [{ done, steps }] = await store.sql.unsafe(
    `SELECT (SELECT count(*) FROM ${store.schema}.runs WHERE status = 'completed') AS done,
            (SELECT count(*) FROM ${store.schema}.steps) AS steps`,
  );
  if (done !== RUNS || steps !== TOTAL) {
    throw new Error(`only ${done} runs / ${steps} steps completed`);
  }
}

/** A store whose every method call is timed (one in-process worker: nothing overlaps). */
function timed(
  store: PostgresStore,
  acc: Map<string, { n: number; ms: number }>,
): Store & WorkQueue {
  const out: Record<string, unknown> = { location: store.location };
  let proto = Object.getPrototypeOf(store);
  const names = new Set<string>();
  while (proto && proto !== Object.prototype) {
    for (const k of Object.getOwnPropertyNames(proto)) if (k !== "constructor") names.add(k);
    proto = Object.getPrototypeOf(proto);
  }
  for (const name of names) {
    const fn = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    if (typeof fn !== "function") continue;
    out[name] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await fn.apply(store, args);
      } finally {
        const a = acc.get(name) ?? { n: 0, ms: 0 };
        a.n++;
        a.ms += performance.now() - t0;
        acc.set(name, a);
      }
    };
  }
  return out as unknown as Store & WorkQueue;
}

async function pgInProcess(
  synchronousCommit: "off" | undefined,
  breakdown: boolean,
): Promise<void> {
  await withPgSchema(async (store) => {
    await enqueueAll(store);
    const acc = new Map<string, { n: number; ms: number }>();
    const t0 = performance.now();
    const s = await runWorker({
      store: breakdown ? timed(store, acc) : store,
      agents: [chain] as never,
      concurrency: 1,
      drain: true,
    });
    const seconds = (performance.now() - t0) / 1000;
    if (s.steps !== TOTAL) throw new Error(`worker committed ${s.steps} steps`);
    await checkAllDone(store);
    rows.push({
      name: `PostgreSQL (${
        synchronousCommit ? "synchronous_commit=off" : "server default"
      }), 1 in-process worker, concurrency 1`,
      seconds,
    });
    if (breakdown) {
      const total = [...acc.values()].reduce((x, a) => x + a.ms, 0);
      console.log(
        `\nWhere one PostgreSQL worker's time goes (${RUNS} runs, ${seconds.toFixed(2)} s wall):`,
      );
      console.log("store method          calls   total s   ms/call   share of wall");
      for (const [name, a] of [...acc].sort((x, y) => y[1].ms - x[1].ms)) {
        console.log(
          `${name.padEnd(20)} ${String(a.n).padStart(6)} ${(a.ms / 1000).toFixed(2).padStart(9)} ${
            (a.ms / a.n).toFixed(2).padStart(9)
          } ${((a.ms / 1000 / seconds) * 100).toFixed(1).padStart(10)} %`,
        );
      }
      console.log(
        `store total: ${(total / 1000).toFixed(2)} s = ${
          ((total / 1000 / seconds) * 100).toFixed(1)
        } % of wall; the rest is engine/JS`,
      );
    }
  }, synchronousCommit);
}

async function spawnWorkers(store: PostgresStore, n: number): Promise<number> {
  const t0 = performance.now();
  const procs = Array.from({ length: n }, () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLI,
        "worker",
        "--db",
        URL_,
        "--schema",
        store.schema,
        "--agents",
        AGENTS_DIR,
        "--drain",
        "--json",
        "--concurrency",
        String(CONCURRENCY),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn());
  const outs = await Promise.all(procs.map((p) => p.output()));
  const seconds = (performance.now() - t0) / 1000;
  for (const o of outs) {
    if (o.code !== 0) throw new Error(new TextDecoder().decode(o.stderr));
  }
  return seconds;
}

async function pgProcesses(n: number, startup: number): Promise<void> {
  await withPgSchema(async (store) => {
    await enqueueAll(store);
    const seconds = await spawnWorkers(store, n);
    await checkAllDone(store);
    rows.push({
      name: `PostgreSQL (server default), ${n} worker process(es) x concurrency ${CONCURRENCY}`,
      seconds: seconds - startup,
      note: `wall ${seconds.toFixed(2)} s minus ${startup.toFixed(2)} s process start`,
    });
  });
}

console.log(`${RUNS} runs x ${STEPS} durable transitions = ${TOTAL} steps per configuration`);
await sqliteSequential("normal");
await sqliteSequential("fsync");
await pgInProcess(undefined, true);
await pgInProcess("off", false);
// Process start-up (Deno + module load + connect + LISTEN) measured on an empty queue.
const startup = await withPgSchema((store) => spawnWorkers(store, 1));
for (const n of [1, 2, 4]) await pgProcesses(n, startup);
let enqueueSeconds = 0;
await withPgSchema(async (store) => {
  enqueueSeconds = await enqueueAll(store);
});

const base = rows[0];
console.log("\nconfiguration".padEnd(78) + "steps/s   vs SQLite normal");
for (const r of rows) {
  const sps = TOTAL / r.seconds;
  console.log(
    `${r.name.padEnd(76)} ${sps.toFixed(0).padStart(8)}   ${
      (sps / (TOTAL / base.seconds)).toFixed(2)
    }x${r.note ? `   (${r.note})` : ""}`,
  );
}
console.log(`\nenqueue (50 at a time): ${(RUNS / enqueueSeconds).toFixed(0)} runs/s`);

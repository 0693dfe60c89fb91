/**
 * A/B of the constant-state counter: this checkout's runner against another checkout's (e.g.
 * `git archive <commit> | tar -x -C /tmp/before`), alternating in one process, round by round,
 * with raw SQLite commits of the same rows in every round. On a shared machine wall-clock
 * figures of separate runs move by 2x; alternating runs and the CPU time each one used (user +
 * system, `process.cpuUsage`) compare the two versions within a few percent.
 *
 *     deno run -A bench/counter_ab.ts --before /tmp/before [--steps 5000] [--rounds 20] [--memory]
 *
 * `--memory` runs both on an in-memory store (the engine's cost without the file).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DatabaseSync } from "node:sqlite";
import * as current from "@loom/runner";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    before: { type: "string" },
    steps: { type: "string" },
    rounds: { type: "string" },
    memory: { type: "boolean" },
  },
});
if (!values.before) {
  console.error("error: --before DIR (a checkout of the runner to compare with) is required");
  Deno.exit(2);
}
const STEPS = Number(values.steps ?? 5000);
const ROUNDS = Number(values.rounds ?? 20);
type Lib = typeof current;
const before = await import(
  pathToFileURL(resolve(values.before, "runner/mod.ts")).href
) as Lib;

/** CPU time of this process so far, ms. */
function cpuMs(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
}

function counterOf(lib: Lib) {
  return lib.defineAgent({
    name: "counter",
    initialState: (input: { target: number }) => ({ current: 0, target: input.target }),
    step: (s: { current: number; target: number }, ctx) =>
      s.current >= s.target
        ? { current: s.current, steps: ctx.step }
        : lib.recur({ ...s, current: s.current + 1 }),
  });
}

/** One run; wall and CPU time, ms. */
async function run(lib: Lib, agent: ReturnType<typeof counterOf>) {
  const dir = await Deno.makeTempDir({ prefix: "loom-ab-" });
  const store = lib.openStore(values.memory ? ":memory:" : `${dir}/c.sqlite`);
  const [w0, c0] = [performance.now(), cpuMs()];
  const r = await lib.startRun(agent, { store, runId: "c", input: { target: STEPS } });
  const out = { wall: performance.now() - w0, cpu: cpuMs() - c0 };
  if (r.status !== "completed") throw new Error(`counter ended ${r.status}`);
  store.close();
  await Deno.remove(dir, { recursive: true });
  return out;
}

/** The same rows as raw autocommit INSERTs. */
async function raw() {
  const dir = await Deno.makeTempDir({ prefix: "loom-ab-" });
  const db = new DatabaseSync(`${dir}/raw.sqlite`);
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
    CREATE TABLE steps (run_id TEXT, step INTEGER, attempt INTEGER, started_at INTEGER,
      duration_ms REAL, state TEXT, PRIMARY KEY (run_id, step)) WITHOUT ROWID;`);
  const ins = db.prepare("INSERT INTO steps VALUES (?,?,?,?,?,?)");
  const [w0, c0] = [performance.now(), cpuMs()];
  for (let i = 0; i < STEPS; i++) {
    ins.run("ab", i, 1, Date.now(), 0.01, `{"current":${i + 1},"target":${STEPS}}`);
  }
  const out = { wall: performance.now() - w0, cpu: cpuMs() - c0 };
  db.close();
  await Deno.remove(dir, { recursive: true });
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const agents = { before: counterOf(before), after: counterOf(current) };
const all: Record<"raw" | "before" | "after", { wall: number; cpu: number }[]> = {
  raw: [],
  before: [],
  after: [],
};
for (let i = 0; i < ROUNDS; i++) {
  all.raw.push(await raw());
  // Alternate which goes first, so a drift in the machine's load hits both alike.
  for (const side of i % 2 === 0 ? ["before", "after"] as const : ["after", "before"] as const) {
    all[side].push(await run(side === "before" ? before : current, agents[side]));
  }
}
const rate = (ms: number) => STEPS / (ms / 1000);
console.log(
  `counter A/B: ${STEPS} steps x ${ROUNDS} rounds${
    values.memory ? " (in-memory store)" : ""
  }, before = ${values.before}`,
);
for (const kind of ["cpu", "wall"] as const) {
  const share = (side: "before" | "after") =>
    median(all[side].map((t, i) => all.raw[i][kind] / t[kind]));
  const ratio = median(all.after.map((t, i) => all.before[i][kind] / t[kind]));
  console.log(
    `  ${kind === "cpu" ? "CPU time " : "wall time"}: raw ${
      Math.round(rate(median(all.raw.map((t) => t[kind]))))
    } commits/s; before ${Math.round(rate(median(all.before.map((t) => t[kind]))))} steps/s (${
      (share("before") * 100).toFixed(1)
    }% of raw), after ${Math.round(rate(median(all.after.map((t) => t[kind]))))} steps/s (${
      (share("after") * 100).toFixed(1)
    }% of raw); after/before per round, median ${ratio.toFixed(3)}`,
  );
}

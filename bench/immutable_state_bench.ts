/**
 * `immutableState` benchmark (issue 13): the growing-state run of `checkpoint_bench.ts` (one 1 KB
 * message more per step, `{ ...s, messages: [...s.messages, m] }`, every checkpoint kept) written
 * with and without the agent's `immutableState` promise, in the same run: steps/s, bytes on disk,
 * and the time to read a checkpoint of the run, split into where it goes: the SQLite reads of its
 * chain (snapshot + deltas), applying the deltas, and the floor of reading the snapshot's text
 * alone and copying a string of the checkpoint's size. Also the constant-state counter as a share
 * of raw SQLite commits of the same rows (the baseline of `runner_bench.ts`).
 *
 *     deno run -A bench/immutable_state_bench.ts [--sizes 1000,10000] [--reads 100] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { defineAgent, getCheckpoint, openStore, recur, startRun } from "@loom/runner";
import { applyDeltas } from "../runner/store/delta.ts";
import { seededRandom } from "../runner/testing/seed.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string" },
    reads: { type: "string" },
    "counter-steps": { type: "string" },
    json: { type: "boolean" },
  },
});
const SIZES = (values.sizes ?? "1000,10000").split(",").map(Number);
const READS = Number(values.reads ?? 100);
const COUNTER_STEPS = Number(values["counter-steps"] ?? 10_000);

type Message = { role: "user" | "assistant"; content: string };
type Chat = { messages: Message[]; target: number };

/** N messages of ~1 KB of JSON each, seeded words (as in `checkpoint_bench.ts`). */
function makeMessages(n: number): Message[] {
  const random = seededRandom(13);
  const words = ["loom", "step", "state", "run", "checkpoint", "delta", "agent", "tool", "ok"];
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const role = i % 2 === 0 ? "user" : "assistant";
    let content = `#${i}`;
    const room = 1024 - JSON.stringify({ role, content: "" }).length;
    while (content.length < room) content += ` ${words[random.int(0, words.length - 1)]}`;
    out.push({ role, content: content.slice(0, room) });
  }
  return out;
}

const MESSAGES = makeMessages(Math.max(...SIZES));

function chatAgent(immutableState: boolean) {
  return defineAgent({
    name: "chat",
    immutableState,
    initialState: (input: { target: number }): Chat => ({ messages: [], target: input.target }),
    step: (s: Chat, ctx) =>
      s.messages.length >= s.target
        ? { messages: s.messages.length }
        : recur({ ...s, messages: [...s.messages, MESSAGES[ctx.step]] }),
  });
}

function fileBytes(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs: number[]) => Math.max(...xs);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Where reading a checkpoint goes (ms, median and max over the sample). */
interface Reads {
  /** `getCheckpoint`: run row, stored text (rebuilt), `JSON.parse`. */
  getCheckpoint: [number, number];
  /** `Store.getStep`: the stored text, rebuilt from the snapshot and deltas. */
  getStep: [number, number];
  /** The chain's SQLite rows alone (snapshot + deltas, one query). */
  sqlChain: [number, number];
  /** Applying the deltas to the snapshot, rows in memory. */
  apply: [number, number];
  /** Floor: the snapshot's text alone from SQLite. */
  sqlSnapshot: [number, number];
  /** `JSON.parse` of the checkpoint's text alone (part of `getCheckpoint`). */
  parse: [number, number];
  /** Floor: one copy of a string of the checkpoint's size (`slice` + flatten). */
  copy: [number, number];
  /** Deltas replayed, median and max. */
  deltas: [number, number];
  /** Checkpoint text size in MB, median. */
  mb: number;
}

const CHAIN = `SELECT s.step, coalesce(s.state, c.state) AS state, c.delta
  FROM steps s LEFT JOIN checkpoints c ON c.id = s.checkpoint
  WHERE s.run_id = ?1 AND s.step BETWEEN (
    SELECT x.step FROM steps x LEFT JOIN checkpoints y ON y.id = x.checkpoint
    WHERE x.run_id = ?1 AND x.step <= ?2 AND (x.state IS NOT NULL OR y.state IS NOT NULL)
    ORDER BY x.step DESC LIMIT 1) AND ?2
  ORDER BY s.step`;

async function reads(store: ReturnType<typeof openStore>, n: number): Promise<Reads> {
  const random = seededRandom(14);
  const t: Record<string, number[]> = {};
  const add = (k: string, ms: number) => (t[k] ??= []).push(ms);
  const chain = store.db.prepare(CHAIN);
  const deltas: number[] = [], sizes: number[] = [];
  for (let i = 0; i < READS; i++) {
    const step = random.int(1, n); // the checkpoint before `step`, after step - 1
    let t0 = performance.now();
    const state = await getCheckpoint(store, "chat", step) as Chat;
    add("getCheckpoint", performance.now() - t0);
    if (state.messages.length !== step) throw new Error(`step ${step}: wrong checkpoint`);
    t0 = performance.now();
    const text = (await store.getStep("chat", step - 1))!.state!;
    add("getStep", performance.now() - t0);
    t0 = performance.now();
    const rows = chain.all("chat", step - 1) as { state: string | null; delta: string | null }[];
    add("sqlChain", performance.now() - t0);
    t0 = performance.now();
    const rebuilt = applyDeltas(rows[0].state!, rows.slice(1).map((r) => r.delta!));
    add("apply", performance.now() - t0);
    if (rebuilt !== text) throw new Error(`step ${step}: chain differs`);
    deltas.push(rows.length - 1);
    sizes.push(text.length / 1e6);
    const snapshotStep = step - 1 - (rows.length - 1);
    t0 = performance.now();
    store.db.prepare(
      `SELECT coalesce(s.state, c.state) AS state FROM steps s LEFT JOIN checkpoints c
        ON c.id = s.checkpoint WHERE s.run_id = ? AND s.step = ?`,
    ).get("chat", snapshotStep);
    add("sqlSnapshot", performance.now() - t0);
    t0 = performance.now();
    JSON.parse(text);
    add("parse", performance.now() - t0);
    t0 = performance.now();
    const copy = (text.slice(0, -1) + "]").slice(1); // forces a flat copy of the text
    if (copy.charCodeAt(copy.length >> 1) === -1) console.log(copy.length);
    add("copy", performance.now() - t0);
  }
  const mm = (k: string): [number, number] => [round(median(t[k])), round(max(t[k]))];
  return {
    getCheckpoint: mm("getCheckpoint"),
    getStep: mm("getStep"),
    sqlChain: mm("sqlChain"),
    apply: mm("apply"),
    sqlSnapshot: mm("sqlSnapshot"),
    parse: mm("parse"),
    copy: mm("copy"),
    deltas: [median(deltas), max(deltas)],
    mb: round(median(sizes)),
  };
}

interface Growing {
  immutableState: boolean;
  steps: number;
  stepsPerSec: number;
  mb: number;
  reads?: Reads;
}

async function growing(n: number, immutableState: boolean, withReads: boolean): Promise<Growing> {
  const dir = await Deno.makeTempDir({ prefix: "loom-imm-bench-" });
  const path = `${dir}/chat.sqlite`;
  try {
    const store = openStore(path);
    const t0 = performance.now();
    const r = await startRun(chatAgent(immutableState), {
      store,
      runId: "chat",
      input: { target: n },
    });
    const ms = performance.now() - t0;
    if (r.status !== "completed") throw new Error(`growing run ended ${r.status}`);
    store.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const out: Growing = {
      immutableState,
      steps: n,
      stepsPerSec: Math.round(n / (ms / 1000)),
      mb: round((fileBytes(path) + fileBytes(`${path}-wal`)) / 1e6),
    };
    if (withReads) out.reads = await reads(store, n);
    store.close();
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---- the counter against raw SQLite commits of the same rows ----

type Count = { current: number; target: number };
const counter = defineAgent({
  name: "counter",
  initialState: (input: { target: number }) => ({ current: 0, target: input.target }),
  step: (s: Count, ctx) =>
    s.current >= s.target ? { steps: ctx.step } : recur({ ...s, current: s.current + 1 }),
});

async function counterShare(): Promise<{ counterPerSec: number; rawPerSec: number }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-imm-bench-" });
  try {
    const db = new DatabaseSync(`${dir}/raw.sqlite`);
    db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
      CREATE TABLE steps (run_id TEXT, step INTEGER, attempt INTEGER, started_at INTEGER,
        duration_ms REAL, state TEXT, PRIMARY KEY (run_id, step)) WITHOUT ROWID;`);
    const ins = db.prepare("INSERT INTO steps VALUES (?,?,?,?,?,?)");
    let t0 = performance.now();
    for (let i = 0; i < COUNTER_STEPS; i++) {
      ins.run("bench", i, 1, Date.now(), 0.01, `{"current":${i + 1},"target":${COUNTER_STEPS}}`);
    }
    const rawMs = performance.now() - t0;
    db.close();
    const store = openStore(`${dir}/counter.sqlite`);
    t0 = performance.now();
    await startRun(counter, { store, runId: "c", input: { target: COUNTER_STEPS } });
    const ms = performance.now() - t0;
    store.close();
    return {
      counterPerSec: Math.round(COUNTER_STEPS / (ms / 1000)),
      rawPerSec: Math.round(COUNTER_STEPS / (rawMs / 1000)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const results: Growing[] = [];
const largest = Math.max(...SIZES);
for (const n of SIZES) {
  // Alternate the two agents so load changes on a shared machine hit both alike.
  for (const immutableState of [false, true]) {
    results.push(await growing(n, immutableState, n === largest && immutableState));
  }
}
const counters = [];
for (let i = 0; i < 3; i++) counters.push(await counterShare());
const share = median(counters.map((c) => c.counterPerSec / c.rawPerSec));

if (values.json) {
  console.log(JSON.stringify({ results, counters, counterShareOfRaw: share }, null, 2));
} else {
  for (const r of results) {
    console.log(
      `growing N=${r.steps} immutableState=${r.immutableState}: ${r.stepsPerSec} steps/s, ${r.mb} MB`,
    );
    if (r.reads) {
      for (const [k, v] of Object.entries(r.reads)) {
        console.log(`  read ${k}: ${JSON.stringify(v)}`);
      }
    }
  }
  for (const c of counters) console.log(`counter ${c.counterPerSec} steps/s, raw ${c.rawPerSec}/s`);
  console.log(`counter share of raw SQLite commits (median of 3): ${round(share, 3)}`);
}

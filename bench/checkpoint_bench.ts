/**
 * Checkpoint storage benchmark (issue 13): a run whose state gains one 1 KB message per step (the
 * shape of `loom-run`'s chat state, `{ ...s, messages: [...s.messages, msg] }`), with every
 * checkpoint kept, against a baseline measured in the same run: today's whole-state storage of the
 * same run reproduced with raw `node:sqlite` (the same rows: the whole JSON state in every `steps`
 * row, written by the same lease-guarded INSERT, after the same JSON check). Also: the time to
 * read any checkpoint of the longest run, and the constant-state counter's steps/s as a share of
 * the raw SQLite commit rate measured in the same run.
 *
 *     deno run -A bench/checkpoint_bench.ts [--sizes 1000,10000] [--baseline-sizes 100,300,1000]
 *       [--reads 200] [--seed 13] [--repeat 3] [--max-bytes 4e9] [--json]
 *
 * A storage that grows with the square of the run would need ~50 GB for 10,000 steps: a size whose
 * extrapolated bytes exceed `--max-bytes` is not run, and the extrapolation is printed instead
 * (marked as such).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { assertJson, defineAgent, getCheckpoint, openStore, recur, startRun } from "@loom/runner";
import { seededRandom } from "../runner/testing/seed.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string" },
    "baseline-sizes": { type: "string" },
    reads: { type: "string" },
    seed: { type: "string" },
    repeat: { type: "string" },
    "max-bytes": { type: "string" },
    "counter-steps": { type: "string" },
    json: { type: "boolean" },
  },
});
const list = (s: string) => s.split(",").map(Number).sort((a, b) => a - b);
const SIZES = list(values.sizes ?? "1000,10000");
const BASELINE_SIZES = list(values["baseline-sizes"] ?? "100,300,1000");
const READS = Number(values.reads ?? 200);
const SEED = Number(values.seed ?? 13);
const REPEAT = Number(values.repeat ?? 3);
const MAX_BYTES = Number(values["max-bytes"] ?? 4e9);
const COUNTER_STEPS = Number(values["counter-steps"] ?? 10_000);
const MESSAGE_BYTES = 1024;

// ---- the growing-state run ----

type Message = { role: "user" | "assistant"; content: string };
type Chat = { messages: Message[]; target: number };

/** N messages of ~1 KB of JSON each, seeded words (no long repeats a compressor could fold). */
function makeMessages(n: number): Message[] {
  const random = seededRandom(SEED);
  const words = ["loom", "step", "state", "run", "checkpoint", "delta", "agent", "tool", "ok"];
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const role = i % 2 === 0 ? "user" : "assistant";
    let content = `#${i}`;
    const room = MESSAGE_BYTES - JSON.stringify({ role, content: "" }).length;
    while (content.length < room) content += ` ${words[random.int(0, words.length - 1)]}`;
    out.push({ role, content: content.slice(0, room) });
  }
  return out;
}

let MESSAGES: Message[] = [];

const chatDefinition = {
  name: "chat",
  initialState: (input: { target: number }): Chat => ({ messages: [], target: input.target }),
  step: (s: Chat, ctx: { step: number }) =>
    s.messages.length >= s.target
      ? { messages: s.messages.length }
      : recur({ ...s, messages: [...s.messages, MESSAGES[ctx.step]] }),
};
const chat = defineAgent(chatDefinition);
/**
 * The same agent declaring `immutableState: true`, as `loom-run`'s chat agent does (a runner
 * without the option ignores it: both rows then measure the same thing).
 */
const chatImmutable = defineAgent({ ...chatDefinition, immutableState: true });

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "loom-cp-bench-" });
}

function fileBytes(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Database file + WAL after a TRUNCATE checkpoint, i.e. what the run leaves on disk. */
function bytesOnDisk(db: DatabaseSync, path: string): number {
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return fileBytes(path) + fileBytes(`${path}-wal`);
}

interface GrowingRun {
  steps: number;
  extrapolated?: boolean;
  bytes: number;
  ms: number;
  stepsPerSec: number;
  reads?: Reads;
}

/** The growing run on the runner's own store, through the public API. */
async function loomGrowing(n: number, reads: boolean, agent = chat): Promise<GrowingRun> {
  const dir = await tempDir();
  const path = `${dir}/chat.sqlite`;
  try {
    const store = openStore(path);
    const t0 = performance.now();
    const r = await startRun(agent, { store, runId: "chat", input: { target: n } });
    const ms = performance.now() - t0;
    if (r.status !== "completed") throw new Error(`growing run ended ${r.status}`);
    const out: GrowingRun = {
      steps: n,
      bytes: bytesOnDisk(store.db, path),
      ms,
      stepsPerSec: n / (ms / 1000),
    };
    if (reads) out.reads = await readCheckpoints(store, n);
    store.close();
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Times of reading checkpoints: the whole `getCheckpoint`, and its parts. */
interface Reads {
  sample: number;
  /** `getCheckpoint`: the run, the stored text, `JSON.parse`. */
  medianMs: number;
  maxMs: number;
  /** The stored text alone (`Store.getStep`: rebuilt from a snapshot and deltas, if any). */
  textMedianMs: number;
  textMaxMs: number;
  /** `JSON.parse` of that text alone. */
  parseMedianMs: number;
  parseMaxMs: number;
  /** Size of the median checkpoint's JSON. */
  medianBytes: number;
}

/**
 * getCheckpoint of seeded random steps 1..n (checks each one's message count), then the stored
 * text and its parse separately, to tell the store's share from the JSON decoding's.
 */
async function readCheckpoints(store: ReturnType<typeof openStore>, n: number): Promise<Reads> {
  const random = seededRandom(SEED + 1);
  const total: number[] = [];
  const text: number[] = [];
  const parse: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < READS; i++) {
    const step = random.int(1, n);
    let t0 = performance.now();
    const state = await getCheckpoint(store, "chat", step) as Chat;
    total.push(performance.now() - t0);
    if (state.messages.length !== step) {
      throw new Error(`checkpoint before step ${step} has ${state.messages.length} messages`);
    }
    t0 = performance.now();
    const json = (await store.getStep("chat", step - 1))!.state!;
    text.push(performance.now() - t0);
    t0 = performance.now();
    JSON.parse(json);
    parse.push(performance.now() - t0);
    sizes.push(json.length);
  }
  return {
    sample: READS,
    medianMs: median(total),
    maxMs: Math.max(...total),
    textMedianMs: median(text),
    textMaxMs: Math.max(...text),
    parseMedianMs: median(parse),
    parseMaxMs: Math.max(...parse),
    medianBytes: median(sizes),
  };
}

// ---- the baseline: today's whole-state rows, raw node:sqlite ----

/** The tables today's store (schema version 2) writes for a run: runs, steps, events. */
const BASELINE_SCHEMA = `
  CREATE TABLE runs (run_id TEXT PRIMARY KEY, agent_name TEXT NOT NULL, agent_version INTEGER NOT NULL,
    agent_hash TEXT, status TEXT NOT NULL, parent_run_id TEXT, parent_step INTEGER,
    fork_of_run_id TEXT, fork_of_step INTEGER, first_step INTEGER NOT NULL,
    initial_state TEXT NOT NULL, input TEXT, result TEXT, error TEXT, error_category TEXT,
    waiting TEXT, policy TEXT NOT NULL, patched_step INTEGER, patched_state TEXT,
    lease_owner TEXT, lease_expires INTEGER, retry_step INTEGER,
    retry_base INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, ended_at INTEGER);
  CREATE INDEX runs_by_status ON runs(status, updated_at);
  CREATE INDEX runs_by_updated ON runs(updated_at);
  CREATE INDEX runs_by_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
  CREATE TABLE steps (run_id TEXT NOT NULL, step INTEGER NOT NULL, attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL, duration_ms REAL NOT NULL, state TEXT,
    PRIMARY KEY (run_id, step)) WITHOUT ROWID;
  CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
    kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;`;

/** Today's storage of the growing run: every step row holds the whole JSON state. */
async function baselineGrowing(n: number): Promise<GrowingRun> {
  const dir = await tempDir();
  const path = `${dir}/baseline.sqlite`;
  try {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    db.exec(BASELINE_SCHEMA);
    const owner = "bench:1:token";
    const commit = db.prepare(
      `INSERT INTO steps (run_id, step, attempt, started_at, duration_ms, state)
       SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS
         (SELECT 1 FROM runs WHERE run_id = ? AND lease_owner = ? AND status = 'running')
       ON CONFLICT DO NOTHING`,
    );
    const t0 = performance.now();
    const now = Date.now();
    db.prepare(
      `INSERT INTO runs (run_id, agent_name, agent_version, status, first_step, initial_state,
         input, policy, lease_owner, lease_expires, created_at, updated_at)
       VALUES ('chat', 'chat', 1, 'running', 0, ?, ?, '{"checkpoint":"full"}', ?, ?, ?, ?)`,
    ).run(
      JSON.stringify({ messages: [], target: n }),
      JSON.stringify({ target: n }),
      owner,
      now + 30_000,
      now,
      now,
    );
    db.prepare(
      "INSERT INTO events (run_id, seq, at, kind, message) VALUES ('chat', 1, ?, 'started', 'run started')",
    ).run(now);
    let state: Chat = { messages: [], target: n };
    for (let step = 0; step < n; step++) {
      const started = Date.now();
      const s0 = performance.now();
      state = { ...state, messages: [...state.messages, MESSAGES[step]] };
      assertJson(state, "state");
      const json = JSON.stringify(state);
      commit.run("chat", step, 1, started, performance.now() - s0, json, "chat", owner);
    }
    db.exec("BEGIN IMMEDIATE");
    commit.run("chat", n, 1, Date.now(), 0.01, null, "chat", owner);
    db.prepare(
      `UPDATE runs SET status = 'completed', result = ?, lease_owner = NULL, lease_expires = NULL,
         updated_at = ?, ended_at = ? WHERE run_id = 'chat'`,
    ).run(JSON.stringify({ messages: n }), Date.now(), Date.now());
    db.exec("COMMIT");
    const ms = performance.now() - t0;
    const bytes = bytesOnDisk(db, path);
    db.close();
    return { steps: n, bytes, ms, stepsPerSec: n / (ms / 1000) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Fits bytes = a·N(N+1)/2 + b·N (whole states: step i stores i messages) to the two largest
 * measured runs and extrapolates to `n`; the same form for the time.
 */
function extrapolate(runs: GrowingRun[], n: number): { bytes: number; ms: number } {
  const [p, q] = runs.slice(-2);
  const fit = (y1: number, y2: number) => {
    const t = (x: number) => (x * (x + 1)) / 2;
    const a = (y2 / q.steps - y1 / p.steps) / (t(q.steps) / q.steps - t(p.steps) / p.steps);
    const b = (y1 - a * t(p.steps)) / p.steps;
    return a * t(n) + b * n;
  };
  return { bytes: fit(p.bytes, q.bytes), ms: fit(p.ms, q.ms) };
}

// ---- the constant-state counter against raw SQLite commits ----

type Counter = { current: number; target: number };
const counter = defineAgent({
  name: "counter",
  initialState: (input: { target: number }): Counter => ({ current: 0, target: input.target }),
  step: (s: Counter, ctx) =>
    s.current >= s.target
      ? { current: s.current, steps: ctx.step }
      : recur({ ...s, current: s.current + 1 }),
});

async function counterRun(): Promise<number> {
  const dir = await tempDir();
  try {
    const store = openStore(`${dir}/counter.sqlite`);
    const t0 = performance.now();
    const r = await startRun(counter, {
      store,
      runId: "counter",
      input: { target: COUNTER_STEPS },
    });
    const ms = performance.now() - t0;
    if (r.status !== "completed") throw new Error(`counter ended ${r.status}`);
    store.close();
    return ms;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The same rows as raw autocommit INSERTs (what one durable step costs at the SQLite level). */
async function rawCommits(): Promise<number> {
  const dir = await tempDir();
  try {
    const db = new DatabaseSync(`${dir}/raw.sqlite`);
    db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
      CREATE TABLE steps (run_id TEXT, step INTEGER, attempt INTEGER, started_at INTEGER,
        duration_ms REAL, state TEXT, PRIMARY KEY (run_id, step)) WITHOUT ROWID;`);
    const ins = db.prepare("INSERT INTO steps VALUES (?,?,?,?,?,?)");
    const t0 = performance.now();
    for (let i = 0; i < COUNTER_STEPS; i++) {
      ins.run("bench", i, 1, Date.now(), 0.01, `{"current":${i + 1},"target":${COUNTER_STEPS}}`);
    }
    const ms = performance.now() - t0;
    db.close();
    return ms;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ---- the run ----

MESSAGES = makeMessages(Math.max(...SIZES, ...BASELINE_SIZES));

// Counter first (it is the most sensitive to the machine's load), interleaved with raw commits.
const counterMs: number[] = [];
const rawMs: number[] = [];
for (let i = 0; i < REPEAT; i++) {
  rawMs.push(await rawCommits());
  counterMs.push(await counterRun());
}
const counterRate = COUNTER_STEPS / (median(counterMs) / 1000);
const rawRate = COUNTER_STEPS / (median(rawMs) / 1000);

const baseline: GrowingRun[] = [];
for (const n of BASELINE_SIZES) baseline.push(await baselineGrowing(n));

// Loom: a pilot at a tenth of the smallest size gives the growth exponent, so a size that would
// fill the disk (quadratic storage) is extrapolated instead of run.
const pilotN = Math.max(10, Math.round(SIZES[0] / 10));
const pilot = await loomGrowing(pilotN, false);
const loom: GrowingRun[] = [];
const measured: GrowingRun[] = [pilot];
for (const n of SIZES) {
  // Growth exponent of the last two measured runs (2, quadratic, until there are two).
  const q = measured[measured.length - 1];
  const p = measured.length > 1 ? measured[measured.length - 2] : q;
  const exponent = q.steps > p.steps
    ? Math.log(q.bytes / p.bytes) / Math.log(q.steps / p.steps)
    : 2;
  const estimate = q.bytes * Math.pow(n / q.steps, exponent);
  if (estimate > MAX_BYTES) {
    loom.push({ steps: n, bytes: estimate, ms: NaN, stepsPerSec: NaN, extrapolated: true });
    continue;
  }
  const run = await loomGrowing(n, n === SIZES[SIZES.length - 1]);
  loom.push(run);
  measured.push(run);
}
// The same runs with immutableState (sizes that the default agent could run).
const immutable: GrowingRun[] = [];
for (const run of loom.filter((r) => !r.extrapolated)) {
  immutable.push(await loomGrowing(run.steps, false, chatImmutable));
}
// Reads of the longest run that was measured (the last size, unless it was extrapolated).
let reads = loom.findLast((r) => !r.extrapolated && r.reads)?.reads;
let readsOf = loom.findLast((r) => !r.extrapolated && r.reads)?.steps;
if (!reads) {
  const longest = loom.findLast((r) => !r.extrapolated)!;
  reads = (await loomGrowing(longest.steps, true)).reads;
  readsOf = longest.steps;
}

const at = (runs: GrowingRun[], n: number) => runs.find((r) => r.steps === n);
const baselineAt = (n: number) =>
  at(baseline, n) ?? {
    steps: n,
    ...extrapolate(baseline, n),
    stepsPerSec: n / (extrapolate(baseline, n).ms / 1000),
    extrapolated: true,
  };
const small = SIZES[0];
const large = SIZES[SIZES.length - 1];
const growth = (runs: (n: number) => GrowingRun | undefined) =>
  (runs(large)?.bytes ?? NaN) / (runs(small)?.bytes ?? NaN);

const report = {
  seed: SEED,
  messageBytes: MESSAGE_BYTES,
  growing: SIZES.map((n) => ({
    steps: n,
    loom: at(loom, n),
    loomImmutableState: at(immutable, n),
    baseline: baselineAt(n),
  })),
  baselineMeasured: baseline,
  growthRatio: {
    of: `${large}/${small}`,
    loom: growth((n) => at(loom, n)),
    baseline: growth(baselineAt),
    linear: large / small,
  },
  reads: { run: readsOf, ...reads },
  counter: {
    steps: COUNTER_STEPS,
    repeat: REPEAT,
    stepsPerSec: counterRate,
    rawSqliteCommitsPerSec: rawRate,
    shareOfRaw: counterRate / rawRate,
  },
  targets: {
    bytesAt1000: 3e6,
    stepsPerSec: 5000,
    growthRatio: large / small,
    readMs: 5,
    counterShareOfRawToday: 0.88,
  },
};

if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const f = (x: number) => Number.isNaN(x) ? "-" : Math.round(x).toLocaleString("en-US");
  const x2 = (x: number) => Number.isNaN(x) ? "-" : `${x.toFixed(2)}x`;
  const mb = (x: number) => `${(x / 1e6).toLocaleString("en-US", { maximumFractionDigits: 2 })} MB`;
  const tag = (r: GrowingRun) => r.extrapolated ? " (extrapolated, not run)" : "";
  console.log(
    `checkpoint bench: state gains one ${MESSAGE_BYTES} B message per step, every checkpoint kept (seed ${SEED})`,
  );
  for (const g of report.growing) {
    const l = g.loom!;
    console.log(`  ${f(g.steps)} steps`);
    console.log(
      `    ${"loom".padEnd(20)} ${mb(l.bytes).padStart(12)}  ${
        f(l.stepsPerSec).padStart(7)
      } steps/s${tag(l)}`,
    );
    const im = g.loomImmutableState;
    if (im) {
      console.log(
        `    ${"loom, immutableState".padEnd(20)} ${mb(im.bytes).padStart(12)}  ${
          f(im.stepsPerSec).padStart(7)
        } steps/s   (as loom-run's chat agent declares)`,
      );
    }
    console.log(
      `    ${"baseline".padEnd(20)} ${mb(g.baseline.bytes).padStart(12)}  ${
        f(g.baseline.stepsPerSec).padStart(7)
      } steps/s${tag(g.baseline)}   (today's whole-state rows, raw node:sqlite)`,
    );
    console.log(
      `    loom/baseline: ${(l.bytes / g.baseline.bytes).toFixed(4)}x bytes, ${
        x2(l.stepsPerSec / g.baseline.stepsPerSec)
      } steps/s${g.steps === 1000 ? "   target: < 3 MB, >= 5,000 steps/s" : ""}`,
    );
  }
  console.log(
    `  baseline measured at ${
      baseline.map((b) => `${f(b.steps)} steps: ${mb(b.bytes)}, ${f(b.stepsPerSec)} steps/s`).join(
        "; ",
      )
    }`,
  );
  const grown = (runs: (n: number) => GrowingRun | undefined, ratio: number) =>
    `${ratio.toFixed(1)}x${
      runs(small)?.extrapolated || runs(large)?.extrapolated ? " (extrapolated)" : ""
    }`;
  console.log(
    `  growth ${report.growthRatio.of}: loom ${
      grown((n) => at(loom, n), report.growthRatio.loom)
    }, baseline ${grown(baselineAt, report.growthRatio.baseline)}   target: ~${
      report.growthRatio.linear.toFixed(0)
    }x (linear)`,
  );
  const r = reads!;
  console.log(
    `  read any checkpoint of the ${
      f(readsOf!)
    }-step run (${r.sample} seeded random steps): median ${r.medianMs.toFixed(2)} ms, max ${
      r.maxMs.toFixed(2)
    } ms   target: < 5 ms`,
  );
  console.log(
    `    of which the stored text (Store.getStep) median ${r.textMedianMs.toFixed(2)} ms, max ${
      r.textMaxMs.toFixed(2)
    } ms; JSON.parse median ${r.parseMedianMs.toFixed(2)} ms, max ${
      r.parseMaxMs.toFixed(2)
    } ms (median checkpoint ${mb(r.medianBytes)})`,
  );
  console.log(
    `  counter (constant state, ${f(COUNTER_STEPS)} steps, median of ${REPEAT}): ${
      f(counterRate)
    } steps/s = ${(report.counter.shareOfRaw * 100).toFixed(0)}% of raw SQLite commits (${
      f(rawRate)
    }/s)   target: within 5% of today (~88%)`,
  );
}

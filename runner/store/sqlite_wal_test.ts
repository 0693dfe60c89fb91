// A long run's WAL does not grow without bound (issue 13). SQLite reuses its WAL file from the
// start after a checkpoint but never shrinks it: a WAL that grew (here: while another connection
// read an old snapshot, so no checkpoint could finish) keeps its largest size, unless
// `journal_size_limit` is set. The store sets it at open (`walSizeLimit`, 64 MiB by default); the
// step function measures the WAL file after every commit, so the test needs no timing.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { defineAgent, recur, startRun } from "../mod.ts";
import { seededRandom } from "../testing/seed.ts";
import { openStore } from "./sqlite.ts";

const MIB = 1024 * 1024;
/** Each checkpoint: ~256 KB (64 overflow pages per commit). */
const STATE_BYTES = 256 * 1024;

function walSize(path: string): number {
  try {
    return Deno.statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/** Text no page can hold twice. */
function noise(bytes: number): string {
  const random = seededRandom(13);
  const chars: string[] = [];
  for (let i = 0; i < bytes; i++) chars.push(String.fromCharCode(97 + random.int(0, 25)));
  return chars.join("");
}

/** What the step function saw of the WAL, and the reader it opens and closes. */
interface Probe {
  sizes: number[];
  pinned: number[];
}

/**
 * An agent of `steps` steps, each storing a new 256 KB state; a reader holds an old snapshot
 * from step `pinFrom` to `pinTo` (so the WAL must grow), and every step first records the WAL's
 * size, i.e. its size after the previous commit.
 */
function walAgent(path: string, probe: Probe, pinFrom: number, pinTo: number) {
  const blob = noise(STATE_BYTES);
  let reader: DatabaseSync | undefined;
  return defineAgent({
    name: "wal",
    initialState: (input: { steps: number }) => ({ i: 0, steps: input.steps, blob: "" }),
    step: (s, ctx) => {
      (reader ? probe.pinned : probe.sizes).push(walSize(path));
      if (ctx.step === pinFrom) {
        reader = new DatabaseSync(path);
        reader.exec("BEGIN");
        reader.prepare("SELECT count(*) FROM steps").get();
      }
      if (ctx.step === pinTo) {
        reader?.exec("COMMIT");
        reader?.close();
        reader = undefined;
      }
      if (s.i >= s.steps) return { steps: s.i };
      return recur({ ...s, i: s.i + 1, blob: `${ctx.step}:${blob}` });
    },
  });
}

Deno.test("sqlite: a long run's WAL stays under the WAL size limit after every commit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-wal-" });
  const path = `${dir}/runs.sqlite`;
  try {
    const limit = 8 * MIB;
    const store = openStore(path, { walSizeLimit: limit });
    const probe: Probe = { sizes: [], pinned: [] };
    // 200 checkpoints of 256 KB = 50 MB written; no reader.
    const r = await startRun(walAgent(path, probe, -1, -1), {
      store,
      runId: "long",
      input: { steps: 200 },
    });
    assert.equal(r.status, "completed");
    assert.equal(probe.sizes.length, 201);
    const max = Math.max(...probe.sizes);
    assert.ok(max <= limit, `the WAL reached ${max} bytes, over the ${limit}-byte limit`);
    assert.ok(max > MIB, `the run wrote through the WAL (${max} bytes)`);
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite: a WAL that grew while a reader held an old snapshot is cut back to the limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-wal-" });
  const path = `${dir}/runs.sqlite`;
  try {
    const limit = 8 * MIB;
    const store = openStore(path, { walSizeLimit: limit });
    const probe: Probe = { sizes: [], pinned: [] };
    // Steps 10..89 commit while a reader pins the WAL (80 x 256 KB = 20 MB), then 40 more.
    const r = await startRun(walAgent(path, probe, 10, 90), {
      store,
      runId: "pinned",
      input: { steps: 130 },
    });
    assert.equal(r.status, "completed");
    const grown = Math.max(...probe.pinned);
    assert.ok(grown > 2 * limit, `the WAL grew to ${grown} bytes while pinned`);
    // The commit after the first full checkpoint restarts the WAL and cuts the file to the limit.
    const last = probe.sizes.slice(-20);
    assert.ok(
      last.every((size) => size <= limit),
      `the WAL after the reader left: ${last.join(", ")} bytes (limit ${limit})`,
    );
    store.close();

    // The control, the same scenario without the limit (SQLite's default): the WAL keeps its size.
    const raw = `${dir}/raw.sqlite`;
    const nolimit = openStore(raw, { walSizeLimit: -1 });
    const rawProbe: Probe = { sizes: [], pinned: [] };
    await startRun(walAgent(raw, rawProbe, 10, 90), {
      store: nolimit,
      runId: "pinned",
      input: { steps: 130 },
    });
    assert.ok(
      rawProbe.sizes.slice(-20).every((size) => size > 2 * limit),
      "without a limit SQLite keeps the grown WAL file",
    );
    nolimit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite: the store sets journal_size_limit at open, 64 MiB unless told", () => {
  const dir = Deno.makeTempDirSync({ prefix: "loom-wal-" });
  try {
    const limitOf = (options: { walSizeLimit?: number }) => {
      const store = openStore(`${dir}/runs.sqlite`, options);
      const row = store.db.prepare("PRAGMA journal_size_limit").get() as {
        journal_size_limit: number;
      };
      store.close();
      return row.journal_size_limit;
    };
    assert.equal(limitOf({}), 64 * MIB);
    assert.equal(limitOf({ walSizeLimit: MIB }), MIB);
    assert.throws(() => limitOf({ walSizeLimit: -2 }), /walSizeLimit must be a byte count or -1/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// loom-runner delete, prune and verify say what the space is (issue 13): in text and --json,
// through main() in-process with captured output, as cli_test.ts does.
import assert from "node:assert/strict";
import { cli, inTemp } from "./_test_util.ts";
import { defineAgent, recur, startRun } from "../mod.ts";
import { openStore } from "../store/sqlite.ts";
import { waitFor } from "../testing/wait.ts";

const COUNTER = new URL("../../examples/counter_agent.ts", import.meta.url).pathname;

/** A module whose run stores `n` checkpoints of ~20 KB. */
async function writeFatAgent(dir: string): Promise<string> {
  const path = `${dir}/fat_agent.ts`;
  const runner = new URL("../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    path,
    `import { defineAgent, recur } from ${JSON.stringify(runner)};
export default defineAgent({
  name: "fat",
  initialState: (input: { n: number }) => ({ i: 0, n: input.n }),
  step: (s) => s.i >= s.n ? { done: s.i } : recur({ ...s, i: s.i + 1, pad: String(s.i).repeat(20000) }),
});
`,
  );
  return path;
}

Deno.test("cli: delete and prune say how many bytes they gave back, in text and --json", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const fat = await writeFatAgent(dir);
    for (const id of ["a", "b", "c"]) {
      const r = await cli(
        "run",
        fat,
        "--run-id",
        id,
        "--db",
        db,
        "--input",
        '{"n":100}',
        "--quiet",
      );
      assert.equal(r.code, 0, r.err);
    }
    let r = await cli("delete", "--run-id", "a", "--db", db);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^deleted a; gave back [\d.]+ MiB \([\d.]+ MiB -> [\d.]+ MiB on disk, incremental vacuum\)$/,
    );
    r = await cli("delete", "--run-id", "b", "--db", db, "--json");
    const doc = JSON.parse(r.out);
    assert.deepEqual(Object.keys(doc).sort(), [
      "bytesAfter",
      "bytesBefore",
      "deleted",
      "method",
      "reclaimedBytes",
      "walTruncated",
    ]);
    assert.deepEqual([doc.deleted, doc.method, doc.walTruncated], [
      ["b"],
      "incremental-vacuum",
      true,
    ]);
    assert.equal(doc.reclaimedBytes, doc.bytesBefore - doc.bytesAfter);
    assert.ok(doc.reclaimedBytes > 1_000_000, `${doc.reclaimedBytes}`);
    assert.equal(doc.bytesAfter, Deno.statSync(db).size, "the WAL was truncated");
    const later = new Date(Date.now() + 60_000).toISOString();
    r = await cli("prune", "--db", db, "--ended-before", later, "--vacuum");
    assert.match(r.out, /^pruned 1 run\(s\); gave back .* on disk, VACUUM\)$/);
    r = await cli("run", COUNTER, "--run-id", "k", "--db", db, "--quiet");
    r = await cli("prune", "--db", db, "--ended-before", later, "--keep-space", "--json");
    assert.deepEqual([JSON.parse(r.out).deleted, JSON.parse(r.out).method], [["k"], "none"]);
    r = await cli("prune", "--db", db, "--ended-before", later);
    assert.match(r.out, /^pruned 0 run\(s\); [\d.]+ KiB on disk$/);
    await cli("run", COUNTER, "--run-id", "k2", "--db", db, "--quiet");
    r = await cli("delete", "--run-id", "k2", "--db", db, "--keep-space");
    assert.match(r.out, /^deleted k2; .* -> .* on disk \(space kept for later writes\)$/);
    r = await cli("prune", "--db", db, "--ended-before", later, "--vacuum", "--keep-space");
    assert.equal(r.code, 2);
    assert.equal(r.err, "error: --vacuum and --keep-space exclude each other: choose one");
  });
});

Deno.test("cli: verify reports the bytes of the run's rows per table", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const fat = await writeFatAgent(dir);
    let r = await cli("run", fat, "--run-id", "f", "--db", db, "--input", '{"n":10}', "--quiet");
    assert.equal(r.code, 0, r.err);
    r = await cli("verify", "--run-id", "f", "--db", db);
    assert.equal(r.code, 0, r.err);
    // Checkpoints of ~20 KB are kept in rows of their own, named by their step rows.
    assert.match(
      r.out,
      /\n {2}size: [\d.]+ KiB of rows in the store \(checkpoints [\d.]+ KiB in 10 row\(s\), steps \d+ B in 11 row\(s\), runs \d+ B in 1 row\(s\), events \d+ B in 1 row\(s\)\)$/,
    );
    r = await cli("verify", "--run-id", "f", "--db", db, "--json");
    const size = JSON.parse(r.out).size;
    assert.equal(size.tables.steps.rows, 11);
    assert.ok(size.bytes > 10 * 20000, `${size.bytes}`);
    assert.equal(
      size.bytes,
      Object.values(size.tables as Record<string, { bytes: number }>).reduce(
        (a, t) => a + t.bytes,
        0,
      ),
    );
  });
});

/** A counter whose every checkpoint is ~1.2 KB (kept in a row of its own). */
const padded = defineAgent({
  name: "padded",
  initialState: (input: { target: number }) => ({ current: 0, target: input.target }),
  step: (s, ctx) =>
    s.current >= s.target
      ? { steps: ctx.step }
      : recur({ ...s, current: s.current + 1, pad: `${s.current}`.padEnd(1200, ".") }),
});

Deno.test("cli: a delete SIGKILLed while it deletes a large run in batches leaves a consistent database; deleting again finishes", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const store = openStore(db);
    // Paused, unfinished, 10,000 steps: the delete cancels it, then deletes 20 batches of 500.
    await startRun(padded, { store, runId: "big", input: { target: 20_000 }, maxSteps: 10_000 });
    await startRun(padded, { store, runId: "other", input: { target: 3 } });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../cli.ts", import.meta.url).pathname,
        "delete",
        "--run-id",
        "big",
        "--db",
        db,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill it once its first batch is committed (or, on a very fast machine, once it is done).
    await waitFor(
      "the delete's first batch",
      () => !store.getRun("big") || store.stepStats("big").count < 10_000,
      { intervalMs: 2 },
    );
    child.kill("SIGKILL");
    await child.status;
    const run = store.getRun("big");
    if (run) {
      // Interrupted: a cancelled run whose remaining steps are its first ones, without gaps.
      assert.equal(run.status, "cancelled");
      const steps = store.listSteps("big").map((s) => s.step);
      assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i));
    }
    assert.deepEqual(store.integrityCheck(), []);
    const r = await cli("delete", "--run-id", "big", "--db", db, "--json");
    if (run) assert.deepEqual(JSON.parse(r.out).deleted, ["big"], r.err);
    else assert.match(r.err, /run big does not exist/);
    for (const table of ["steps", "events", "calls"]) {
      const n = store.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE run_id = 'big'`).get();
      assert.equal((n as { n: number }).n, 0, table);
    }
    // Only the other run's checkpoints are left.
    const rows = store.db.prepare(
      `SELECT count(*) AS n FROM checkpoints WHERE id NOT IN
         (SELECT checkpoint FROM steps WHERE checkpoint IS NOT NULL)`,
    ).get() as { n: number };
    assert.equal(rows.n, 0, "no checkpoint row without its step");
    const other = await cli("verify", "--run-id", "other", "--db", db);
    assert.equal(other.code, 0, other.out);
    store.close();
  });
});

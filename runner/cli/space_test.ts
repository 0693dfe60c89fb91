// loom-runner delete, prune and verify say what the space is (issue 13): in text and --json,
// through main() in-process with captured output, as cli_test.ts does.
import assert from "node:assert/strict";
import { main } from "../cli.ts";

const COUNTER = new URL("../../examples/counter_agent.ts", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-cli-space-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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
    assert.match(r.out, /^pruned 0 run\(s\); .* on disk \(space kept for later writes\)$/);
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

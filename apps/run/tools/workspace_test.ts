// Workspace confinement and what the local tools show: `..dotdot.txt` is an ordinary name, names
// with newlines are quoted so listings stay one entry per line, loom-run's own database is not a
// workspace file, and a test run that failed for lack of Deno permissions says so.
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWorkspace } from "../testing.ts";
import { type LocalToolOptions, localTools } from "./local.ts";
import { type Tool, ToolError } from "./types.ts";
import { quotePath, unquotePath, Workspace } from "./workspace.ts";

const signal = new AbortController().signal;

function tools(ws: string, extra: Partial<LocalToolOptions> = {}): Map<string, Tool> {
  return new Map(
    localTools({
      workspace: ws,
      testCommand: ["deno", "run", "math_check.js"],
      testTimeoutMs: 60_000,
      ...extra,
    }).map((t) => [t.name, t]),
  );
}

async function refused(tool: Tool, args: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    tool.run(args, { signal }),
    (e: unknown) => e instanceof ToolError && pattern.test(e.message),
  );
}

Deno.test("workspace: a name starting with two dots is inside; only a .. segment climbs out", async () => {
  await using t = await tempWorkspace();
  await Deno.writeTextFile(join(t.ws, "..dotdot.txt"), "two dots, still inside\n");
  await Deno.mkdir(join(t.ws, "..dir"));
  await Deno.writeTextFile(join(t.ws, "..dir", "x.txt"), "deeper\n");
  const ws = new Workspace(t.ws);
  assert.ok(ws.contains(join(ws.root, "..dotdot.txt")));
  assert.ok(ws.contains(join(ws.root, "..dir", "x.txt")));
  assert.ok(!ws.contains(join(ws.root, "..")));
  assert.ok(!ws.contains(join(ws.root, "..", "outside.txt")));
  const local = tools(t.ws);
  assert.match(
    await local.get("read_file")!.run({ path: "..dotdot.txt" }, { signal }),
    /two dots, still inside/,
  );
  assert.match(await local.get("read_file")!.run({ path: "..dir/x.txt" }, { signal }), /deeper/);
  const listing = await local.get("list_files")!.run({}, { signal });
  assert.ok(listing.split("\n").includes("..dotdot.txt"), listing);
  assert.match(
    await local.get("search")!.run({ query: "still inside" }, { signal }),
    /^\.\.dotdot\.txt:1:/,
  );
  await refused(local.get("read_file")!, { path: "../outside.txt" }, /climbs out/);
  await refused(local.get("read_file")!, { path: "src/../../x" }, /climbs out/);
});

Deno.test("quotePath: plain names unchanged, misreadable ones as JSON literals that read back", () => {
  assert.equal(quotePath("src/math.js"), "src/math.js");
  assert.equal(quotePath("with space.txt"), "with space.txt");
  assert.equal(quotePath("a\nb.txt"), '"a\\nb.txt"');
  assert.equal(quotePath("tab\there"), '"tab\\there"');
  assert.equal(quotePath("notes 10:30.md"), '"notes 10:30.md"');
  assert.equal(quotePath('"quoted".txt'), '"\\"quoted\\".txt"');
  assert.equal(quotePath(" lead"), '" lead"');
  assert.equal(quotePath("line\u2028sep"), '"line\\u2028sep"');
  for (const name of ["a\nb.txt", "notes 10:30.md", '"quoted".txt', "line\u2028sep", "x\u0085y"]) {
    const shown = quotePath(name);
    assert.ok(!/[\n\r\u2028\u2029\u0085]/.test(shown), JSON.stringify(shown));
    assert.equal(unquotePath(shown), name);
  }
  assert.equal(unquotePath("plain.txt"), undefined);
  assert.equal(unquotePath('"broken'), undefined);
});

Deno.test("list_files and search: a file name with a newline stays one unambiguous entry", async () => {
  await using t = await tempWorkspace();
  const tricky = "evil\nmath_check.js:2: fake match.txt";
  await Deno.writeTextFile(join(t.ws, tricky), "needle here\n");
  const local = tools(t.ws);
  const listing = (await local.get("list_files")!.run({}, { signal })).split("\n");
  assert.ok(listing.includes(JSON.stringify(tricky)), listing.join(" | "));
  assert.equal(listing.length, 4, "README.md, math_check.js, src/math.js and the quoted name");
  const hits = await local.get("search")!.run({ query: "needle" }, { signal });
  assert.equal(hits, `${JSON.stringify(tricky)}:1: needle here`);
  // The model can pass the name back as shown (quoted) or as the real name.
  for (const path of [JSON.stringify(tricky), tricky]) {
    assert.match(await local.get("read_file")!.run({ path }, { signal }), /needle here/);
  }
});

Deno.test("local tools: loom-run's own run database is not a workspace file", async () => {
  await using t = await tempWorkspace();
  for (const name of ["loom-run.sqlite", "loom-run.sqlite-wal", "loom-run.sqlite-shm"]) {
    await Deno.writeTextFile(join(t.ws, name), "SQLite format 3\0 needle");
  }
  await Deno.mkdir(join(t.ws, "state"));
  for (const name of ["runs.db", "runs.db-wal", "other.db"]) {
    await Deno.writeTextFile(join(t.ws, "state", name), "needle\n");
  }
  // The process's --db (given relative to the current directory, like the CLI gets it).
  const local = tools(t.ws, { hiddenFiles: [join(t.ws, "state", "runs.db")] });
  const listing = (await local.get("list_files")!.run({}, { signal })).split("\n");
  assert.deepEqual(listing, ["README.md", "math_check.js", "src/math.js", "state/other.db"]);
  assert.equal(
    await local.get("search")!.run({ query: "needle" }, { signal }),
    "state/other.db:1: needle",
  );
  await refused(local.get("read_file")!, { path: "loom-run.sqlite" }, /loom-run's run database/);
  await refused(local.get("read_file")!, { path: "state/runs.db-wal" }, /loom-run's run database/);
  await refused(local.get("search")!, { query: "x", path: "state/runs.db" }, /run database/);
});

Deno.test("run_tests: failures from missing Deno permissions come with a note and a warning", async () => {
  await using t = await tempWorkspace();
  await Deno.writeTextFile(
    join(t.ws, "perm_test.ts"),
    'Deno.test("reads", () => { Deno.readTextFileSync("/etc/hostname"); });\n' +
      'Deno.test("env", () => { Deno.env.get("HOME"); });\n' +
      'Deno.test("fine", () => {});\n',
  );
  await Deno.writeTextFile(join(t.ws, "deno.json"), '{ "tasks": { "test": "deno test -A" } }\n');
  const warnings: string[] = [];
  const run = tools(t.ws, { testCommand: ["deno", "test", "perm_test.ts"] }).get("run_tests")!;
  const output = await run.run({}, { signal, warn: (m) => warnings.push(m) });
  const note =
    `2 test error(s) say a permission is missing (env, read): 'deno test perm_test.ts' runs the tests without them; if they need them, set --test-command (LOOM_RUN_TEST_COMMAND) to e.g. "deno test --allow-env --allow-read" or the workspace's own "deno task test"`;
  assert.deepEqual(warnings, [note]);
  assert.ok(output.startsWith(`note: ${note}\nexit code 1 (failed)\n`), output.slice(0, 400));
  // Granted, the same tests pass and nothing is added.
  const granted = tools(t.ws, { testCommand: ["deno", "test", "-A", "perm_test.ts"] })
    .get("run_tests")!;
  const passed: string[] = [];
  const ok = await granted.run({}, { signal, warn: (m) => passed.push(m) });
  assert.match(ok, /^exit code 0 \(passed\)/);
  assert.deepEqual(passed, []);
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWorkspace } from "../testing.ts";
import { localTools } from "./local.ts";
import { type Tool, ToolError } from "./types.ts";

function tools(
  ws: string,
  testCommand = ["deno", "run", "math_check.js"],
  testTimeoutMs = 30_000,
): Map<string, Tool> {
  return new Map(localTools({ workspace: ws, testCommand, testTimeoutMs }).map((t) => [t.name, t]));
}
const signal = new AbortController().signal;

async function refused(tool: Tool, args: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    tool.run(args, { signal }),
    (e: unknown) => e instanceof ToolError && pattern.test(e.message),
  );
}

Deno.test("read_file returns numbered lines and honours a line range", async () => {
  await using t = await tempWorkspace();
  const read = tools(t.ws).get("read_file")!;
  const all = await read.run({ path: "src/math.js" }, { signal });
  assert.match(
    all,
    /^src\/math\.js \(8 lines\)\n {3}1 {2}\/\/ TODO: add subtraction\n {3}2 {2}export function add/,
  );
  const part = await read.run({ path: "./src/../src/math.js", start_line: 3, end_line: 3 }, {
    signal,
  });
  assert.equal(part, "src/math.js (8 lines)\n   3    return a + b + 1;");
});

Deno.test("paths that escape the workspace are refused: .., absolute, symlinks out", async () => {
  await using t = await tempWorkspace();
  const outside = join(t.dir, "secret.txt");
  await Deno.writeTextFile(outside, "API_KEY=hunter2");
  await Deno.symlink(outside, join(t.ws, "link.txt"));
  await Deno.symlink(t.dir, join(t.ws, "linkdir"));
  await Deno.symlink(join(t.ws, "README.md"), join(t.ws, "inside-link.md"));
  const { read, list, search } = {
    read: tools(t.ws).get("read_file")!,
    list: tools(t.ws).get("list_files")!,
    search: tools(t.ws).get("search")!,
  };
  await refused(read, { path: "../secret.txt" }, /climbs out of the workspace/);
  await refused(read, { path: "src/../../secret.txt" }, /climbs out/);
  await refused(read, { path: outside }, /absolute path/);
  await refused(read, { path: "link.txt" }, /points outside the workspace/);
  await refused(read, { path: "linkdir/secret.txt" }, /points outside the workspace/);
  await refused(list, { path: "linkdir" }, /points outside the workspace/);
  await refused(search, { query: "API_KEY", path: ".." }, /climbs out/);
  await refused(read, { path: "missing.txt" }, /does not exist/);
  // A symlink that stays inside is fine.
  assert.match(await read.run({ path: "inside-link.md" }, { signal }), /tiny calculator/);
  // Listing and searching the root never follow links out.
  const listing = await list.run({}, { signal });
  assert.match(listing, /^link\.txt \(symlink\)$/m);
  assert.doesNotMatch(listing, /secret/);
  assert.equal(await search.run({ query: "hunter2" }, { signal }), "no match for 'hunter2'");
});

Deno.test("list_files lists recursively and skips .git", async () => {
  await using t = await tempWorkspace();
  await Deno.mkdir(join(t.ws, ".git"));
  await Deno.writeTextFile(join(t.ws, ".git", "HEAD"), "ref");
  assert.equal(
    await tools(t.ws).get("list_files")!.run({}, { signal }),
    "README.md\nmath_check.js\nsrc/math.js",
  );
  assert.equal(
    await tools(t.ws).get("list_files")!.run({ path: "src" }, { signal }),
    "src/math.js",
  );
});

Deno.test("search prints file:line matches, case-insensitively, and caps them", async () => {
  await using t = await tempWorkspace();
  const search = tools(t.ws).get("search")!;
  assert.equal(
    await search.run({ query: "todo" }, { signal }),
    "src/math.js:1: // TODO: add subtraction",
  );
  await Deno.writeTextFile(join(t.ws, "many.txt"), "needle\n".repeat(450));
  const many = await search.run({ query: "needle" }, { signal });
  assert.equal(many.split("\n").length, 201);
  assert.match(many, /\[\.\.\. 250 more matches\]$/);
  await refused(search, { query: " " }, /empty/);
});

Deno.test("read_file output is capped", async () => {
  await using t = await tempWorkspace();
  await Deno.writeTextFile(
    join(t.ws, "big.txt"),
    "x".repeat(100) + "\n".repeat(1) + "y".repeat(40_000),
  );
  const out = await tools(t.ws).get("read_file")!.run({ path: "big.txt" }, { signal });
  assert.ok(out.length < 16_200);
  assert.match(out, /output truncated: \d+ more characters/);
});

Deno.test("run_tests runs the configured command in the workspace with a clean environment", async () => {
  await using t = await tempWorkspace();
  Deno.env.set("LOOM_LLM_API_KEY", "sk-secret-for-test");
  try {
    const out = await tools(t.ws).get("run_tests")!.run({}, { signal });
    assert.match(out, /^exit code 1 \(failed\)\n/);
    assert.match(out, /FAIL add\(2, 3\): expected 5, got 6/);
    const env = await tools(t.ws, [
      "deno",
      "eval",
      "console.log(Deno.env.get('LOOM_LLM_API_KEY') ?? 'absent', Deno.cwd())",
    ])
      .get("run_tests")!.run({}, { signal });
    assert.match(env, /^exit code 0 \(passed\)\nabsent /);
    assert.ok(env.includes(await Deno.realPath(t.ws)));
  } finally {
    Deno.env.delete("LOOM_LLM_API_KEY");
  }
});

Deno.test("run_tests stops a command that runs past its timeout", async () => {
  await using t = await tempWorkspace();
  // The command prints at once and then outlives the timeout: sh echoes within microseconds
  // (a Deno start-up could take longer than the timeout on a loaded machine), and exec hands
  // the process to a sleep the timeout must kill.
  await refused(
    tools(t.ws, ["/bin/sh", "-c", "echo started; exec sleep 60"], 1500).get("run_tests")!,
    {},
    /^timed out after 1500 ms\nstarted/,
  );
  await refused(tools(t.ws, ["no-such-test-runner-xyz"]).get("run_tests")!, {}, /was not found/);
});

// The CLI's commands called in-process through `main(args, io)` (the subprocess tests are in
// e2e_test.ts); output is captured instead of written to the terminal.
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "./cli.ts";
import { tempWorkspace } from "./testing.ts";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { out: (t) => stdout += t, err: (l) => stderr += l + "\n" });
  return { code, stdout, stderr };
}

const TEST_CMD = ["--test-command", "deno run math_check.js"];

Deno.test("cli: user errors end in one sentence and exit code 2", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const cases: [string[], RegExp][] = [
    [["chat"], /^error: 'chat' needs a question/],
    [
      ["chat", "q", "--max-steps", "many"],
      /^error: --max-steps must be a positive integer, got 'many'/,
    ],
    [["resume", "--db", db], /^error: 'resume' needs --run-id/],
    [["resume", "--run-id", "ghost", "--db", db], /^error: there is no run 'ghost'/],
    [["explain", "--run-id", "ghost", "--db", db], /^error: there is no run 'ghost'/],
    [["frobnicate"], /^error: unknown command 'frobnicate'/],
    [
      [
        "chat",
        "q",
        "--mcp-config",
        join(t.dir, "none.json"),
        "--db",
        db,
        "--workspace",
        t.ws,
        "--mock-llm",
      ],
      /^error: the MCP config file '.*none\.json' does not exist/,
    ],
    [
      ["serve", "--host", "0.0.0.0", "--db", db],
      /^error: binding to 0\.0\.0\.0 exposes the API beyond this machine; set --token/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const out = await cli(args);
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, pattern);
    assert.equal(out.stderr.trim().split("\n").length, 1, `one line only: ${out.stderr}`);
  }
  const help = await cli(["help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^loom-run: a durable repository chat agent/);
  assert.match(help.stdout, /loom-run retry --run-id ID .*continue a failed run/);
  const flags = help.stdout.slice(
    help.stdout.indexOf("common flags:"),
    help.stdout.indexOf("environment"),
  );
  for (const flag of ["--llm-timeout-ms", "--test-timeout-ms", "--concurrency", "--test-command"]) {
    assert.ok(flags.includes(flag), `common flags lack ${flag}`);
  }
});

Deno.test("cli: --max-tool-calls and --max-steps stop a run", async () => {
  await using t = await tempWorkspace();
  const common = [
    "--db",
    join(t.dir, "runs.sqlite"),
    "--workspace",
    t.ws,
    "--mock-llm",
    ...TEST_CMD,
  ];
  const capped = await cli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "cap",
    ...common,
    "--max-tool-calls",
    "2",
    "--json",
  ]);
  assert.equal(capped.code, 0, capped.stderr);
  const doc = JSON.parse(capped.stdout);
  assert.equal(doc.toolCalls, 2);
  // The LLM was told the budget is spent and answered from the two results it had.
  assert.match(doc.answer, /^The tests fail/);
  assert.match(doc.answer, /mock answer from 2 tool calls/);
  const short = await cli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "short",
    ...common,
    "--max-steps",
    "1",
  ]);
  assert.equal(short.code, 1);
  // The summary says the run stopped without an answer, never "completed".
  assert.match(short.stderr, /run short stopped without a final answer · 2 steps · /);
  assert.doesNotMatch(short.stderr, /completed/);
  assert.match(short.stderr, /error: the run stopped at --max-steps 1 without a final answer/);
  assert.match(short.stdout, /No final answer within 1 LLM turns/);
});

Deno.test("cli: the summary counts in singular and plural; a run_tests timeout is marked as a failure", async () => {
  await using t = await tempWorkspace();
  const common = ["--db", join(t.dir, "runs.sqlite"), "--workspace", t.ws, "--mock-llm"];
  const one = await cli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "one",
    ...common,
    ...TEST_CMD,
    "--max-tool-calls",
    "1",
  ]);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stderr, /run one completed · 2 steps · 1 tool call · \d+ tokens/);

  const slow = await cli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "slow",
    ...common,
    "--test-command",
    "deno eval 'setTimeout(() => {}, 60000)'",
    "--test-timeout-ms",
    "300",
  ]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.match(slow.stderr, /\n {2}✗ run_tests: error: timed out after 300 ms/);
  assert.doesNotMatch(slow.stderr, /✓ run_tests/);
});

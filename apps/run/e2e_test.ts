// End-to-end tests through the real CLI (`deno run main.ts ...` subprocesses) with the mock LLM,
// real SQLite files, real tools and SIGKILL.
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseTrace } from "@loom/xray";
import { CliProcess, runCli, tempWorkspace, testdata } from "./testing.ts";
import { startFakeOpenAi } from "./llm/fake_openai_server.ts";
import { MockProvider } from "./llm/mock.ts";

const TEST_CMD = ["--test-command", "deno run math_check.js"];

function common(ws: string, db: string): string[] {
  return ["--db", db, "--workspace", ws, "--mock-llm", ...TEST_CMD];
}

/** Lines of the tool log written through LOOM_RUN_TOOL_LOG: `runId\tkey\ttool`. */
async function toolLog(path: string): Promise<string[][]> {
  try {
    return (await Deno.readTextFile(path)).trim().split("\n").filter(Boolean).map((l) =>
      l.split("\t")
    );
  } catch {
    return [];
  }
}

Deno.test("e2e: chat answers, streams, explains, traces, and --json gives one document", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const trace = join(t.dir, "trace.html");
  const chat = await runCli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "demo",
    ...common(t.ws, db),
    "--trace",
    trace,
  ]);
  assert.equal(chat.code, 0, chat.stderr);
  assert.match(chat.stdout, /^The tests fail: `FAIL add\(2, 3\): expected 5, got 6`\./);
  assert.match(chat.stdout, /return a \+ b \+ 1;/);
  assert.equal(
    chat.stdout.match(/The tests fail/g)?.length,
    1,
    "answer printed once (streamed, not repeated)",
  );
  assert.match(chat.stderr, /→ run_tests \{\}\n {2}✓ run_tests/);
  assert.match(chat.stderr, /run demo completed · 4 steps · 4 tool calls · \d+ tokens/);

  // --trace wrote an offline HTML page holding the run, LLM spans with tokens and the tool spans.
  // The page's data is compressed: read it back through xray's own loader.
  const html = await Deno.readTextFile(trace);
  assert.match(html, /^<!doctype html>/i);
  const page = JSON.stringify(parseTrace(html, trace));
  for (
    const name of [
      "execute_tool run_tests",
      "execute_tool read_file",
      "chat loom-mock-1",
      "gen_ai.usage.input_tokens",
      "loom-run.chat",
    ]
  ) {
    assert.ok(page.includes(name), `trace lacks ${name}`);
  }
  const json = join(t.dir, "trace.json");
  const again = await runCli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "demo2",
    ...common(t.ws, db),
    "--trace",
    json,
    "--json",
  ]);
  assert.equal(again.code, 0, again.stderr);
  const doc = JSON.parse(again.stdout);
  assert.equal(doc.runId, "demo2");
  assert.equal(doc.status, "completed");
  assert.equal(doc.toolCalls, 4);
  assert.equal(doc.answer, chat.stdout.trim());
  assert.equal(again.stderr, "", "--json prints nothing but the document");
  const spans = JSON.parse(await Deno.readTextFile(json)).spans as {
    kind: string;
    name: string;
    attributes: Record<string, unknown>;
  }[];
  assert.equal(spans.filter((s) => s.kind === "llm").length, 4);
  assert.equal(spans.filter((s) => s.kind === "tool").length, 4);
  assert.equal(spans.filter((s) => s.kind === "step").length, 4);
  assert.ok(
    spans.filter((s) => s.kind === "llm").every((s) =>
      (s.attributes["gen_ai.usage.input_tokens"] as number) > 0
    ),
  );

  const explain = await runCli(["explain", "--run-id", "demo", "--db", db]);
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, /run demo: COMPLETED/);
  assert.match(explain.stdout, /tool\s+run_tests: 1 completed/);
  assert.match(
    explain.stdout,
    /conversation:\n {2}user {6}why does the test fail\?\n {2}assistant calls list_files \{\}/,
  );
  assert.match(explain.stdout, /answer {4}The tests fail/);
  const explainJson = JSON.parse(
    (await runCli(["explain", "--run-id", "demo", "--db", db, "--json"])).stdout,
  );
  assert.equal(explainJson.transcript[0].text, "why does the test fail?");

  // A taken run id is refused before the run header is printed.
  const taken = await runCli(["chat", "again", "--run-id", "demo", ...common(t.ws, db)]);
  assert.equal(taken.code, 2, taken.stderr);
  assert.match(
    taken.stderr,
    /^error: run demo already exists in .*; continue it with: loom-run resume --run-id demo/,
  );
  assert.equal(taken.stderr.trim().split("\n").length, 1, `one line only: ${taken.stderr}`);

  // Resuming a completed run shows its stored answer and runs nothing.
  const resumed = await runCli(["resume", "--run-id", "demo", "--db", db]);
  assert.equal(resumed.code, 0);
  assert.equal(resumed.stdout, chat.stdout);
  assert.match(resumed.stderr, /already completed/);
});

Deno.test("e2e: SIGKILL during a tool call, then resume: same answer, finished tool calls not repeated", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const reference = await runCli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "ref",
    ...common(t.ws, db),
  ]);
  assert.equal(reference.code, 0, reference.stderr);

  const log = join(t.dir, "tools.log");
  // Step 0 asks for list_files and run_tests; the test hook holds the process right before
  // run_tests (the second) executes, and the kill lands there, mid-call, on any machine.
  const knobs = { LOOM_RUN_TOOL_HOLD: "run_tests", LOOM_RUN_TOOL_LOG: log };
  const victim = new CliProcess([
    "chat",
    "why does the test fail?",
    "--run-id",
    "demo",
    ...common(t.ws, db),
  ], { env: knobs });
  await victim.waitFor(/holding before run_tests in run demo \(LOOM_RUN_TOOL_HOLD test hook\)/);
  const status = await victim.kill();
  assert.equal(status.signal, "SIGKILL");
  assert.match(
    victim.stderr,
    /✓ list_files[\s\S]*→ run_tests \{\}\n[^\n]*holding before run_tests/,
  );
  // The log holds real executions only: list_files alone (the held run_tests never ran).
  assert.deepEqual((await toolLog(log)).map((l) => l[2]), ["list_files"]);

  const resumed = await runCli(["resume", "--run-id", "demo", "--db", db], {
    env: { LOOM_RUN_TOOL_LOG: log },
  });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout, reference.stdout, "same answer as an uninterrupted run");
  assert.match(resumed.stderr, /↺ list_files \(finished before; result taken from the store\)/);
  assert.match(resumed.stderr, /↺ llm/);
  const after = (await toolLog(log)).map((l) => `${l[1]} ${l[2]}`);
  // list_files finished before the kill: never again. run_tests was interrupted: it runs on resume.
  assert.deepEqual(after, [
    "tool:1:call_1_1 list_files",
    "tool:1:call_1_2 run_tests",
    "tool:2:call_2_1 search",
    "tool:3:call_3_1 read_file",
  ]);
  const explain = await runCli(["explain", "--run-id", "demo", "--db", db]);
  assert.match(explain.stdout, /tool\s+list_files: 1 completed/);
});

Deno.test("e2e: supervise runs 3 children; kill mid-way and resume finishes only the unfinished ones", async () => {
  await using t = await tempWorkspace();
  const refDb = join(t.dir, "ref.sqlite");
  const reference = await runCli([
    "supervise",
    "review this repo",
    "--run-id",
    "team",
    ...common(t.ws, refDb),
    "--json",
  ]);
  assert.equal(reference.code, 0, reference.stderr);
  const refDoc = JSON.parse(reference.stdout);
  assert.deepEqual(refDoc.children.map((c: { runId: string }) => c.runId), [
    "team/1",
    "team/2",
    "team/3",
  ]);
  assert.match(refDoc.answer, /^Review summary \(3 sub-tasks\):\n1\. List the project's files/);

  const db = join(t.dir, "runs.sqlite");
  const log = join(t.dir, "tools.log");
  // --concurrency 2: children 1 and 2 start together; child 3 starts when child 1 completes.
  // The test hook holds child 2 after its list_files, right before run_tests, and child 3 before
  // its first tool: once both hold, child 1 has completed and the other two are mid-way.
  const victim = new CliProcess([
    "supervise",
    "review this repo",
    "--run-id",
    "team",
    ...common(t.ws, db),
    "--concurrency",
    "2",
  ], {
    env: { LOOM_RUN_TOOL_HOLD: "team/2:run_tests,team/3:list_files", LOOM_RUN_TOOL_LOG: log },
  });
  await victim.waitFor(/holding before run_tests in run team\/2 /);
  await victim.waitFor(/holding before list_files in run team\/3 /);
  const status = await victim.kill();
  assert.equal(status.signal, "SIGKILL");
  const order = [...victim.stderr.matchAll(/child (team\/\d) (started|completed)/g)].map((m) =>
    `${m[1]} ${m[2]}`
  );
  assert.deepEqual(order, [
    "team/1 started",
    "team/2 started",
    "team/1 completed",
    "team/3 started",
  ]);
  // Real executions before the kill: child 1's list_files and child 2's; nothing of child 3.
  const before = await toolLog(log);
  assert.deepEqual(before.map((l) => `${l[0]} ${l[2]}`).sort(), [
    "team/1 list_files",
    "team/2 list_files",
  ]);

  const resumed = await runCli(["resume", "--run-id", "team", "--db", db, "--json"], {
    env: { LOOM_RUN_TOOL_LOG: log },
  });
  assert.equal(resumed.code, 0, resumed.stderr);
  const doc = JSON.parse(resumed.stdout);
  assert.equal(doc.status, "completed");
  assert.equal(doc.answer, refDoc.answer, "same final answer as an uninterrupted supervisor");
  const after = (await toolLog(log)).slice(before.length);
  const ranAfter = (child: string) => after.filter((l) => l[0] === child).map((l) => l[2]);
  assert.deepEqual(ranAfter("team/1"), [], "the finished child ran no tool again");
  // Child 2 continues from its held call: list_files finished before and is not run again.
  assert.deepEqual(ranAfter("team/2"), ["run_tests", "search", "read_file"]);
  assert.deepEqual(ranAfter("team/3"), ["list_files", "search", "search", "read_file"]);
  // No tool call of any child ran twice (the held ones never ran before the kill).
  const keys = (await toolLog(log)).map(([run, key]) => `${run} ${key}`);
  assert.equal(new Set(keys).size, keys.length, `repeated calls: ${keys.join(", ")}`);

  const explain = await runCli(["explain", "--run-id", "team", "--db", db]);
  assert.match(
    explain.stdout,
    /child runs:\n {2}team\/1\s+completed\n {2}team\/2\s+completed\n {2}team\/3\s+completed/,
  );
});

Deno.test("e2e: user errors end in one sentence on stderr and exit code 2, no stack trace", async () => {
  await using t = await tempWorkspace();
  const notDb = join(t.dir, "notes.txt");
  await Deno.writeTextFile(
    notDb,
    "not a database at all, just text that is long enough to look like a file",
  );
  const db = join(t.dir, "r.sqlite");
  const chat = ["chat", "q", "--workspace", t.ws, "--db", db, "--mock-llm", "--test-command"];
  const cases: [string[], RegExp][] = [
    [["chat", "q", "--bogus"], /^error: unknown option --bogus \(see loom-run --help\)\n$/],
    [
      ["chat", "q", "--db"],
      /^error: Option '--db <value>' argument missing \(see loom-run --help\)\n$/,
    ],
    [
      [...chat, "deno run math_check.js | cat"],
      /^error: the test command .* contains '\|', but it runs without a shell/,
    ],
    [[...chat, "deno test; rm -rf x"], /contains ';', but it runs without a shell/],
    [[...chat, "deno test && echo ok"], /contains '&', but/],
    [[...chat, "deno test > out.txt"], /contains '>', but/],
    [[...chat, "deno test < in.txt"], /contains '<', but/],
    [[...chat, "deno test `id`"], /contains '`', but/],
    [[...chat, 'deno test "$(id)"'], /contains '\$\(', but/],
    [[...chat, "deno run 'math_check.js"], /contains an unterminated ' quote, but/],
    [[...chat, 'deno run "math_check.js'], /contains an unterminated " quote, but/],
    [
      ["chat", "q", "--workspace", join(t.dir, "nope"), "--db", join(t.dir, "r.sqlite")],
      /^error: the workspace '.*nope' does not exist/,
    ],
    [["explain", "--run-id", "x", "--db", notDb], /^error: /],
    [["retry", "--db", db], /^error: 'retry' needs --run-id/],
  ];
  for (const [args, pattern] of cases) {
    const out = await runCli(args);
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, pattern);
    assert.equal(out.stderr.trim().split("\n").length, 1, `one line only: ${out.stderr}`);
    assert.equal(out.stdout, "");
  }
});

Deno.test("e2e: without an API key a remote LLM endpoint is refused before any request; a local one needs none", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  // No --allow-net at all: a request to api.openai.com would end in a permission error instead.
  const noNet = ["--allow-read", "--allow-write", "--allow-env", "--allow-run"];
  for (const extra of [[], ["--base-url", "https://llm.example.com/v1"]]) {
    const out = await runCli(
      ["chat", "hi", "--run-id", "nokey", "--workspace", t.ws, "--db", db, ...extra],
      { denoFlags: noNet },
    );
    assert.equal(out.code, 2, out.stderr);
    assert.match(
      out.stderr,
      /^error: no API key for https:\/\/(api\.openai\.com|llm\.example\.com)\/v1: set LOOM_LLM_API_KEY \(or OPENAI_API_KEY\), use --mock-llm, or point LOOM_LLM_BASE_URL/,
    );
    assert.equal(out.stderr.trim().split("\n").length, 1, `one line only: ${out.stderr}`);
    assert.equal(out.stdout, "");
  }
  const none = await runCli(["explain", "--run-id", "nokey", "--db", db]);
  assert.match(none.stderr, /there is no run 'nokey'/, "no run was started");

  // A loopback endpoint (Ollama, llama.cpp, the fake here) runs without a key.
  const fake = await startFakeOpenAi({ brain: new MockProvider("llama3") });
  try {
    const local = await runCli([
      "chat",
      "why does the test fail?",
      "--run-id",
      "local",
      "--workspace",
      t.ws,
      "--db",
      db,
      ...TEST_CMD,
      "--base-url",
      fake.baseUrl,
      "--model",
      "llama3",
    ]);
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /^The tests fail/);
    assert.ok(fake.requests.length > 0);
  } finally {
    await fake.close();
  }
});

Deno.test("e2e: the OpenAI-compatible client through the CLI: streaming, tool calls, retry on 429, auth error", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const fake = await startFakeOpenAi({
    brain: new MockProvider("llama3"),
    apiKey: "sk-local",
    script: [{ kind: "status", status: 429 }],
  });
  try {
    const args = [
      "--db",
      db,
      "--workspace",
      t.ws,
      ...TEST_CMD,
      "--base-url",
      fake.baseUrl,
      "--model",
      "llama3",
    ];
    const ok = await runCli(["chat", "why does the test fail?", "--run-id", "oa", ...args], {
      env: { OPENAI_API_KEY: "sk-local" },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^The tests fail: `FAIL add\(2, 3\)/);
    assert.match(
      ok.stderr,
      /! llm attempt 1 failed: the LLM endpoint is busy or failing \(HTTP 429\).*retrying in \d+ ms/,
    );
    // 1 rejected + 4 turns; the conversation carries tool results back in the wire format.
    assert.equal(fake.requests.length, 5);
    const last = fake.requests.at(-1)!.body;
    assert.ok(last.messages.some((m) => m.role === "tool"));
    assert.equal(last.tools?.length, 4);

    const denied = await runCli(["chat", "hi", "--run-id", "oa2", ...args], {
      env: { LOOM_LLM_API_KEY: "wrong" },
    });
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      /error: run oa2 failed: the LLM endpoint .* rejected the API key \(HTTP 401\)/,
    );
    // resume refuses a failed run and names the command that continues it.
    const resumed = await runCli(["resume", "--run-id", "oa2", "--db", db], {
      env: { OPENAI_API_KEY: "sk-local" },
    });
    assert.equal(resumed.code, 2, resumed.stderr);
    assert.match(
      resumed.stderr,
      /^error: run oa2 failed \(.*\); continue it from its last checkpoint with: loom-run retry --run-id oa2 --db /,
    );
    // retry checks the key against the stored settings plus overrides: a remote URL needs one.
    const noKey = await runCli([
      "retry",
      "--run-id",
      "oa2",
      "--db",
      db,
      "--base-url",
      "https://llm.example.com/v1",
    ]);
    assert.equal(noKey.code, 2, noKey.stderr);
    assert.match(noKey.stderr, /^error: no API key for https:\/\/llm\.example\.com\/v1/);
    // retry with the right key continues it from its checkpoint to an answer.
    const before = fake.requests.length;
    const retried = await runCli(["retry", "--run-id", "oa2", "--db", db], {
      env: { OPENAI_API_KEY: "sk-local" },
    });
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stderr, /run oa2 completed/);
    assert.ok(fake.requests.length > before, "the retried run called the LLM again");
    const again = await runCli(["retry", "--run-id", "oa2", "--db", db]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^error: run oa2 is completed; only a failed run can be retried/);
  } finally {
    await fake.close();
  }
});

Deno.test("e2e: MCP tools from --mcp-config are offered next to the local ones", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const config = join(t.dir, "mcp.json");
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      fx: {
        command: Deno.execPath(),
        args: ["run", "--quiet", "--allow-env", testdata("mcp", "fixture_server.ts"), "ok"],
      },
      dead: {
        command: Deno.execPath(),
        args: ["run", "--quiet", testdata("mcp", "fixture_server.ts"), "crash-on-init"],
      },
    }),
  );
  const out = await runCli([
    "chat",
    'please @fx__echo {"text":"over stdio"} then @fx__crash',
    "--run-id",
    "m",
    ...common(t.ws, db),
    "--mcp-config",
    config,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /warning: MCP server 'dead' exited with code 3/);
  assert.match(out.stdout, /fx__echo returned: echo: over stdio/);
  assert.match(
    out.stdout,
    /fx__crash returned: error: fx__crash failed: MCP server 'fx' exited with code 7/,
  );
});

Deno.test("e2e: least privilege: a chat runs under narrow --allow-* flags instead of -A", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  const ws = await Deno.realPath(t.ws);
  const flags = [
    `--allow-read=${ws},${t.dir}`,
    `--allow-write=${t.dir}`,
    "--allow-run=deno",
    "--allow-env=LOOM_RUN_DB,LOOM_RUN_WORKSPACE,LOOM_LLM_MOCK,LOOM_LLM_API_KEY,OPENAI_API_KEY,PATH,HOME",
    "--allow-net=127.0.0.1",
  ];
  // The README's command as written (flags, no variables), with its paths filled in.
  const out = await runCli([
    "chat",
    "why does the test fail?",
    "--workspace",
    ws,
    "--db",
    db,
    "--mock-llm",
    ...TEST_CMD,
  ], { denoFlags: flags });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^The tests fail/);
  // Without --allow-run the test tool reports it cannot run, and the run still answers.
  const noRun = await runCli([
    "chat",
    "why does the test fail?",
    "--run-id",
    "lp2",
    "--mock-llm",
    ...TEST_CMD,
  ], {
    denoFlags: flags.filter((f) => !f.startsWith("--allow-run")),
    env: { LOOM_RUN_DB: db, LOOM_RUN_WORKSPACE: ws },
  });
  assert.equal(noRun.code, 0, noRun.stderr);
  assert.match(
    noRun.stderr,
    /✗ run_tests: error: running 'deno' is not permitted \(add it to --allow-run\)/,
  );
});

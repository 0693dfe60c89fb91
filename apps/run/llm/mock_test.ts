import assert from "node:assert/strict";
import { tempWorkspace } from "../testing.ts";
import { localTools } from "../tools/local.ts";
import { MockProvider } from "./mock.ts";
import {
  CHAT_SYSTEM,
  parsePlan,
  PLAN_SYSTEM,
  SYNTHESIS_SYSTEM,
  synthesisPrompt,
} from "./prompts.ts";
import type { ChatMessage } from "./types.ts";

/** Drives the mock against the real local tools until it answers; returns answer and calls made. */
async function converse(
  ws: string,
  question: string,
): Promise<{ answer: string; calls: string[]; streamed: string }> {
  const tools = localTools({
    workspace: ws,
    testCommand: ["deno", "run", "math_check.js"],
    testTimeoutMs: 30_000,
  });
  const llm = new MockProvider();
  const messages: ChatMessage[] = [{ role: "system", content: CHAT_SYSTEM }, {
    role: "user",
    content: question,
  }];
  const calls: string[] = [];
  let streamed = "";
  for (let turn = 0; turn < 10; turn++) {
    const reply = await llm.complete({ messages, tools, onDelta: (d) => streamed += d });
    messages.push({ role: "assistant", content: reply.content, tool_calls: reply.toolCalls });
    if (reply.toolCalls.length === 0) return { answer: reply.content, calls, streamed };
    for (const call of reply.toolCalls) {
      calls.push(`${call.function.name} ${call.function.arguments}`);
      const tool = tools.find((t) => t.name === call.function.name)!;
      const content = await tool.run(JSON.parse(call.function.arguments), {
        signal: new AbortController().signal,
      });
      messages.push({ role: "tool", tool_call_id: call.id, content });
    }
  }
  throw new Error("mock never answered");
}

Deno.test("mock LLM: plans tests -> search -> read, then answers from the results", async () => {
  await using t = await tempWorkspace();
  const { answer, calls, streamed } = await converse(t.ws, "why does the test fail?");
  assert.deepEqual(calls, [
    "list_files {}",
    "run_tests {}",
    'search {"query":"function add"}',
    'read_file {"path":"src/math.js"}',
  ]);
  assert.match(answer, /^The tests fail: `FAIL add\(2, 3\): expected 5, got 6`\./);
  assert.match(
    answer,
    /'function add' is at src\/math\.js:2:\n```\n {3}2 {2}export function add\(a, b\) \{\n {3}3 {4}return a \+ b \+ 1;/,
  );
  assert.equal(streamed, answer, "the answer is streamed in full");
  // Deterministic: the same conversation gives the same answer.
  assert.equal((await converse(t.ws, "why does the test fail?")).answer, answer);
});

Deno.test("mock LLM: the answer follows the workspace, not a canned text", async () => {
  await using t = await tempWorkspace();
  await Deno.writeTextFile(
    `${t.ws}/src/math.js`,
    "export function add(a, b) {\n  return a + b;\n}\nexport function mul(a, b) {\n  return a * b;\n}\n",
  );
  const { answer } = await converse(t.ws, "why does the test fail?");
  assert.match(answer, /^The tests pass \(exit code 0\)\./);
});

Deno.test("mock LLM: directives call any offered tool, unknown tools are not called", async () => {
  const llm = new MockProvider();
  const reply = await llm.complete({
    messages: [{ role: "user", content: 'please @fs__list_directory {"path":"."} and @nope' }],
    tools: [{ name: "fs__list_directory", description: "", parameters: {} }],
  });
  assert.deepEqual(reply.toolCalls.map((c) => [c.function.name, c.function.arguments]), [[
    "fs__list_directory",
    '{"path":"."}',
  ]]);
});

Deno.test("mock LLM: answers directly when no tool is offered, and reports usage", async () => {
  const reply = await new MockProvider().complete({
    messages: [{ role: "user", content: "hello?" }],
    tools: [],
  });
  assert.equal(reply.toolCalls.length, 0);
  assert.match(reply.content, /no tool results/);
  assert.ok(reply.usage!.promptTokens > 0 && reply.usage!.completionTokens > 0);
});

Deno.test("mock LLM: plans sub-tasks and synthesises their answers", async () => {
  const llm = new MockProvider();
  const plan = await llm.complete({
    messages: [{ role: "system", content: PLAN_SYSTEM }, {
      role: "user",
      content: "review this repo",
    }],
    tools: [],
  });
  const tasks = parsePlan(plan.content, "review this repo");
  assert.equal(tasks.length, 3);
  assert.match(tasks[1], /^Run the tests/);
  const final = await llm.complete({
    messages: [{ role: "system", content: SYNTHESIS_SYSTEM }, {
      role: "user",
      content: synthesisPrompt("review this repo", tasks, ["A1\nmore", "A2", "A3"]),
    }],
    tools: [],
  });
  assert.equal(
    final.content,
    "Review summary (3 sub-tasks):\n1. List the project's files and describe its layout: A1\n2. Run the tests and explain any failure: A2\n3. Search for TODO and FIXME notes: A3",
  );
});

Deno.test("parsePlan accepts JSON, numbered lines, or falls back to the goal", () => {
  assert.deepEqual(parsePlan('Here: ["a", "b"]', "g"), ["a", "b"]);
  assert.deepEqual(parsePlan("1. first\n2) second", "g"), ["first", "second"]);
  assert.deepEqual(parsePlan("just do it", "g"), ["g"]);
});

Deno.test("mock LLM: passes on run_tests' note about missing permissions", async () => {
  const reply = await new MockProvider().complete({
    messages: [
      { role: "system", content: CHAT_SYSTEM },
      { role: "user", content: "why does the test fail?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "c1",
          type: "function",
          function: { name: "run_tests", arguments: "{}" },
        }],
      },
      {
        role: "tool",
        tool_call_id: "c1",
        content:
          "note: 2 test error(s) say a permission is missing (read): 'deno test' runs the tests without them\nexit code 1 (failed)\nreads => ./a_test.ts:1:6\nerror: NotCapable: Requires read access",
      },
    ],
    tools: [],
  });
  assert.match(reply.content, /^The test command did not pass: exit code 1 \(failed\)\./);
  assert.match(reply.content, /\nNote: 2 test error\(s\) say a permission is missing \(read\)/);
});

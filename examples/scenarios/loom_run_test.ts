// Scenarios for loom-run, driven through its CLI (`deno run -A apps/run/main.ts chat ...`) as
// subprocesses on a temp database and a copy of the fixture workspace: once with the built-in
// mock LLM, once with a cassette recorded against the local fake OpenAI-compatible server.
// Traces are rebuilt from the run database by loom-run's own `traceChatRun` (LLM spans with
// tokens and cost) and compared with golden files.
import assert from "node:assert/strict";
import {
  assertMatchesGolden,
  cassette,
  scenario,
  type ScenarioEnv,
  type ScenarioOptions,
} from "@loom/runner/testing";
import { startFakeOpenAi } from "../../apps/run/llm/fake_openai_server.ts";
import { MockProvider } from "../../apps/run/llm/mock.ts";
import { traceChatRun } from "../../apps/run/store_trace.ts";
import { copyTree, testdata } from "../../apps/run/testing.ts";

const QUESTION = "why does the test fail?";

/** `loom-run chat` on a fresh copy of apps/run/testdata/buggy. */
function chat(extra: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return {
    setup: (env: ScenarioEnv) => copyTree(testdata("buggy"), `${env.dir}/ws`),
    command: {
      main: new URL("../../apps/run/main.ts", import.meta.url),
      runs: (env) => [[
        "chat",
        QUESTION,
        "--run-id",
        env.runId,
        "--db",
        env.db,
        "--workspace",
        `${env.dir}/ws`,
        "--test-command",
        "deno run math_check.js",
        "--json",
      ]],
    },
    trace: traceChatRun,
    ...extra,
  };
}

function answerOf(stdout: string): { status: string; answer: string; toolCalls: number } {
  return JSON.parse(stdout);
}

scenario("loom-run chat with the mock LLM", chat({ llm: "mock" }), async (run) => {
  assert.equal(run.status, "completed");
  const out = answerOf(run.outputs[0].stdout);
  assert.equal(out.status, "completed");
  assert.match(out.answer, /mock answer/);
  const tools = run.history.calls.filter((c) => c.kind === "tool").map((c) => c.name);
  assert.ok(tools.includes("llm") && tools.some((t) => t !== "llm"), tools.join(","));
  await assertMatchesGolden(run, "golden/loom-run-mock.json");
});

/** Recorded once with `LOOM_RECORD=1` against the fake server answering like the mock LLM. */
const FAKE_OPENAI = cassette("cassettes/loom-run-chat.json", {
  upstream: () => startFakeOpenAi({ brain: new MockProvider("gpt-4o-mini") }),
});

scenario(
  "loom-run chat against a recorded OpenAI-compatible endpoint",
  chat({ llm: FAKE_OPENAI }),
  async (run) => {
    assert.equal(run.status, "completed");
    const out = answerOf(run.outputs[0].stdout);
    assert.equal(out.status, "completed");
    assert.ok(run.llmRequests >= 2, `LLM requests: ${run.llmRequests}`);
    // The LLM spans carry the recorded usage, so tokens and cost are part of the golden.
    const llm = run.trace.spans.filter((s) => s.kind === "llm");
    assert.equal(llm.length, run.llmRequests);
    assert.ok(llm.every((s) => typeof s.attributes["gen_ai.usage.input_tokens"] === "number"));
    await assertMatchesGolden(run, "golden/loom-run-cassette.json");
  },
);

scenario(
  "loom-run chat SIGKILLed after its first turn resumes to the same answer",
  chat({
    llm: "mock",
    // crashAfterStep kills the first command right after step 0 is committed (the runner's
    // test-only fault hook), then the second resumes the run.
    command: {
      ...chat().command!,
      runs: (env) => [
        ...chat().command!.runs(env),
        ["resume", "--run-id", env.runId, "--db", env.db, "--json"],
      ],
    },
    faults: { crashAfterStep: 0 },
  }),
  async (run) => {
    assert.equal(run.crashes, 1);
    assert.equal(run.outputs[1].code, 0, run.outputs[1].stderr);
    assert.equal(answerOf(run.outputs[1].stdout).status, "completed");
    assert.equal(run.status, "completed");
    // Same conversation, tools and answer as the uninterrupted run; the history of the crash
    // (resume events, the interrupted attempt) is what differs.
    await assertMatchesGolden(run, "golden/loom-run-mock.json", {
      ignore: ["event", "error"],
      update: false,
    });
  },
);

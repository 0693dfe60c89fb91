// A chat agent in the regression lab: its LLM is a cassette (recorded once, with LOOM_RECORD=1,
// from the local fake OpenAI-compatible server driven by a scriptedModel), replayed byte for
// byte; the agent just has its base URL pointed at the cassette server. Also after a SIGKILL
// after the first turn: the resume asks the cassette only for the second turn.
import assert from "node:assert/strict";
import { cassette, scenario, type ScenarioOptions } from "@loom/runner/testing";
import { startFakeOpenAi } from "../llm/fake_openai_server.ts";
import { scriptedModel } from "../llm/scripted.ts";
import { traceChatRun } from "../store_trace.ts";
import { weather } from "../testdata/weather_agent.ts";

const WEATHER = cassette("../testdata/cassettes/weather.json", {
  upstream: () =>
    startFakeOpenAi({
      brain: scriptedModel((request, turn) =>
        turn === 0
          ? {
            toolCalls: ["Oslo", "Bergen"].map((city) => ({
              name: "forecast",
              arguments: { city },
            })),
          }
          : `Tomorrow: ${
            request.messages.flatMap((m) => m.role === "tool" ? [m.content] : []).join("; ")
          }`
      ),
    }),
});

const ANSWER =
  'Tomorrow: {"city":"Oslo","sky":"sunny","high":21}; {"city":"Bergen","sky":"rain","high":14}';

function options(extra: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return {
    agent: weather,
    input: (env) => ({
      question: "Weather in Oslo and Bergen tomorrow?",
      settings: { baseUrl: env.llm.baseUrl! },
    }),
    llm: WEATHER,
    trace: traceChatRun,
    ...extra,
  };
}

scenario("chat agent: answers from a recorded cassette", options(), (run) => {
  assert.equal(run.status, "completed");
  assert.deepEqual(
    [(run.result as { answer: string }).answer, (run.result as { stoppedBy: string }).stoppedBy],
    [ANSWER, "answer"],
  );
  assert.equal(run.llmRequests, 2);
  const llm = run.trace.spans.filter((s) => s.kind === "llm");
  assert.equal(llm.length, 2);
  assert.ok(llm.every((s) => typeof s.attributes["gen_ai.usage.input_tokens"] === "number"));
  assert.ok(llm.every((s) => typeof s.attributes["loom.cost.usd"] === "number"));
  assert.deepEqual(
    run.trace.spans.filter((s) => s.kind === "tool").map((s) => s.attributes["gen_ai.tool.name"]),
    ["forecast", "forecast"],
  );
});

scenario(
  "chat agent: SIGKILLed after its first turn, the resume asks the cassette only for the second",
  options({ faults: { crashAfterStep: 0 } }),
  (run) => {
    assert.equal(run.crashes, 1);
    assert.equal(run.status, "completed");
    assert.equal((run.result as { answer: string }).answer, ANSWER);
    assert.equal(run.llmRequests, 2);
  },
);

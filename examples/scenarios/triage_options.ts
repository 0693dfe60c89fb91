/**
 * The triage agent's scenario setup, shared by its scenarios (`triage_test.ts`) and the proof
 * that the lab catches regressions (`proof_test.ts`).
 *
 * The cassette was recorded once against the local fake OpenAI-compatible server of loom-run
 * (`LOOM_RECORD=1 deno test -A examples/scenarios/triage_test.ts`); with a real endpoint, drop
 * `upstream` and set `LOOM_RECORD_BASE_URL` and `LOOM_LLM_API_KEY` while recording.
 */
import type { Agent } from "@loom/runner";
import { cassette, type ScenarioOptions, traceWithLlmCalls } from "@loom/runner/testing";
import { startFakeOpenAi } from "../../apps/run/llm/fake_openai_server.ts";

/** The ticket every triage scenario files. */
export const TICKET = "Ticket #4711: customers report failed checkouts on the api service.";

/** What the model said when the cassette was recorded. */
const RECORDED_REPLIES = [
  {
    kind: "json" as const,
    reply: {
      content: "",
      toolCalls: [{
        id: "call_status_1",
        type: "function" as const,
        function: { name: "status", arguments: '{"service":"api"}' },
      }],
      model: "gpt-4o-mini",
      finishReason: "tool_calls",
      usage: { promptTokens: 96, completionTokens: 14 },
    },
  },
  {
    kind: "json" as const,
    reply: {
      content: "high: the api service is degraded with a 12% error rate.",
      toolCalls: [],
      model: "gpt-4o-mini",
      finishReason: "stop",
      usage: { promptTokens: 131, completionTokens: 17 },
    },
  },
];

/** The cassette (recording goes to the local fake server, so it works offline too). */
export const TRIAGE_CASSETTE = cassette("cassettes/triage.json", {
  upstream: () => startFakeOpenAi({ script: structuredClone(RECORDED_REPLIES) }),
});

/** Scenario options for a triage agent (the real one, or a changed copy in the proofs). */
export function triageScenario(
  // deno-lint-ignore no-explicit-any
  agent: Agent<any, any, any> | URL,
  extra: Partial<ScenarioOptions> = {},
): ScenarioOptions {
  return {
    agent,
    input: (env) => ({
      ticket: TICKET,
      llm: { baseUrl: env.llm.baseUrl },
    }),
    llm: TRIAGE_CASSETTE,
    trace: traceWithLlmCalls("llm"),
    ...extra,
  };
}

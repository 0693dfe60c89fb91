/**
 * A small LLM agent for the regression lab: it triages an incident ticket by asking an
 * OpenAI-compatible endpoint (Chat Completions, tool calling), looking up service status with a
 * local tool, and answering with a severity. One LLM turn per durable step.
 *
 * Input: `{ ticket, llm: { baseUrl, model? } }`.
 */
import { defineAgent, LoomError, recur } from "@loom/runner";

/** The system prompt. Changing it changes every request: the cassette scenario catches that. */
export const SYSTEM_PROMPT =
  "You are an on-call triage assistant. Check the status of the service named in the ticket " +
  "with the `status` tool, then answer in one sentence that starts with the severity (low or high).";

/** The tool the model may call. */
const TOOLS = [{
  type: "function",
  function: {
    name: "status",
    description: "Current health of a service: up or degraded, and its error rate.",
    parameters: {
      type: "object",
      properties: { service: { type: "string" } },
      required: ["service"],
    },
  },
}];

/** Service health, as a monitoring API would answer. */
const HEALTH: Record<string, { state: string; errorRate: number }> = {
  api: { state: "degraded", errorRate: 0.12 },
  billing: { state: "up", errorRate: 0.001 },
};

interface Message {
  role: string;
  content: string | null;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

interface Reply {
  message: Message;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/** One non-streaming chat completion. */
async function complete(baseUrl: string, model: string, messages: Message[]): Promise<Reply> {
  const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: "Bearer sk-test-not-a-real-key-0000",
    },
    body: JSON.stringify({ model, messages, tools: TOOLS, stream: false }),
  });
  const body = await res.json();
  if (!res.ok) {
    // 429 and 5xx are worth retrying; anything else is the request's fault.
    const transient = res.status === 429 || res.status >= 500;
    throw new LoomError(`LLM endpoint answered ${res.status}: ${body?.error?.message ?? ""}`, {
      category: transient ? "transient" : "validation",
    });
  }
  return { message: body.choices[0].message, usage: body.usage };
}

export default defineAgent({
  name: "triage",
  initialState: (input: { ticket: string; llm: { baseUrl: string; model?: string } }) => ({
    baseUrl: input.llm.baseUrl,
    model: input.llm.model ?? "gpt-4o-mini",
    messages: [
      { role: "system", content: SYSTEM_PROMPT },
      { role: "user", content: input.ticket },
    ] as Message[],
    turns: 0,
  }),
  async step(state, ctx) {
    if (state.turns >= 4) return { answer: null, turns: state.turns };
    const reply = await ctx.callTool(
      "llm",
      { model: state.model, messages: state.messages },
      () => complete(state.baseUrl, state.model, state.messages),
    );
    const calls = reply.message.tool_calls ?? [];
    if (calls.length === 0) return { answer: reply.message.content, turns: state.turns + 1 };
    const results: Message[] = [];
    for (const call of calls) {
      const args = JSON.parse(call.function.arguments) as { service: string };
      const health = await ctx.callTool(
        "status",
        args,
        (a: { service: string }) => HEALTH[a.service] ?? { state: "unknown", errorRate: 0 },
        { timeoutMs: 200, retry: { maxAttempts: 4, initialDelayMs: 10 } },
      );
      results.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(health) });
    }
    return recur({
      ...state,
      messages: [...state.messages, reply.message, ...results],
      turns: state.turns + 1,
    });
  },
});

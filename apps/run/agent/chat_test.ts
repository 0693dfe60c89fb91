// The chat agent as a library, in-process, with a scripted model and real tools on a real
// (in-memory) SQLite store: durable turns and tool calls, schema checks before a tool runs, the
// runner's retry categories for tool failures, budgets, refusals and cut answers, events and
// traces. The user-project tests (SIGKILL, real HTTP, links) are in ../library_test.ts.
import assert from "node:assert/strict";
import { LoomError, openStore, resumeRun, startRun, type Store } from "@loom/runner";
import { Recorder } from "@loom/xray";
import { scriptedModel } from "../llm/scripted.ts";
import type { ChatMessage, LlmRequest } from "../llm/types.ts";
import { traceChatRun } from "../store_trace.ts";
import { tool } from "../tools/tool.ts";
import { ToolError } from "../tools/types.ts";
import { chatTracer } from "../trace.ts";
import { chatAgent, type ChatResult } from "./chat.ts";
import type { ChatEvent } from "./events.ts";

/** A forecast tool that counts its runs. */
function forecastTool(runs: string[] = []) {
  return tool({
    name: "forecast",
    description: "Tomorrow's weather for a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } },
      required: ["city"],
      additionalProperties: false,
    },
    run: ({ city }) => {
      runs.push(city);
      return { city, sky: "sunny", high: 21 };
    },
  });
}

/** The tool results the model was shown, in order. */
function toolResults(messages: ChatMessage[]): string[] {
  return messages.flatMap((m) => m.role === "tool" ? [m.content] : []);
}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = openStore(":memory:");
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

Deno.test("chat agent: answers with a tool; every LLM turn and tool call is a durable call", async () => {
  const runs: string[] = [];
  const events: ChatEvent[] = [];
  const agent = chatAgent({
    name: "weather",
    model: scriptedModel([
      { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
      "Sunny in Oslo, 21 °C.",
    ]),
    system: "Answer with the tools.",
    tools: [forecastTool(runs)],
    onEvent: (e) => events.push(e),
  });
  await withStore(async (store) => {
    const run = await startRun(agent, { store, runId: "w1", input: { question: "Oslo?" } });
    assert.equal(run.status, "completed");
    assert.deepEqual(
      run.result,
      {
        answer: "Sunny in Oslo, 21 °C.",
        stoppedBy: "answer",
        turns: 2,
        toolCalls: 1,
        usage: run.result!.usage,
      } satisfies ChatResult,
    );
    assert.equal(run.result!.usage.calls, 2);
    assert.deepEqual(runs, ["Oslo"]);
    const calls = await store.listCalls("w1");
    assert.deepEqual(calls.map((c) => [c.key, c.name, c.status]), [
      ["key:llm:1", "llm", "completed"],
      ["key:tool:1:call_1_1", "forecast", "completed"],
      ["key:llm:2", "llm", "completed"],
    ]);
    assert.deepEqual(JSON.parse(calls[1].result!), {
      ok: true,
      output: '{"city":"Oslo","sky":"sunny","high":21}',
    });
  });
  assert.deepEqual(
    events.filter((e) => e.type !== "delta").map((e) => e.type),
    ["llm", "tool_start", "tool_end", "llm", "answer"],
  );
  assert.equal(
    events.filter((e) => e.type === "delta").map((e) => (e as { text: string }).text).join(""),
    "Sunny in Oslo, 21 °C.",
  );
});

Deno.test("chat agent: a run stopped after its first turn resumes without asking the model again", async () => {
  const asked: number[] = [];
  const runs: string[] = [];
  const script = scriptedModel([
    { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
    "Sunny.",
  ]);
  const agent = chatAgent({
    name: "weather",
    model: {
      provider: "counting",
      model: "scripted-1",
      complete: (request: LlmRequest) => {
        asked.push(request.messages.length);
        return script.complete(request);
      },
    },
    tools: [forecastTool(runs)],
  });
  await withStore(async (store) => {
    const first = await startRun(agent, {
      store,
      runId: "w2",
      input: { question: "Oslo?" },
      maxSteps: 1,
    });
    assert.equal(first.status, "paused");
    const second = await resumeRun(agent, { store, runId: "w2" });
    assert.equal(second.result?.answer, "Sunny.");
  });
  assert.deepEqual(asked, [1, 3], "one request per turn, the first never repeated");
  assert.deepEqual(runs, ["Oslo"], "the finished tool call is not run again");
});

Deno.test("chat agent: arguments that break the schema go back to the model as a recorded tool error", async () => {
  const runs: string[] = [];
  const shown: string[][] = [];
  const agent = chatAgent({
    name: "weather",
    model: scriptedModel((request, turn) => {
      shown.push(toolResults(request.messages));
      return [
        {
          toolCalls: [
            { name: "forecast", arguments: { city: 42, days: 0 } },
            { name: "forecast", arguments: "{city: Oslo" },
            { name: "horoscope", arguments: {} },
          ],
        },
        { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
        "Sunny.",
      ][turn];
    }),
    tools: [forecastTool(runs)],
  });
  await withStore(async (store) => {
    const run = await startRun(agent, { store, runId: "bad", input: { question: "Oslo?" } });
    assert.equal(run.result?.answer, "Sunny.");
    assert.deepEqual(runs, ["Oslo"], "the tool ran only with valid arguments");
    assert.deepEqual(shown[1], [
      "error: invalid arguments for forecast: $.city must be a string (got number 42); $.days must be ≥ 1 (got 0); call it again with arguments that match its schema",
      "error: the arguments of forecast are not a JSON object: {city: Oslo",
      "error: there is no tool named 'horoscope'; available: forecast",
    ]);
    // Recorded like any tool call, so a resume replays the error instead of asking again.
    const first = (await store.listCalls("bad")).find((c) => c.key === "key:tool:1:call_1_1")!;
    assert.equal(first.status, "completed");
    assert.equal(JSON.parse(first.result!).ok, false);
    // In the trace it is a failed tool span.
    const trace = await traceChatRun(store, "bad");
    const failed = trace!.spans.filter((s) => s.kind === "tool" && s.status === "error");
    assert.equal(failed.length, 3);
  });
});

Deno.test("chat agent: tool failures follow the runner's retry categories", async () => {
  let flaky = 0;
  let hung = 0;
  const calls: Record<string, number> = { always: 0, refused: 0 };
  const tools = [
    tool({
      name: "flaky",
      description: "Fails twice with a transient error.",
      parameters: { type: "object" },
      retry: { initialDelayMs: 1 },
      run: () => {
        if (++flaky <= 2) throw new LoomError("rate limited", { category: "transient" });
        return "ok after retries";
      },
    }),
    tool({
      name: "always",
      description: "Always fails transiently.",
      parameters: { type: "object" },
      retry: { initialDelayMs: 1, maxAttempts: 2 },
      run: () => {
        calls.always++;
        throw Object.assign(new Error("service unavailable"), { status: 503 });
      },
    }),
    tool({
      name: "refused",
      description: "Fails on its input.",
      parameters: { type: "object" },
      run: () => {
        calls.refused++;
        throw new ToolError("no such record");
      },
    }),
    tool({
      name: "slow",
      description: "Hangs on its first attempt, until its time limit aborts it.",
      parameters: { type: "object" },
      timeoutMs: 20,
      retry: { initialDelayMs: 1 },
      run: (_args, { signal }) => {
        if (++hung === 1) {
          return new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason))
          );
        }
        return "done";
      },
    }),
  ];
  let results: string[] = [];
  const agent = chatAgent({
    name: "retries",
    model: scriptedModel((request, turn) => {
      results = toolResults(request.messages);
      return turn === 0
        ? {
          toolCalls: ["flaky", "always", "refused", "slow"].map((name) => ({ name })),
        }
        : "Done.";
    }),
    tools,
  });
  await withStore(async (store) => {
    const run = await startRun(agent, { store, runId: "r", input: { question: "go" } });
    assert.equal(run.status, "completed");
    assert.deepEqual(results, [
      "ok after retries",
      "error: always failed: service unavailable",
      "error: no such record",
      "done",
    ]);
    assert.equal(calls.always, 2, "transient: retried up to its maxAttempts");
    assert.equal(calls.refused, 1, "validation: never retried");
    const attempts = await store.listFailedAttempts("r");
    assert.deepEqual(attempts.map((a) => [a.errorCategory, a.error]), [
      ["transient", "rate limited"],
      ["transient", "rate limited"],
      ["transient", "service unavailable"],
      ["transient", "tool slow timed out after 20 ms"],
    ]);
  });
});

Deno.test("chat agent: budgets stop the run cleanly and say which", async () => {
  const looping = () =>
    scriptedModel((_request, turn) => ({
      content: `thinking ${turn + 1}`,
      toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }],
      usage: { promptTokens: 80, completionTokens: 20 },
      costUsd: 0.01,
    }));
  await withStore(async (store) => {
    const turns = await startRun(
      chatAgent({ name: "a", model: looping(), tools: [forecastTool()], limits: { maxTurns: 3 } }),
      { store, runId: "turns", input: { question: "?" } },
    );
    assert.equal(turns.status, "completed");
    assert.equal(turns.result?.stoppedBy, "max-turns");
    assert.equal(turns.result?.answer, "thinking 3");
    assert.equal(turns.result?.turns, 3);

    const tokens = await startRun(
      chatAgent({
        name: "b",
        model: looping(),
        tools: [forecastTool()],
        limits: { maxTokens: 250 },
      }),
      { store, runId: "tokens", input: { question: "?" } },
    );
    assert.equal(tokens.result?.stoppedBy, "max-tokens");
    assert.equal(tokens.result?.usage.calls, 3, "the turn that crossed 250 tokens completed");

    const cost = await startRun(
      chatAgent({
        name: "c",
        model: looping(),
        tools: [forecastTool()],
        limits: { maxCostUsd: 0.015 },
      }),
      { store, runId: "cost", input: { question: "?" } },
    );
    assert.equal(cost.result?.stoppedBy, "max-cost");
    assert.equal(cost.result?.usage.calls, 2);
  });
});

Deno.test("chat agent: past maxToolCalls the model is told so and offered no tools", async () => {
  const runs: string[] = [];
  const offered: number[] = [];
  let results: string[] = [];
  const agent = chatAgent({
    name: "capped",
    model: scriptedModel((request, turn) => {
      offered.push(request.tools.length);
      results = toolResults(request.messages);
      return turn === 0
        ? {
          toolCalls: ["Oslo", "Bergen", "Tromsø"].map((city) => ({
            name: "forecast",
            arguments: { city },
          })),
        }
        : "Two of three.";
    }),
    tools: [forecastTool(runs)],
    limits: { maxToolCalls: 2 },
  });
  await withStore(async (store) => {
    const run = await startRun(agent, { store, runId: "cap", input: { question: "?" } });
    assert.equal(run.result?.stoppedBy, "answer");
    assert.equal(run.result?.toolCalls, 2);
  });
  assert.deepEqual(runs, ["Oslo", "Bergen"]);
  assert.deepEqual(offered, [1, 0]);
  assert.equal(
    results[2],
    "error: the tool-call budget of this run is spent (2 calls); answer with what you have",
  );
});

Deno.test("chat agent: a refusal and a cut answer are results of their own, not answers", async () => {
  await withStore(async (store) => {
    const refused = await startRun(
      chatAgent({ name: "r", model: scriptedModel([{ refusal: "I can't help with that." }]) }),
      { store, runId: "refused", input: { question: "?" } },
    );
    assert.equal(refused.result?.stoppedBy, "refusal");
    assert.equal(refused.result?.answer, "");
    assert.equal(refused.result?.refusal, "I can't help with that.");
    const cut = await startRun(
      chatAgent({
        name: "l",
        model: scriptedModel([{ content: "The first half", finishReason: "length" }]),
      }),
      { store, runId: "cut", input: { question: "?" } },
    );
    assert.equal(cut.result?.stoppedBy, "length");
    assert.equal(cut.result?.answer, "The first half");
  });
});

Deno.test("chat agent: model, tools and limits can come from the run's stored settings", async () => {
  const agent = chatAgent<{ city: string; maxTurns: number }>({
    name: "per-run",
    model: (settings) =>
      scriptedModel([
        { toolCalls: [{ name: "forecast", arguments: { city: settings.city } }] },
        `About ${settings.city}.`,
      ]),
    tools: () => [forecastTool()],
    limits: (settings) => ({ maxTurns: settings.maxTurns }),
  });
  await withStore(async (store) => {
    const run = await startRun(agent, {
      store,
      runId: "s",
      input: { question: "?", settings: { city: "Bergen", maxTurns: 4 } },
    });
    assert.equal(run.result?.answer, "About Bergen.");
    const initial = JSON.parse((await store.getRun("s"))!.initialState!);
    assert.deepEqual(initial.settings, { city: "Bergen", maxTurns: 4 });
  });
});

Deno.test("chat agent: the live trace has LLM spans with tokens and cost, and tool spans", async () => {
  const tracer = chatTracer(new Recorder({ name: "trace" }));
  const agent = chatAgent({
    name: "traced",
    model: scriptedModel([
      {
        toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }, {
          name: "forecast",
          arguments: {},
        }],
        usage: { promptTokens: 30, completionTokens: 5 },
        costUsd: 0.002,
      },
      { content: "Sunny.", usage: { promptTokens: 60, completionTokens: 3 }, costUsd: 0.003 },
    ]),
    tools: [forecastTool()],
    onEvent: tracer.onEvent,
  });
  await withStore(async (store) => {
    await startRun(agent, {
      store,
      runId: "t",
      input: { question: "Oslo?" },
      observer: tracer.observer,
    });
    for (const trace of [tracer.recorder.toJSON(), (await traceChatRun(store, "t"))!]) {
      const llm = trace.spans.filter((s) => s.kind === "llm");
      assert.deepEqual(
        llm.map((s) => [
          s.attributes["gen_ai.usage.input_tokens"],
          s.attributes["gen_ai.usage.output_tokens"],
          s.attributes["loom.cost.usd"],
        ]),
        [[30, 5, 0.002], [60, 3, 0.003]],
      );
      const tools = trace.spans.filter((s) => s.kind === "tool");
      assert.deepEqual(tools.map((s) => s.status), ["ok", "error"]);
      const steps = trace.spans.filter((s) => s.kind === "step");
      assert.ok(
        llm.every((s) => steps.some((step) => step.id === s.parentId)),
        "LLM spans sit in steps",
      );
    }
  });
});

Deno.test("chat agent: malformed options are refused at once, saying what was wrong", () => {
  const model = scriptedModel(["hi"]);
  assert.throws(
    () => chatAgent({ name: "", model }),
    /Cannot create a chat agent as 'name' must be a non-empty string: current value is ""/,
  );
  assert.throws(
    // @ts-expect-error: a model is required
    () => chatAgent({ name: "x" }),
    /Cannot create chat agent 'x' as 'model' is required/,
  );
  assert.throws(
    () => chatAgent({ name: "x", model: {} as never }),
    /'model' must be a chat model \(openAiCompatible\(\), scriptedModel\(\)\.\.\.\): current value is \{\}/,
  );
  assert.throws(
    () => chatAgent({ name: "x", model, limits: { maxTurns: 0 } }),
    (e) =>
      e instanceof RangeError &&
      /'limits.maxTurns' must be a positive integer: current value is 0/.test(e.message),
  );
  assert.throws(
    () => chatAgent({ name: "x", model, tools: [forecastTool(), forecastTool()] }),
    /tool names must be unique \('forecast' is given twice\)/,
  );
  assert.throws(
    () => chatAgent({ name: "x", model, tools: [{ name: "forecast" } as never] }),
    /every tool must be made with tool\(\)/,
  );
});

Deno.test("chat agent: a question that is not a non-empty string is refused when the run starts", async () => {
  const agent = chatAgent({ name: "q", model: scriptedModel(["hi"]) });
  await withStore(async (store) => {
    await assert.rejects(
      () => startRun(agent, { store, runId: "q", input: { question: "  " } }),
      /Cannot start a run of chat agent 'q' as 'question' must be a non-empty string: current value is " {2}"/,
    );
  });
});

Deno.test("chat agent: declares immutableState, and its checkpoints are those of a fully compared run", async () => {
  // 30 turns of two tool calls each, with long results: the conversation is stored as deltas.
  const script = Array.from({ length: 30 }, (_, i) => ({
    toolCalls: [
      { name: "forecast", arguments: { city: `Oslo ${i} ü` } },
      { name: "forecast", arguments: { city: `Bergen ${i}`, days: 2 } },
    ],
  }));
  const make = () =>
    chatAgent({
      name: "long",
      model: scriptedModel([...script, "Done."]),
      tools: [tool({
        name: "forecast",
        description: "Weather.",
        parameters: { type: "object", properties: { city: { type: "string" } } },
        run: ({ city }) => `${city}: ${"sunny, 21 °C; ".repeat(20)}`,
      })],
      limits: { maxTurns: 40, maxToolCalls: 100 },
    });
  const trusted = make();
  assert.equal(trusted.immutableState, true);
  // The same agent without the promise: every state compared value by value.
  const compared = { ...make(), immutableState: false };
  await withStore(async (store) => {
    const a = await startRun(trusted, { store, runId: "a", input: { question: "Weather?" } });
    const b = await startRun(compared, { store, runId: "b", input: { question: "Weather?" } });
    assert.equal(a.status, "completed");
    assert.equal(b.status, "completed");
    const steps = await store.listSteps("a");
    assert.equal(steps.length, 31);
    const other = await store.listSteps("b");
    for (let i = 0; i < steps.length; i++) {
      assert.equal(steps[i].state, other[i].state, `step ${i}`);
    }
    const last = JSON.parse(steps[29].state!) as { messages: ChatMessage[] };
    assert.equal(last.messages.length, 1 + 30 * 3);
  });
});

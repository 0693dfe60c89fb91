/**
 * Deterministic traces for the viewer's tests and screenshots: a realistic agent-loop run
 * (steps, LLM calls, tools, a propagated error, loop exits, tags, metadata, hostile strings)
 * and a large generated one.
 *
 * @module
 */

import type { AttributeValue, Span, SpanKind, SpanStatus, TraceData } from "../model.ts";

/** Strings that would break out of a naively embedded `<script>` or HTML context. */
export const HOSTILE = [
  "</script><script>window.__pwned=1</script>",
  "<!-- <script>window.__pwned=2</script>",
  "<img src=x onerror=window.__pwned=3>",
  "line\u2028sep\u2029para",
  "</SCRIPT ><svg onload=window.__pwned=4>",
  "&lt;b&gt; ]]> \" ' `${1}`",
] as const;

/** Small helper building spans with sequential ids and consistent times. */
class Builder {
  spans: Span[] = [];
  #n = 0;
  constructor(readonly t0: number) {}
  span(
    parent: Span | null,
    kind: SpanKind,
    name: string,
    start: number,
    duration: number | null,
    extra: Partial<Span> & { attributes?: Record<string, AttributeValue> } = {},
  ): Span {
    const id = (++this.#n).toString(16).padStart(16, "0");
    const status: SpanStatus = extra.status ?? (duration === null ? "unset" : "ok");
    const s: Span = {
      id,
      parentId: parent ? parent.id : null,
      kind,
      name,
      startTime: this.t0 + start,
      endTime: duration === null ? null : this.t0 + start + duration,
      startOffset: start,
      duration,
      status,
      attributes: {},
      tags: [],
      meta: {},
      ...extra,
    };
    this.spans.push(s);
    return s;
  }
}

const LOOP_FILE = "file:///work/main/examples/repo_agent.ts";

/**
 * A run of a small repo agent: 6 steps, each an LLM call and a tool call, a retried tool, a
 * tool error that propagates through its step (and is handled by the loop), and a final return.
 */
export function realisticTrace(): TraceData {
  const b = new Builder(1_764_072_000_000);
  const run = b.span(null, "run", "repo-agent run", 0, 9_840, {
    input: { task: "Find why the nightly build fails and propose a fix", repo: "loom" },
    output: { answer: "The build fails because tests/io_test.ts reads a missing fixture." },
    tags: ["nightly", "agent:repo"],
    meta: { runId: "run_7f3a", user: "ops-bot", environment: "ci" },
  });
  let t = 20;
  const tools = ["list_files", "read_file", "grep", "read_file", "run_tests", "write_patch"];
  let state: Record<string, unknown> = { messages: 1, files: [] as string[], notes: "" };
  for (let i = 0; i < 6; i++) {
    const isLast = i === 5;
    const stepDur = [1180, 1420, 2210, 1330, 2060, 1420][i];
    const prevState = state;
    state = {
      messages: 1 + (i + 1) * 2,
      files: [...(prevState.files as string[]), ...(i === 1 ? ["tests/io_test.ts"] : [])],
      notes: i >= 2 ? "fixture tests/data/input.csv missing" : "",
      ...(i >= 4 ? { patch: "git mv tests/data/input.CSV tests/data/input.csv" } : {}),
      ...(isLast ? { done: true } : {}),
    };
    const step = b.span(run, "step", `step ${i}`, t, stepDur, {
      input: prevState,
      output: state,
      attributes: {
        "loom.step.index": i,
        "loom.exit.kind": isLast ? "return" : "recur",
        "loom.exit.location": isLast ? `${LOOP_FILE}:58:7` : `${LOOP_FILE}:${i === 3 ? 52 : 61}:12`,
      },
      tags: i === 4 ? ["retry"] : [],
    });
    const llmDur = [820, 960, 1130, 870, 990, 1010][i];
    const inTok = 1200 + i * 430;
    const outTok = 90 + i * 37;
    b.span(step, "llm", "chat gpt-4o-mini", t + 10, llmDur, {
      input: {
        messages: [
          { role: "system", content: "You are a careful repository agent. Use tools." },
          { role: "user", content: "Find why the nightly build fails </script><b>bold?</b>" },
        ],
      },
      output: {
        role: "assistant",
        content: isLast ? "Done: the fixture file name has the wrong case." : null,
        tool_calls: [{ id: `call_${i}`, name: tools[i], arguments: { path: "tests/" } }],
      },
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": i === 2 ? "gpt-4o" : "gpt-4o-mini",
        "gen_ai.usage.input_tokens": inTok,
        "gen_ai.usage.output_tokens": outTok,
        "loom.cost.usd": (inTok * 0.15 + outTok * 0.6) / 1e6 * (i === 2 ? 16 : 1),
      },
    });
    const toolStart = t + 20 + llmDur;
    if (i === 4) {
      // first attempt fails, the step catches it and retries
      const failing = b.span(step, "tool", "run_tests", toolStart, 310, {
        status: "error",
        input: { cmd: "deno test tests/io_test.ts" },
        error: {
          type: "CommandFailed",
          message: "exit code 1: NotFound: tests/data/input.csv",
          stack:
            "CommandFailed: exit code 1\n    at runTests (file:///work/main/apps/run/tools.ts:88:11)\n    at step (file:///work/main/examples/repo_agent.ts:44:5)",
        },
        attributes: { "gen_ai.tool.name": "run_tests", "loom.attempt": 1 },
      });
      b.span(failing, "event", "stderr", toolStart + 300, 0, {
        output: "error: NotFound: tests/data/input.csv <!-- not a comment -->",
      });
      b.span(step, "tool", "run_tests", toolStart + 330, 640, {
        input: { cmd: "deno test tests/io_test.ts" },
        output: { passed: 11, failed: 0 },
        attributes: { "gen_ai.tool.name": "run_tests", "loom.attempt": 2 },
        tags: ["retry"],
      });
    } else {
      b.span(step, "tool", tools[i], toolStart, 120 + i * 45, {
        input: { path: i === 1 || i === 3 ? "tests/io_test.ts" : "tests/" },
        output: i === 1 || i === 3
          ? { text: HOSTILE.join("\n"), bytes: 2048 }
          : { entries: ["io_test.ts", "data/", "util_test.ts"] },
        attributes: {
          "gen_ai.tool.name": tools[i],
          ...(i === 3 ? { "loom.tool.replayed": true } : {}),
        },
        meta: i === 1 ? { cache: "miss", note: HOSTILE[0] } : {},
      });
    }
    t += stepDur + 15;
  }
  // A second, unhandled error at the end: the summarising step fails and the run fails with it.
  const fin = b.span(run, "step", "step 6", t, 300, {
    status: "error",
    input: state,
    error: { type: "RateLimitError", message: "429 Too Many Requests (retry after 20s)" },
    attributes: {
      "loom.step.index": 6,
    },
  });
  b.span(fin, "llm", "chat gpt-4o-mini", t + 5, 280, {
    status: "error",
    error: { type: "RateLimitError", message: "429 Too Many Requests (retry after 20s)" },
    attributes: { "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 0 },
  });
  run.status = "error";
  run.error = { type: "RateLimitError", message: "429 Too Many Requests (retry after 20s)" };
  run.duration = t + 300 - run.startOffset + 10;
  run.endTime = run.startTime + run.duration;
  return {
    format: "loom-trace/1",
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    name: "repo-agent: nightly build triage",
    startTime: b.t0,
    spans: b.spans,
    redactions: 2,
    meta: {
      runId: "run_7f3a",
      agent: "repo-agent",
      exits: [
        { kind: "recur", location: `${LOOP_FILE}:61:12`, text: "return recur({ ...s, messages })" },
        { kind: "recur", location: `${LOOP_FILE}:52:12`, text: "return recur({ ...s, notes })" },
        { kind: "return", location: `${LOOP_FILE}:58:7`, text: "return { answer }" },
        {
          kind: "return",
          location: `${LOOP_FILE}:66:5`,
          text: "return { error: 'budget exhausted' }",
        },
      ],
    },
  };
}

/**
 * A large trace: `steps` steps under one run, each with an LLM call and a tool call and every
 * 50th with an error, so `steps * 3 + 1` spans in all.
 */
export function bigTrace(steps: number): TraceData {
  const b = new Builder(1_764_072_000_000);
  const run = b.span(null, "run", "big run", 0, steps * 10 + 5);
  for (let i = 0; i < steps; i++) {
    const t = i * 10 + 1;
    const step = b.span(run, "step", `step ${i}`, t, 9, {
      output: { i, total: i * (i + 1) / 2 },
      attributes: {
        "loom.step.index": i,
        "loom.exit.kind": "recur",
        "loom.exit.location": "file:///big.ts:10:5",
      },
      tags: i % 100 === 0 ? [`century-${i}`] : [],
      meta: i === steps - 1 ? { marker: "needle-in-meta" } : {},
    });
    b.span(step, "llm", "chat", t + 0.5, 5, {
      attributes: {
        "gen_ai.request.model": "mock-1",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 10,
      },
    });
    const failed = i % 50 === 49;
    b.span(step, "tool", `tool_${i % 7}`, t + 6, 2.5, {
      input: { n: i },
      status: failed ? "error" : "ok",
      ...(failed ? { error: { type: "ToolError", message: `tool failed at ${i}` } } : {}),
    });
  }
  return {
    format: "loom-trace/1",
    traceId: "0af7651916cd43dd8448eb211c80319c",
    name: `big trace (${steps} steps)`,
    startTime: b.t0,
    spans: b.spans,
    redactions: 0,
    meta: {},
  };
}

/** A small deterministic pseudo-random generator (mulberry32), so every run builds the same trace. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A long run as `loom-runner trace` rebuilds it from the store: one run span (`loom.run.id`),
 * `steps` steps each with an LLM call (tokens and cost that drift over the run) and a tool call,
 * and the run's events: the first process starts it and is killed after step
 * `floor(steps / 3)`; a second takes the lease over and resumes it; at two thirds the run waits
 * on a timer and a third process wakes it up. Times and sizes vary with a seeded generator, so
 * `spans` is `3 * steps + 5` and the same for a given seed.
 *
 * @param steps Number of steps.
 * @param seed Seed of the generator.
 * @returns The trace.
 */
export function longRunTrace(steps: number, seed = 7): TraceData {
  const rnd = random(seed);
  const traceId = "5ca1ab1e0ddba11c0ffee0ddf00d5eed";
  const t0 = 1_764_072_000_000;
  const spans: Span[] = [];
  const id = () => traceId.slice(0, 8) + (spans.length + 1).toString(16).padStart(8, "0");
  const at = (ms: number) => Math.round(ms * 1000) / 1000;
  const span = (
    parent: Span | null,
    kind: SpanKind,
    name: string,
    start: number,
    duration: number,
    extra: Partial<Span> = {},
  ): Span => {
    const s: Span = {
      id: id(),
      parentId: parent?.id ?? null,
      kind,
      name,
      startTime: Math.round(t0 + start),
      endTime: Math.round(t0 + start + duration),
      startOffset: at(start),
      duration: at(duration),
      status: "ok",
      attributes: {},
      tags: [],
      meta: {},
      ...extra,
    };
    spans.push(s);
    return s;
  };
  const event = (parent: Span, name: string, start: number, input: string) =>
    span(parent, "event", name, start, 0, { input });
  const run = span(null, "run", "long-agent nightly-1", 0, 0, {
    input: { goal: "triage the nightly failures" },
    attributes: {
      "loom.run.id": "nightly-1",
      "loom.agent.name": "long-agent",
      "loom.agent.version": 1,
      "loom.run.status": "completed",
    },
  });
  event(run, "started", 2, "run started by agent long-agent v1");
  const crashAfter = Math.floor(steps / 3);
  const waitAfter = Math.floor((2 * steps) / 3);
  let t = 5;
  for (let i = 0; i < steps; i++) {
    if (i === crashAfter + 1) {
      t += 30_000 + rnd() * 5_000; // the killed process is gone until its lease expires
      event(
        run,
        "lease-takeover",
        t,
        "took over the lease from build-7:41213:k2fz9 (owner gone or lease expired)",
      );
      event(run, "resumed", t + 3, "resumed from running");
      t += 10;
    }
    if (i === waitAfter + 1) {
      t += 60_000; // waiting on the timer
      event(run, "resumed", t, "resumed from waiting");
      t += 5;
    }
    const drift = 1 + i / steps; // later steps carry more context
    const slow = rnd() < 0.02 ? 6 : 1;
    const llmMs = (300 + rnd() * 900) * drift * slow;
    const toolMs = 20 + rnd() * 180;
    const step = span(run, "step", `step ${i}`, t, llmMs + toolMs + 4, {
      output: { turn: i + 1, notes: i % 10 },
      attributes: {
        "loom.run.id": "nightly-1",
        "loom.step.index": i,
        "loom.step.attempt": 1,
        "loom.exit.kind": i === steps - 1 ? "return" : "recur",
      },
    });
    const inTok = Math.round((800 + rnd() * 400) * drift);
    const outTok = Math.round(60 + rnd() * 120);
    span(step, "llm", "chat", t + 1, llmMs, {
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": i % 5 === 0 ? "gpt-4o" : "gpt-4o-mini",
        "gen_ai.usage.input_tokens": inTok,
        "gen_ai.usage.output_tokens": outTok,
        "loom.cost.usd": (inTok * 0.15 + outTok * 0.6) / 1e6 * (i % 5 === 0 ? 16 : 1),
      },
    });
    const tool = ["read_file", "grep", "run_tests"][i % 3];
    const failed = rnd() < 0.01;
    span(step, "tool", `execute_tool ${tool}`, t + 2 + llmMs, toolMs, {
      input: { path: `src/mod_${i % 17}.ts` },
      ...(failed
        ? { status: "error", error: { type: "ToolError", message: `${tool} failed` } }
        : { output: { bytes: Math.round(rnd() * 4000) } }),
      attributes: { "gen_ai.tool.name": tool, "loom.tool.attempts": 1 },
    });
    if (i === waitAfter) event(step, "timer wake-at-dawn", t + llmMs + toolMs + 3, "waiting");
    t += llmMs + toolMs + 6;
  }
  run.duration = at(t + 2);
  run.endTime = Math.round(t0 + t + 2);
  return {
    format: "loom-trace/1",
    traceId,
    name: `long-agent nightly-1 (${steps} steps)`,
    startTime: t0,
    spans,
    redactions: 0,
    meta: { runId: "nightly-1", agent: "long-agent", status: "completed" },
  };
}

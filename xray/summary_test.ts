import { deepEqual, equal, ok } from "node:assert/strict";
import {
  GEN_AI_REQUEST_MODEL,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  LOOM_COST_USD,
  LOOM_EXIT_KIND,
  LOOM_EXIT_LOCATION,
} from "./attributes.ts";
import type { AttributeValue, Span, SpanKind, TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";
import { summarize } from "./summary.ts";
import { parentsFirst } from "./tree.ts";

/** Builds a trace from [id, parent, kind, start, duration, extra] rows (times in ms). */
function traceOf(
  rows: Array<[string, string | null, SpanKind, number, number | null, Partial<Span>?]>,
  meta: Record<string, unknown> = {},
): TraceData {
  const spans: Span[] = rows.map(([id, parentId, kind, start, duration, extra]) => ({
    id,
    parentId,
    kind,
    name: id,
    startTime: 1_000_000 + start,
    endTime: duration === null ? null : 1_000_000 + start + duration,
    startOffset: start,
    duration,
    status: duration === null ? "unset" : "ok",
    attributes: {} as Record<string, AttributeValue>,
    tags: [],
    meta: {},
    ...extra,
  }));
  return {
    format: "loom-trace/1",
    traceId: "0123456789abcdef0123456789abcdef",
    name: "t",
    startTime: 1_000_000,
    spans,
    redactions: 0,
    meta,
  };
}

const llm = (inTok: number, outTok: number, cost?: number, model = "gpt-4o-mini") => ({
  attributes: {
    [GEN_AI_REQUEST_MODEL]: model,
    [GEN_AI_USAGE_INPUT_TOKENS]: inTok,
    [GEN_AI_USAGE_OUTPUT_TOKENS]: outTok,
    ...(cost !== undefined ? { [LOOM_COST_USD]: cost } : {}),
  },
});

Deno.test("nested time is counted once: self time excludes children, wall time is not a sum", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["s1", "run", "step", 10, 40],
    ["t1", "s1", "tool", 15, 20],
    ["s2", "run", "step", 60, 30],
  ]);
  const s = summarize(t);
  deepEqual(s.totals.wallMs, 100);
  deepEqual(s.spans.run.totalMs, 100);
  deepEqual(s.spans.run.selfMs, 30); // 100 - 40 - 30
  deepEqual(s.spans.s1.selfMs, 20); // 40 - 20
  deepEqual(s.spans.t1.selfMs, 20);
  // Self times partition the root's time exactly when children run one after another.
  const selfSum = Object.values(s.spans).reduce((n, x) => n + x.selfMs, 0);
  deepEqual(selfSum, 100);
});

Deno.test("concurrent children are subtracted as a union, so self time never goes negative", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["a", "run", "tool", 10, 50],
    ["b", "run", "tool", 20, 50], // overlaps a: union is 10..70 = 60
    ["c", "run", "tool", 30, 10], // inside both
  ]);
  const s = summarize(t);
  deepEqual(s.spans.run.selfMs, 40);
  deepEqual(s.spans.run.totalMs, 100);
});

Deno.test("critical path follows the last-finishing child and sums to the wall time", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["fast", "run", "tool", 10, 20], // 10..30, hidden behind slow
    ["slow", "run", "tool", 10, 60], // 10..70
    ["after", "run", "step", 75, 20], // 75..95
  ]);
  const s = summarize(t);
  deepEqual(s.criticalPath.ms, 100);
  deepEqual(
    s.criticalPath.segments.map((x) => [x.spanId, x.ms]),
    [["run", 10], ["slow", 60], ["run", 5], ["after", 20], ["run", 5]],
  );
  ok(!s.criticalPath.segments.some((x) => x.spanId === "fast"));
});

Deno.test("tokens and cost are read from llm spans only, never from wrappers carrying the same usage", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    // A wrapper step that was handed the SDK response and copied its usage attributes.
    ["wrap", "run", "step", 0, 50, llm(100, 50, 1)],
    ["call", "wrap", "llm", 5, 40, llm(100, 50, 0.5)],
    ["local", "run", "llm", 60, 10, llm(7, 3, undefined, "my-local-model")],
  ]);
  const s = summarize(t);
  deepEqual(s.totals.inputTokens, 107);
  deepEqual(s.totals.outputTokens, 53);
  deepEqual(s.totals.totalTokens, 160);
  deepEqual(s.totals.costUsd, 0.5);
  deepEqual(s.totals.llmCalls, 2);
  deepEqual(s.totals.unpricedLlmCalls, 1);
  deepEqual(s.spans.run.subtree.inputTokens, 107);
  deepEqual(s.spans.wrap.subtree.inputTokens, 100);
  const local = s.models.find((m) => m.model === "my-local-model")!;
  deepEqual(local.costUsd, null); // unknown price: tokens shown, no cost
  deepEqual(local.inputTokens, 7);
  deepEqual(s.tokenHeavy[0].spanId, "call");
});

Deno.test("one exception crossing three spans is one root-cause error at the deepest span", () => {
  const err = { type: "TypeError", message: "x is undefined" };
  const t = traceOf([
    ["run", null, "run", 0, 100, { status: "error", error: err }],
    ["step", "run", "step", 10, 50, { status: "error", error: err }],
    ["tool", "step", "tool", 20, 10, { status: "error", error: err }],
  ]);
  const s = summarize(t);
  deepEqual(s.totals.errors, 1);
  deepEqual(s.errors.errorSpans, 3);
  const rc = s.errors.rootCauses[0];
  deepEqual(rc.spanId, "tool");
  deepEqual(rc.path, ["run", "step", "tool"]);
  deepEqual(rc.propagatedThrough, ["step", "run"]);
  deepEqual(rc.handled, false);
});

Deno.test("a handled error and a different error on the parent are two root causes", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100, { status: "error", error: { type: "Error", message: "gave up" } }],
    ["try1", "run", "tool", 0, 10, {
      status: "error",
      error: { type: "Error", message: "timeout" },
    }],
    ["try2", "run", "tool", 20, 10],
  ]);
  const s = summarize(t);
  deepEqual(s.totals.errors, 2);
  deepEqual(s.errors.rootCauses.map((r) => r.spanId), ["run", "try1"]);
  deepEqual(s.errors.rootCauses[1].handled, true);
});

Deno.test("the recorder marks propagation of the same Error object, so the summary counts it once", async () => {
  const rec = new Recorder({ name: "p" });
  const boom = new Error("boom");
  await rec.withSpan("run", "run", async () => {
    await rec.withSpan("step", "step", () => {
      rec.recordError(boom);
      throw boom;
    });
  }).catch(() => {});
  const s = summarize(rec.toJSON());
  deepEqual(s.errors.errorSpans, 3);
  deepEqual(s.totals.errors, 1);
  deepEqual(s.errors.rootCauses[0].path, ["run", "step", "Error"]);
});

Deno.test("open spans are counted and estimated up to the last time seen", () => {
  const t = traceOf([
    ["run", null, "run", 0, null],
    ["s1", "run", "step", 0, 30],
    ["s2", "run", "step", 40, null],
    ["t", "s2", "tool", 45, 15],
  ]);
  const s = summarize(t);
  deepEqual(s.totals.openSpans, 2);
  deepEqual(s.spans.run.totalMs, 60);
  ok(s.spans.run.open);
  deepEqual(s.totals.wallMs, 60);
});

Deno.test("repeated identical tool calls are grouped, with replays counted", () => {
  const tool = (args: unknown, replayed: boolean): Partial<Span> => ({
    input: args,
    attributes: { "gen_ai.tool.name": "read_file", "loom.tool.replayed": replayed },
  });
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["a", "run", "tool", 0, 1, tool({ path: "x" }, false)],
    ["b", "run", "tool", 2, 1, tool({ path: "x" }, true)],
    ["c", "run", "tool", 4, 1, tool({ path: "y" }, false)],
  ]);
  const s = summarize(t);
  deepEqual(s.repeatedCalls.length, 1);
  deepEqual(s.repeatedCalls[0].spanIds, ["a", "b"]);
  deepEqual(s.repeatedCalls[0].replayed, 1);
  deepEqual(s.totals.replayedToolCalls, 1);
});

Deno.test("exits taken are counted next to possible exits that never fired", () => {
  const exit = (kind: string, loc: string): Partial<Span> => ({
    attributes: { [LOOM_EXIT_KIND]: kind, [LOOM_EXIT_LOCATION]: loc },
  });
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["s1", "run", "step", 0, 10, exit("recur", "file:///l.ts:5:12")],
    ["s2", "run", "step", 10, 10, exit("recur", "file:///l.ts:5:12")],
    ["s3", "run", "step", 20, 10, exit("return", "file:///l.ts:3:20")],
  ], {
    exits: [
      { kind: "return", location: "file:///l.ts:3:5", loop: "step" },
      { kind: "recur", location: "file:///l.ts:5:12", loop: "step" },
      { kind: "return", location: "file:///l.ts:9:3", loop: "step" },
    ],
  });
  const s = summarize(t);
  deepEqual(
    s.exits.map((e) => [e.kind, e.location, e.count, e.taken, e.possible]),
    [
      ["return", "file:///l.ts:3:5", 1, true, true], // matched by line, column may differ
      ["recur", "file:///l.ts:5:12", 2, true, true],
      ["return", "file:///l.ts:9:3", 0, false, true], // the branch that never fired
    ],
  );
});

Deno.test("tags are collected with their spans", () => {
  const t = traceOf([
    ["run", null, "run", 0, 10, { tags: ["golden"] }],
    ["s", "run", "step", 0, 5, { tags: ["golden", "slow"] }],
  ]);
  const s = summarize(t);
  deepEqual(s.tags.map((x) => [x.tag, x.count]), [["golden", 2], ["slow", 1]]);
});

Deno.test("an empty trace summarises to zeros", () => {
  const s = summarize(traceOf([]));
  deepEqual(s.totals.spans, 0);
  deepEqual(s.totals.wallMs, 0);
  deepEqual(s.criticalPath.ms, 0);
});

Deno.test("llm calls repeat only when their recorded messages are the same", () => {
  const call = (input: unknown): Partial<Span> => ({ input, ...llm(1, 1) });
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["a", "run", "llm", 0, 1, call([{ role: "user", content: "hi" }])],
    ["b", "run", "llm", 2, 1, call([{ role: "user", content: "hi" }])],
    ["c", "run", "llm", 4, 1, call(undefined)],
    ["d", "run", "llm", 6, 1, call(undefined)],
  ]);
  const s = summarize(t);
  deepEqual(s.repeatedCalls.map((r) => [r.kind, r.spanIds]), [["llm", ["a", "b"]]]);
});

Deno.test("an error re-raised as the cause of a wrapper error is still one error", async () => {
  const rec = new Recorder({ name: "wrap" });
  await rec.withSpan("run", "run", async () => {
    await rec.withSpan("step", "step 3", async () => {
      try {
        await rec.withSpan("tool", "read_file", () => {
          throw new Error("ENOENT: a.txt");
        });
      } catch (e) {
        throw new Error("step 3 failed", { cause: e });
      }
    });
  }).catch(() => {});
  const s = summarize(rec.toJSON());
  equal(s.errors.errorSpans, 3);
  equal(s.totals.errors, 1);
  equal(s.errors.rootCauses[0].message, "ENOENT: a.txt");
  deepEqual(s.errors.rootCauses[0].path, ["run", "step 3", "read_file"]);
  equal(s.errors.rootCauses[0].propagatedThrough.length, 2);
  equal(s.errors.rootCauses[0].handled, false);
});

Deno.test("an error span that is its own parent is summarised once, without looping", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["self", "self", "step", 10, 20, {
      status: "error",
      error: { type: "E", message: "boom" },
    }],
  ]);
  const s = summarize(t);
  equal(s.errors.count, 1);
  deepEqual(s.errors.rootCauses[0].path, ["self"]);
});

Deno.test("repeated ids and a parent cycle above an error end the walks (no hang, no huge array)", () => {
  // "x" twice: the root, and a span under "y" whose parent is the second "x" — a cycle above "y".
  const t = traceOf([
    ["x", null, "run", 0, 100],
    ["y", "x", "step", 10, 50, { status: "error", error: { type: "E", message: "boom" } }],
    ["x", "y", "tool", 20, 10],
  ]);
  const s = summarize(t);
  equal(s.totals.spans, 3);
  // the first "x" is shadowed by the second, which sits in a cycle with "y": nothing is reachable
  equal(s.errors.count, 0);
  deepEqual(s.roots, []);
  equal(parentsFirst(t.spans).length, 3);
  // the same error under a reachable parent cycle member: counted once, the walk ends
  const u = traceOf([
    ["run", null, "run", 0, 100],
    ["a", "run", "step", 10, 50, { status: "error", error: { type: "E", message: "boom" } }],
    ["b", "a", "tool", 20, 10, { status: "error", error: { type: "E", message: "boom" } }],
    ["a", "b", "event", 25, 1],
  ]);
  equal(summarize(u).totals.spans, 4);
  equal(parentsFirst(u.spans).length, 4);
});

Deno.test("aggregates: by name, kind, model and tool, nested spans of a group counted once in total", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["s1", "run", "step", 0, 40, { name: "step 1" }],
    ["s1a", "s1", "step", 5, 20, { name: "step 2" }], // a step inside a step
    ["l1", "s1a", "llm", 6, 10, llm(100, 10, 0.5)],
    ["t1", "s1", "tool", 30, 5, {
      name: "execute_tool grep",
      attributes: { "gen_ai.tool.name": "grep" },
      status: "error",
      error: { type: "E", message: "x" },
    }],
    ["s3", "run", "step", 50, 30, { name: "step 3" }],
    ["l2", "s3", "llm", 55, 20, llm(200, 20, 1, "gpt-4o")],
  ]);
  const a = summarize(t).aggregates;
  const step = a.byName.find((r) => r.kind === "step")!;
  equal(step.name, "step #");
  equal(step.count, 3);
  equal(step.totalMs, 70, "step 2 is inside step 1: 40 + 30, not 40 + 20 + 30");
  equal(step.selfMs, (40 - 20 - 5) + (20 - 10) + (30 - 20));
  equal(step.maxMs, 40);
  equal(step.p50Ms, 30);
  const byKind = Object.fromEntries(a.byKind.map((r) => [r.kind, r]));
  equal(byKind.llm.inputTokens, 300);
  equal(byKind.llm.costUsd, 1.5);
  equal(byKind.tool.errors, 1, "the tool's error is counted at its root cause");
  deepEqual(a.byModel.map((r) => [r.name, r.count]).sort(), [["gpt-4o", 1], ["gpt-4o-mini", 1]]);
  deepEqual(a.byTool.map((r) => [r.name, r.count, r.errors]), [["grep", 1, 1]]);
  // every span is in exactly one name group and one kind group
  equal(a.byName.reduce((n, r) => n + r.count, 0), t.spans.length);
  equal(a.byKind.reduce((n, r) => n + r.selfMs, 0), a.byName.reduce((n, r) => n + r.selfMs, 0));
});

Deno.test("call tree: spans merged by call path, each frame as wide as its self time and its children", () => {
  const t = traceOf([
    ["run", null, "run", 0, 100],
    ["s1", "run", "step", 0, 40, { name: "step 1" }],
    ["l1", "s1", "llm", 5, 10, { name: "chat" }],
    ["s2", "run", "step", 50, 30, { name: "step 2" }],
    ["l2", "s2", "llm", 55, 20, { name: "chat" }],
    ["x", "s2", "tool", 76, 2, { name: "read" }],
  ]);
  const s = summarize(t);
  const nodes = s.callTree;
  deepEqual(nodes.map((n) => [n.parent, n.kind, n.name, n.count]), [
    [-1, "run", "run", 1],
    [0, "step", "step #", 2],
    [1, "llm", "chat", 2],
    [1, "tool", "read", 1],
  ]);
  equal(nodes[2].inclusiveMs, 30);
  equal(nodes[1].inclusiveMs, 70, "steps: 70 ms of their own and their children's");
  equal(nodes[0].inclusiveMs, 100, "the root frame is the wall time when nothing overlaps");
  for (const n of nodes.slice(1)) ok(n.inclusiveMs <= nodes[n.parent].inclusiveMs);
  equal(s.spans.l2.callNode, 2);
  equal(s.spans.x.callNode, 3);
});

/** A row of `traceOf`. */
type Row = Parameters<typeof traceOf>[0][number];

/** The events `loom-runner trace` draws under a run span, as this test needs them. */
function runnerEvent(id: string, name: string, at: number, message: string): Row {
  return [id, "run", "event", at, 0, { name, input: message }];
}

Deno.test("processes: a crash, a takeover and a resume from the runner's events", () => {
  const runAttrs = { attributes: { "loom.run.id": "r1", "loom.run.status": "completed" } };
  const step = (k: number, at: number): Row => [`s${k}`, "run", "step", at, 5, {
    name: `step ${k}`,
    attributes: { "loom.step.index": k },
  }];
  const t = traceOf([
    ["run", null, "run", 0, 200, runAttrs],
    runnerEvent("e1", "started", 1, "run started by agent a v1"),
    step(0, 2),
    step(1, 10),
    runnerEvent("e2", "lease-takeover", 100, "took over the lease from vm:77:tok (owner gone)"),
    ["e3", "run", "event", 101, 0, {
      name: "resumed",
      input: "resumed from running",
      attributes: { "loom.lease.owner": "vm:78:tak" },
    }],
    step(2, 102),
    ["w", "s2", "event", 104, 0, { name: "timer t0", input: { status: "waiting" } }],
    runnerEvent("e4", "resumed", 150, "resumed from waiting"),
    step(3, 151),
  ]);
  const p = summarize(t).processes;
  deepEqual(
    p.bands.map((b) => [b.index, b.owner, b.startMs, b.endMs, b.firstStep, b.lastStep, b.ended]),
    [
      [1, "vm:77:tok", 1, 15, 0, 1, "crashed"],
      [2, "vm:78:tak", 101, 107, 2, 2, "waiting"],
      [3, null, 150, 200, 3, 3, "completed"],
    ],
  );
  deepEqual(p.markers.map((m) => [m.kind, m.atMs, m.process, m.afterStep]), [
    ["start", 1, 0, null],
    ["crash", 15, 0, 1],
    ["lease-takeover", 100, 1, 1],
    ["resume", 101, 1, 1],
    ["wait", 104, 1, 1],
    ["wake", 150, 2, 2],
  ]);
  equal(p.bands[0].runSpanId, "run");
});

Deno.test("processes: a live trace has one band per run span; a plain program has none", () => {
  const live = traceOf([
    ["a", null, "run", 0, 10, {
      attributes: { "loom.run.id": "r", "loom.run.resumed": false, "loom.run.status": "waiting" },
    }],
    ["wa", "a", "event", 9, 0, { name: "waiting for signal" }],
    ["b", null, "run", 50, 10, {
      attributes: { "loom.run.id": "r", "loom.run.resumed": true, "loom.run.status": "completed" },
    }],
  ]);
  const p = summarize(live).processes;
  deepEqual(p.bands.map((b) => [b.index, b.runSpanId, b.ended]), [[1, "a", "waiting"], [
    2,
    "b",
    "completed",
  ]]);
  deepEqual(p.markers.map((m) => m.kind), ["start", "wait", "wake"]);
  const plain = traceOf([["run", null, "run", 0, 10]]);
  deepEqual(summarize(plain).processes, { bands: [], markers: [] });
});

Deno.test("repeated calls also group by name: same tool, any arguments", () => {
  const tool = (id: string, input: unknown): Row => [id, "run", "tool", 1, 1, {
    name: "execute_tool grep",
    input,
    attributes: { "gen_ai.tool.name": "grep" },
  }];
  const t = traceOf([
    ["run", null, "run", 0, 10],
    tool("a", { q: 1 }),
    tool("b", { q: 2 }),
    tool("c", { q: 1 }),
  ]);
  const s = summarize(t);
  deepEqual(s.repeatedCalls.map((r) => [r.name, r.count]), [["grep", 2]]);
  deepEqual(
    s.repeatedNames.map((r) => [r.kind, r.name, r.count, r.distinctInputs, r.firstSpanId]),
    [
      ["tool", "grep", 3, 2, "a"],
    ],
  );
});

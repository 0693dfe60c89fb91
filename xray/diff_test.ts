import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { diffTraces, formatDiff, parseTolerance } from "./diff.ts";
import type { TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";

interface Scenario {
  name?: string;
  path?: string;
  result?: string;
  extraTool?: boolean;
  outputTokens?: number;
  model?: string;
  error?: string;
  answer?: string;
  stamp?: string;
}

/** A golden scenario: one step that asks a model, reads a file, then answers. */
function run(s: Scenario = {}): TraceData {
  const rec = new Recorder({ name: s.name ?? "golden" });
  const root = rec.startSpan("run", s.name ?? "golden", { parent: null });
  const step = rec.startSpan("step", "step 1", { parent: root, input: { n: 1 } });
  rec.recordLlm({
    parent: step,
    model: s.model ?? "gpt-4o-mini",
    messages: [{ role: "user", content: "read a" }],
    response: { tool: "read_file" },
    inputTokens: 1000,
    outputTokens: s.outputTokens ?? 100,
  });
  rec.recordTool({
    parent: step,
    name: "read_file",
    args: { path: s.path ?? "a.txt" },
    result: { text: s.result ?? "hello", at: s.stamp ?? "t1" },
  });
  if (s.extraTool) rec.recordTool({ parent: step, name: "write_file", args: { path: "b.txt" } });
  step.end({
    output: { answer: s.answer ?? "hello" },
    ...(s.error ? { error: new Error(s.error) } : {}),
  });
  root.end({ output: "ok" });
  return rec.toJSON();
}

Deno.test("identical runs (different names and ids) are the same", () => {
  const d = diffTraces(run({ name: "run-1" }), run({ name: "run-2" }));
  equal(d.ok, true);
  deepEqual(d.failing, []);
  equal(d.tokens.increase, 0);
  ok(formatDiff(d).includes("same within tolerances"));
});

Deno.test("a changed tool argument fails with the field path", () => {
  const d = diffTraces(run(), run({ path: "b.txt" }));
  equal(d.ok, false);
  equal(d.failing.length, 1);
  const c = d.failing[0];
  equal(c.locator, "run › step:step 1 › tool:read_file");
  equal(c.field, "args.path");
  equal(c.a, "a.txt");
  equal(c.b, "b.txt");
  ok(formatDiff(d).includes('args.path: "a.txt" → "b.txt"'));
});

Deno.test("an added tool call, a changed output and a new error are all reported", () => {
  const d = diffTraces(run(), run({ extraTool: true, answer: "bye", error: "boom" }));
  const summary = d.failing.map((c) => `${c.change} ${c.locator} ${c.field}`);
  deepEqual(summary, [
    "changed run › step:step 1 status",
    "changed run › step:step 1 error",
    "changed run › step:step 1 output.answer",
    "added run › step:step 1 › tool:write_file ",
  ]);
  const removed = diffTraces(run({ extraTool: true }), run());
  deepEqual(removed.failing.map((c) => c.change), ["removed"]);
});

Deno.test("--ignore patterns drop volatile fields: exact, by kind, by label, with wildcards", () => {
  const a = run({ stamp: "t1" });
  const b = run({ stamp: "t2" });
  equal(diffTraces(a, b).ok, false);
  for (
    const pattern of [
      "result.at",
      "tool.result.at",
      "tool:read_file.result",
      "tool:read_*.**.at",
      "**.at",
    ]
  ) {
    const d = diffTraces(a, b, { ignore: [pattern] });
    equal(d.ok, true, pattern);
    equal(d.changes.filter((c) => c.ignored).length, 1, pattern);
  }
  // A pattern for another tool or field does not hide it.
  equal(diffTraces(a, b, { ignore: ["tool:write_file.result", "args"] }).ok, false);
  // Whole spans can be ignored by kind.
  equal(diffTraces(run(), run({ extraTool: true }), { ignore: ["tool:write_file"] }).ok, true);
});

Deno.test("token and cost growth fail unless within the given tolerances", () => {
  const a = run({ outputTokens: 100 }); // 1100 tokens
  const b = run({ outputTokens: 200 }); // 1200 tokens: +9.1%
  const strict = diffTraces(a, b);
  equal(strict.ok, false);
  deepEqual(strict.failing, []); // only the budgets fail; per-span token changes are informational
  equal(strict.tokens.ok, false);
  equal(strict.tokens.increase, 100);
  ok(strict.changes.some((c) => c.field === "tokens.output" && c.severity === "info"));
  const relaxed = diffTraces(a, b, {
    maxTokenIncrease: { relative: 0.1 },
    maxCostIncrease: { relative: 0.5 },
  });
  equal(relaxed.ok, true);
  const costTight = diffTraces(a, b, {
    maxTokenIncrease: { absolute: 100 },
    maxCostIncrease: { absolute: 0.00001 },
  });
  equal(costTight.tokens.ok, true);
  equal(costTight.cost.ok, false); // +100 gpt-4o-mini output tokens = $0.00006
  // Fewer tokens is never a failure.
  equal(diffTraces(b, a).ok, true);
});

Deno.test("switching to a model without a price fails the cost check instead of looking free", () => {
  const d = diffTraces(run(), run({ model: "unknown-model" }), {
    ignore: ["llm.model", "llm"],
    maxTokenIncrease: { absolute: 0 },
    maxCostIncrease: { relative: 1 },
  });
  equal(d.cost.b, 0);
  equal(d.cost.unpricedB, 1);
  equal(d.cost.ok, false);
  equal(d.ok, false);
});

Deno.test("tolerances parse as absolute numbers or percentages", () => {
  deepEqual(parseTolerance("10%"), { relative: 0.1 });
  deepEqual(parseTolerance("0.05"), { absolute: 0.05 });
  deepEqual(parseTolerance("200"), { absolute: 200 });
  throws(() => parseTolerance("lots"), RangeError);
  throws(() => parseTolerance("-1"), RangeError);
});

import { equal, match, ok } from "node:assert/strict";
import { toDot } from "./dot.ts";
import { Recorder } from "./recorder.ts";

Deno.test("toDot draws one node per span and one edge per parent link, escaping names", () => {
  const rec = new Recorder({ name: 'say "hi"' });
  const run = rec.startSpan("run", "run", { parent: null });
  const step = rec.startSpan("step", 'quote " and \\ backslash\nnewline', { parent: run });
  rec.recordLlm({ parent: step, model: "gpt-4o-mini", inputTokens: 10, outputTokens: 2 });
  rec.recordTool({ parent: step, name: "rm", error: new Error("denied") });
  step.end();
  const dot = toDot(rec.toJSON());
  match(dot, /^digraph "say \\"hi\\"" \{/);
  equal(dot.match(/\[label=/g)?.length, 4);
  equal(dot.match(/ -> /g)?.length, 3);
  ok(dot.includes('quote \\" and \\\\ backslash\\nnewline'));
  ok(dot.includes("10+2 tok"));
  ok(dot.includes('color="#c62828"')); // the failed tool
  ok(dot.includes("dashed")); // run never ended
  ok(dot.trimEnd().endsWith("}"));
});

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { mergeTraces } from "./merge.ts";
import { Recorder } from "./recorder.ts";
import { summarize } from "./summary.ts";

function small(name: string, startTime: number) {
  // Same trace id twice on purpose: span ids collide and must be reassigned.
  const rec = new Recorder({ name, startTime, traceId: "11111111111111111111111111111111" });
  const run = rec.startSpan("run", name, { parent: null, startTime });
  rec.recordLlm({
    parent: run,
    model: "gpt-4o",
    inputTokens: 10,
    outputTokens: 5,
    startTime: startTime + 10,
    endTime: startTime + 20,
  });
  run.end({ endTime: startTime + 100 });
  return rec.toJSON();
}

Deno.test("merge keeps every span with fresh unique ids, remapped parents and one time axis", () => {
  const a = small("a", 1_000_000);
  const b = small("b", 1_000_500);
  const m = mergeTraces([a, b], { name: "both" });
  equal(m.name, "both");
  equal(m.spans.length, 4);
  equal(new Set(m.spans.map((s) => s.id)).size, 4);
  const ids = new Set(m.spans.map((s) => s.id));
  ok(m.spans.every((s) => s.parentId === null || ids.has(s.parentId)));
  equal(m.startTime, 1_000_000);
  deepEqual(m.spans.filter((s) => s.parentId === null).map((s) => s.startOffset), [0, 500]);
  const s = summarize(m);
  equal(s.totals.totalTokens, 30);
  equal(s.totals.wallMs, 600);
  equal((m.meta.merged as unknown[]).length, 2);
  throws(() => mergeTraces([]), RangeError);
});

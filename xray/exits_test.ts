import { deepEqual, equal, ok } from "node:assert/strict";
import { LOOM_EXIT_KIND, LOOM_EXIT_LOCATION } from "./attributes.ts";
import { type ExitSite, exitsOf, scanExits } from "./exits.ts";
import type { TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";
import { summarize } from "./summary.ts";
import { recordExit, trace, traced } from "./trace.ts";

const sites = (src: string) => scanExits(src, "f.ts").map((s) => `${s.kind} ${s.location}`);

Deno.test("scanExits finds recur calls and returns, one exit for `return recur(...)`", () => {
  const src = [
    "async function step(n, acc) {", // 1
    "  if (n === 0) return acc;", // 2
    "  if (n < 0) {", // 3
    "    return recur(0, acc);", // 4
    "  }", // 5
    "  return recordExit('recur', recur(n - 1, acc + n));", // 6
    "}", // 7
  ].join("\n");
  deepEqual(sites(src), ["return f.ts:2:16", "recur f.ts:4:12", "recur f.ts:6:10"]);
});

Deno.test("strings, comments and template text are not code; ${} inside templates is", () => {
  const src = [
    "// return recur(1) in a comment",
    "const s = 'return recur(2)';",
    "/* recur(3)",
    "   return */",
    "const t = `return ${recur(4)} recur(5)`;",
    "obj.recur(6); $recur(7); recurse(8);",
    "return done ? value : recur(9);",
  ].join("\n");
  deepEqual(sites(src), ["recur f.ts:5:21", "return f.ts:7:1", "recur f.ts:7:23"]);
});

Deno.test("exitsOf limits the scan to one function found in the file's source", () => {
  const source = [
    "function other() { return 1; }",
    "function loop(n) {",
    "  if (n > 3) return 'big';",
    "  return recur(n + 1);",
    "}",
  ].join("\n");
  // The function object's text is what a module would give; build it from the same source.
  const loop = new Function(`return ${source.split("\n").slice(1).join("\n")}`)() as (
    n: number,
  ) => unknown;
  const found = exitsOf(loop, "file:///m.ts", source);
  deepEqual(found.map((s) => [s.kind, s.location, s.loop]), [
    ["return", "file:///m.ts:3:14", "loop"],
    ["recur", "file:///m.ts:4:10", "loop"],
  ]);
  deepEqual(exitsOf(() => 0, "file:///m.ts", source), []);
});

// A real loop in this file: its source is scanned and its exits recorded while it runs.
const fakeRecur = (n: number) => ({ next: n });
function countdown(n: number): unknown {
  if (n < 0) return recordExit("return", "negative");
  if (n === 0) return recordExit("return", "done");
  return recordExit("recur", recur(n - 1));
}
const recur = fakeRecur;

Deno.test("recordExit records the caller's location, and the summary shows the exit never taken", async () => {
  const source = await Deno.readTextFile(new URL(import.meta.url));
  let data: TraceData | undefined;
  await trace(async (rec: Recorder) => {
    rec.addPossibleExits(exitsOf(countdown, import.meta.url, source));
    const step = traced("step", countdown);
    let n = 3;
    for (;;) {
      const out = step(n);
      if (typeof out === "object") n = (out as { next: number }).next;
      else break;
    }
    data = rec.toJSON();
    await Promise.resolve();
  }, { name: "exits" });
  const steps = data!.spans.filter((s) => s.name === "step");
  equal(steps.length, 4);
  ok(steps.every((s) => String(s.attributes[LOOM_EXIT_LOCATION]).startsWith(import.meta.url)));
  deepEqual(steps.map((s) => s.attributes[LOOM_EXIT_KIND]), ["recur", "recur", "recur", "return"]);
  // Recorded locations are exactly the scanned ones (same line and column).
  const possible = new Set((data!.meta.exits as ExitSite[]).map((e) => e.location));
  equal(possible.size, 3);
  ok(steps.every((s) => possible.has(String(s.attributes[LOOM_EXIT_LOCATION]))));
  ok(
    (data!.meta.exits as ExitSite[]).some((e) =>
      e.text === 'if (n < 0) return recordExit("return", "negative");'
    ),
  );
  const exits = summarize(data!).exits;
  deepEqual(exits.map((e) => [e.kind, e.count, e.taken, e.possible]), [
    ["return", 0, false, true], // n < 0 never happened
    ["return", 1, true, true],
    ["recur", 3, true, true],
  ]);
});

Deno.test("recordExit outside a trace just returns its value", () => {
  equal(recordExit("return", 5), 5);
});

Deno.test("exitsOf finds a method-shaped step (`step(state, ctx) {`) inside an object literal", () => {
  const source = [
    "export default defineAgent({",
    "  name: 'x',",
    "  step(state, ctx) {",
    "    if (state.done) return { n: state.n };",
    "    return recur({ ...state, n: state.n + 1 });",
    "  },",
    "});",
  ].join("\n");
  const step = { step(_s: unknown, _c: unknown) {} }.step;
  const sites = exitsOf(step, "file:///a.ts", source);
  deepEqual(sites.map((s) => `${s.kind} ${s.location}`), [
    "return file:///a.ts:4:21",
    "recur file:///a.ts:5:12",
  ]);
});

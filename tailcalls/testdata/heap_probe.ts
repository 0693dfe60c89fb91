// Measures heap growth of a 1e6-step tailrec loop, at its deepest point (inside the last step,
// where a growing promise chain would still be alive) and after it settles. As a control it
// measures native `return await self(...)` recursion the same way, to show the probe can see a
// chain grow. Run with --v8-flags=--expose-gc; prints one JSON document.
import { recur, tailrec } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const heap = (): number => {
  gc();
  return Deno.memoryUsage().heapUsed;
};

const steps = Number(Deno.args[0] ?? 1_000_000);
const controlSteps = Number(Deno.args[1] ?? 200_000);

let deepest = 0;
const countdown = tailrec(async (n: number, acc: number) => {
  if (n === 0) {
    deepest = heap();
    return acc;
  }
  return recur(n - 1, acc + 1);
});
await countdown(1000, 0); // warm up so compiled code is not counted as growth
const before = heap();
const result = await countdown(steps, 0);
const after = heap();

let controlDeepest = 0;
async function native(n: number, acc: number): Promise<number> {
  await null; // yield each step, as a real async body would; keeps the stack flat
  if (n === 0) {
    controlDeepest = heap();
    return acc;
  }
  return await native(n - 1, acc + 1);
}
await native(1000, 0);
const controlBefore = heap();
const controlResult = await native(controlSteps, 0);

console.log(JSON.stringify({
  steps,
  result,
  deepestGrowth: deepest - before,
  afterGrowth: after - before,
  controlSteps,
  controlResult,
  controlDeepestGrowth: controlDeepest - controlBefore,
}));

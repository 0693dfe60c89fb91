import { defineAgent, openStore, recur, startRun } from "./mod.ts";
const N = 5000;
const mk = (pad: number) => defineAgent({
  name: "counter",
  initialState: () => ({ current: 0, target: N, pad: "y".repeat(pad) }),
  step: (s: { current: number; target: number; pad: string }, ctx) => s.current >= s.target ? ctx.stepIndex : recur({ ...s, current: s.current + 1 }),
});
for (const pad of [0, 20000]) {
  const res: Record<number, number[]> = {};
  const agent = mk(pad);
  const n = pad ? 1000 : N;
  for (let rep = 0; rep < 4; rep++) for (const ps of [4096, 2048, 1024]) {
    const dir = Deno.makeTempDirSync();
    const s = openStore(dir + "/x.sqlite", { pageSize: ps });
    const t0 = performance.now();
    await startRun(agent, { store: s, runId: "x", maxSteps: n });
    (res[ps] ??= []).push(Math.round(n / ((performance.now() - t0) / 1000)));
    s.close(); Deno.removeSync(dir, { recursive: true });
  }
  console.log("pad", pad, res);
}

// Benchmark for @loom/tailcalls: 1e6 steps of the same counting loop driven four ways.
//   (a) baseline: a hand-written `while` loop awaiting an async step that returns its next args,
//       called generically (`step(...args)`, any arity, as tailrec must)
//   (a0) the same loop calling the step with its two arguments written out (`step(args[0],
//        args[1])`): a stricter baseline, since V8 spreads an array into a call slower than it
//        passes arguments directly (tailrec itself passes up to four directly)
//   (a') the same hand-written loop driving the step that returns recur(...) (isolates the cost
//        of the marker from the cost of the trampoline)
//   (b) tailrec with the same async step returning recur(...)
//   (b') tailrec with a synchronous step (no await needed, so none is spent)
//   (c) native `return await self(...)` recursion
//   (d) a fused `while` loop with the step inlined (no calls, no promises)
// Prints steps/s, time ratios to (a), and heap growth measured inside the last step (where a
// growing promise chain would still be alive), with a forced GC before each reading.
// Time is the process's CPU time (user + system, so GC threads count), not wall time: the
// machines this runs on are shared, and CPU time is what other processes disturb least. Ratios
// are the median over rounds of each round's own ratio, so slow spells cancel out.
//
// Usage: deno run -A bench/tailcalls_bench.ts [--rounds 5] [--json]
import process from "node:process";
import { parseArgs } from "node:util";
import { isTailCall, recur, tailrec } from "@loom/tailcalls";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "9" }, json: { type: "boolean", default: false } },
});
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a positive integer, got "${flags.rounds}"`);
  Deno.exit(2);
}

// Heap readings need a forced GC; re-run this script with it exposed when it is not.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", new URL(import.meta.url).pathname, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}
const heapNow = (): number => {
  gc!();
  return Deno.memoryUsage().heapUsed;
};

const N = 1_000_000;
// Native recursion recurses synchronously and overflows the stack near 10,000 frames, so (c)
// runs N_NATIVE steps per call, N / N_NATIVE times, and its figures are per step.
const N_NATIVE = 5_000;

/** Called inside the last step of each run; records the heap during memory runs. */
let atDeepest: () => void = () => {};

// (a) The same async step, returning its next arguments instead of a marker. The steps are async
// without awaiting on purpose: the benchmark measures what each bounce costs.
// deno-lint-ignore require-await
async function stepA(n: number, acc: number): Promise<number | [number, number]> {
  if (n === 0) {
    atDeepest();
    return acc;
  }
  return [n - 1, acc + 1];
}
async function runA(n: number): Promise<number> {
  let args: [number, number] = [n, 0];
  for (;;) {
    const next = await stepA(...args);
    if (typeof next === "number") return next;
    args = next;
  }
}

// (a0) The same step and loop, arguments passed directly instead of spread.
// deno-lint-ignore require-await
async function stepA0(n: number, acc: number): Promise<number | [number, number]> {
  if (n === 0) {
    atDeepest();
    return acc;
  }
  return [n - 1, acc + 1];
}
async function runA0(n: number): Promise<number> {
  let args: [number, number] = [n, 0];
  for (;;) {
    const next = await stepA0(args[0], args[1]);
    if (typeof next === "number") return next;
    args = next;
  }
}

// (b) tailrec, async step; (a') drives the same step by hand.
// deno-lint-ignore require-await
const stepB = async (n: number, acc: number) => {
  if (n === 0) {
    atDeepest();
    return acc;
  }
  return recur(n - 1, acc + 1);
};
const countdown = tailrec(stepB);
async function runA2(n: number): Promise<number> {
  let args: [number, number] = [n, 0];
  for (;;) {
    const next = await stepB(...args);
    if (!isTailCall(next)) return next;
    args = next.args;
  }
}
// (b') tailrec, synchronous step.
const countdownSync = tailrec((n: number, acc: number) => {
  if (n === 0) {
    atDeepest();
    return acc;
  }
  return recur(n - 1, acc + 1);
});

// (c) Native async recursion (synchronous descent, so the stack limits its depth).
async function native(n: number, acc: number): Promise<number> {
  if (n === 0) {
    atDeepest();
    return acc;
  }
  return await native(n - 1, acc + 1);
}
async function runC(n: number): Promise<number> {
  let total = 0;
  for (let done = 0; done < n; done += N_NATIVE) total += await native(N_NATIVE, 0);
  return total;
}

// (c') Native recursion whose step awaits once (as real steps do), so the stack stays flat and
// the depth is limited by memory instead: the promise chain grows with every step.
const N_NATIVE_AWAITING = 200_000;
async function nativeAwaiting(n: number, acc: number): Promise<number> {
  await null;
  if (n === 0) {
    atDeepest();
    return acc;
  }
  return await nativeAwaiting(n - 1, acc + 1);
}
async function runC2(n: number): Promise<number> {
  let total = 0;
  for (let done = 0; done < n; done += N_NATIVE_AWAITING) {
    total += await nativeAwaiting(N_NATIVE_AWAITING, 0);
  }
  return total;
}

// (d) Fused loop.
function runD(n: number): number {
  let acc = 0;
  while (n !== 0) {
    n--;
    acc++;
  }
  atDeepest();
  return acc;
}

interface Case {
  key: string;
  label: string;
  run: (n: number) => Promise<number> | number;
  /** Steps of one run that are alive at once (for the heap reading). */
  depth: number;
}
const cases: Case[] = [
  { key: "a", label: "(a) while loop + async step (baseline)", run: runA, depth: N },
  { key: "a0", label: "(a0) same, step(args[0], args[1])", run: runA0, depth: N },
  { key: "a'", label: "(a') while loop + recur step", run: runA2, depth: N },
  { key: "b", label: "(b) tailrec, async step", run: (n) => countdown(n, 0), depth: N },
  { key: "b'", label: "(b') tailrec, sync step", run: (n) => countdownSync(n, 0), depth: N },
  { key: "c", label: "(c) native return await self() *", run: runC, depth: N_NATIVE },
  {
    key: "c'",
    label: "(c') same, step awaits once **",
    run: runC2,
    depth: N_NATIVE_AWAITING,
  },
  { key: "d", label: "(d) fused while loop, body inlined", run: runD, depth: N },
];

// Warm up every path so the timed rounds measure optimised code.
for (const c of cases) for (let i = 0; i < 3; i++) await c.run(50_000);

// Timed rounds, interleaved so machine noise hits every case alike.
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const times = new Map<string, number[]>(cases.map((c) => [c.key, []]));
for (let round = 0; round < rounds; round++) {
  for (const c of cases) {
    const start = cpuMs();
    const result = await c.run(N);
    const ms = cpuMs() - start;
    if (result !== N) throw new Error(`${c.label} computed ${result}, expected ${N}`);
    times.get(c.key)!.push(ms);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Median over rounds of (time of `key`) / (time of `base`) in the same round. */
const ratio = (key: string, base: string): number =>
  median(times.get(key)!.map((ms, round) => ms / Math.max(times.get(base)![round], 1e-3)));

// Heap growth: reading inside the deepest step minus the reading before the run.
const growth = new Map<string, number>();
for (const c of cases) {
  let deepest = 0;
  atDeepest = () => (deepest = heapNow());
  const before = heapNow();
  await c.run(c.depth);
  growth.set(c.key, deepest - before);
}
atDeepest = () => {};

const rows = cases.map((c) => {
  const ms = median(times.get(c.key)!);
  return {
    case: c.key,
    label: c.label,
    cpuMs: Number(ms.toFixed(1)),
    stepsPerSecond: Math.round(N / (Math.max(ms, 1e-3) / 1000)),
    ratioToA: Number(ratio(c.key, "a").toFixed(3)),
    heapGrowthMB: Number((growth.get(c.key)! / 2 ** 20).toFixed(2)),
    heapAtDepth: c.depth,
  };
});
const get = (key: string) => rows.find((r) => r.case === key)!;
const targets = [
  {
    target: "trampoline cost: tailrec vs (a') (same step, hand loop)",
    value: `${ratio("b", "a'").toFixed(2)}x`,
    met: ratio("b", "a'") <= 1.1,
  },
  {
    target: "tailrec within 1.1x of (a)",
    value: `${get("b").ratioToA}x`,
    met: get("b").ratioToA <= 1.1,
  },
  {
    target: "(stricter) tailrec within 1.1x of (a0)",
    value: `${ratio("b", "a0").toFixed(2)}x`,
    met: ratio("b", "a0") <= 1.1,
  },
  {
    target: "tailrec at least 10x faster than (c)",
    value: `${ratio("c", "b").toFixed(1)}x (c), ${ratio("c'", "b").toFixed(1)}x (c')`,
    met: ratio("c", "b") >= 10,
  },
  {
    target: "tailrec heap growth under 5 MB",
    value: `${get("b").heapGrowthMB} MB`,
    met: get("b").heapGrowthMB < 5,
  },
];

if (flags.json) {
  console.log(JSON.stringify(
    {
      steps: N,
      nativeDepth: N_NATIVE,
      nativeAwaitingDepth: N_NATIVE_AWAITING,
      rounds,
      rows,
      targets,
    },
    null,
    2,
  ));
} else {
  console.log(
    `@loom/tailcalls: ${
      N.toLocaleString("en")
    } steps per case, median of ${rounds} rounds, CPU time`,
  );
  console.log("");
  console.log(
    `${"case".padEnd(42)}${"cpu ms".padStart(9)}${"steps/s".padStart(14)}${"vs (a)".padStart(9)}` +
      `${"heap growth".padStart(14)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(42)}${r.cpuMs.toFixed(1).padStart(9)}` +
        `${r.stepsPerSecond.toLocaleString("en").padStart(14)}${
          (r.ratioToA.toFixed(2) + "x").padStart(9)
        }` +
        `${(r.heapGrowthMB.toFixed(2) + " MB").padStart(14)}`,
    );
  }
  console.log("");
  console.log(
    `* (c) overflows the stack near 10,000 frames, so it runs ${N_NATIVE.toLocaleString("en")}` +
      ` steps per call, ${N / N_NATIVE} calls; its time is for all ${N.toLocaleString("en")}` +
      ` steps and its heap growth is at depth ${
        N_NATIVE.toLocaleString("en")
      } (it grows with depth).`,
  );
  console.log(
    `** (c') awaits once per step, so its stack stays flat but its promise chain grows: it runs` +
      ` ${N_NATIVE_AWAITING.toLocaleString("en")} steps per call; heap growth is at that depth.`,
  );
  console.log("");
  for (const t of targets) console.log(`${t.met ? "met    " : "MISSED "} ${t.target}: ${t.value}`);
}

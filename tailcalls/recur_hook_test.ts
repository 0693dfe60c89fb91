// Steps that never await are enough to exercise the hook, so:
// deno-lint-ignore-file require-await
import assert from "node:assert/strict";
import {
  isTailCall,
  onRecur,
  recur,
  TAIL_CALL,
  type TailCall,
  tailcall,
  type TailRec,
  tailrec,
} from "./mod.ts";

/** The 1-based line of this file that contains `text` (it must occur exactly once). */
async function lineOf(text: string): Promise<number> {
  const lines = (await Deno.readTextFile(new URL(import.meta.url))).split("\n");
  const found = lines.flatMap((line, i) => line.includes(text) ? [i + 1] : []);
  assert.equal(found.length, 2, `"${text}" must occur once in code and once in this lookup`);
  return found[0];
}

/** The stack frame just below `recur`'s or `tailcall`'s: the place that made the marker. */
function callSite(): string {
  const frames = new Error().stack!.split("\n");
  const maker = frames.findIndex((f) => /^\s*at (recur|tailcall) /.test(f));
  return maker === -1 ? "(no recur frame)" : frames[maker + 1].trim();
}

const countdown = tailrec(async (n: number) => n === 0 ? "done" : recur(n - 1)); // exit: count
const isEven: TailRec<[number], boolean> = tailrec(async (n: number) =>
  n === 0 ? true : tailcall(isOdd, n - 1) // exit: even
);
const isOdd: TailRec<[number], boolean> = tailrec(async (n: number) =>
  n === 0 ? false : tailcall(isEven, n - 1) // exit: odd
);

Deno.test("onRecur: the hook sees every recur and tailcall marker with its call site", async () => {
  const seen: { marker: TailCall<unknown[]>; site: string }[] = [];
  onRecur((marker) => seen.push({ marker, site: callSite() }));
  try {
    assert.equal(await countdown(3), "done");
    assert.deepEqual(seen.map((s) => s.marker.args), [[2], [1], [0]]);
    assert.ok(seen.every((s) => isTailCall(s.marker) && s.marker.target === undefined));
    const countLine = await lineOf("// exit: count");
    for (const { site } of seen) {
      assert.match(site, new RegExp(`recur_hook_test\\.ts:${countLine}:`));
    }

    seen.length = 0;
    assert.equal(await isEven(4), true);
    assert.deepEqual(seen.map((s) => [s.marker.target, s.marker.args]), [
      [isOdd, [3]],
      [isEven, [2]],
      [isOdd, [1]],
      [isEven, [0]],
    ]);
    const [evenLine, oddLine] = [await lineOf("// exit: even"), await lineOf("// exit: odd")];
    const lines = seen.map((s) => Number(/recur_hook_test\.ts:(\d+):/.exec(s.site)?.[1]));
    assert.deepEqual(lines, [evenLine, oddLine, evenLine, oddLine]);
  } finally {
    onRecur(undefined);
  }
  // Unset: further bounces reach no hook.
  const before = seen.length;
  assert.equal(await countdown(10), "done");
  assert.equal(seen.length, before);
});

Deno.test("onRecur: a new hook replaces the old one; a throwing hook fails the step", async () => {
  const first: unknown[] = [];
  const second: unknown[] = [];
  onRecur((m) => first.push(m.args));
  onRecur((m) => second.push(m.args));
  try {
    await countdown(2);
  } finally {
    onRecur(undefined);
  }
  assert.deepEqual([first, second], [[], [[1], [0]]]);

  const boom = new Error("hook failed");
  onRecur(() => {
    throw boom;
  });
  try {
    await assert.rejects(countdown(2), (err) => err === boom);
  } finally {
    onRecur(undefined);
  }
  assert.throws(() => onRecur("nope" as never), TypeError);
});

Deno.test("markers keep the Symbol.for brand, and branded markers from another copy bounce", async () => {
  const marker = recur(1, "a");
  assert.equal((marker as unknown as Record<symbol, unknown>)[Symbol.for("loom.tailcall")], true);
  assert.equal(marker[TAIL_CALL], true);
  // What another copy of this library (a different version in the module graph) would return.
  const foreign = (n: number) => ({ [Symbol.for("loom.tailcall")]: true, args: [n] });
  const loop = tailrec(async (n: number): Promise<string | TailCall<[number]>> =>
    n === 0 ? "landed" : foreign(n - 1) as unknown as TailCall<[number]>
  );
  assert.equal(await loop(5), "landed");
});

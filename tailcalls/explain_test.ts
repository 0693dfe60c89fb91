// Async steps that never await are the shape under test (the issue's own example), so:
// deno-lint-ignore-file require-await
import assert from "node:assert/strict";
import {
  explainTailcalls,
  recur,
  tailcall,
  type TailcallDiagnostic,
  type TailRec,
  tailrec,
  tailstream,
} from "./mod.ts";
import { explainSource } from "./explain.ts";

const rules = (diagnostics: TailcallDiagnostic[]) => diagnostics.map((d) => d.rule);

Deno.test("explain: `await recur(...)` is reported with its line and a fix", () => {
  const loop = tailrec(async (n: number) => {
    if (n === 0) return 0;
    return await recur(n - 1);
  });
  const [diagnostic, ...rest] = explainTailcalls(loop);
  assert.equal(rest.length, 0);
  assert.equal(diagnostic.rule, "await-recur");
  assert.equal(diagnostic.source, "return await recur(n - 1);");
  assert.equal(diagnostic.line, 3);
  assert.match(diagnostic.fix, /drop the await/);
});

Deno.test("explain: a recur result that is stored, dropped or wrapped is reported", () => {
  const loop = tailrec(async (n: number): Promise<number> => {
    if (n === 0) return 0;
    const next = recur(n - 1);
    recur(n - 2);
    console.log(next);
    return Math.max(0, recur(n) as unknown as number);
  });
  const found = explainTailcalls(loop);
  assert.deepEqual(rules(found), [
    "recur-not-returned",
    "recur-not-returned",
    "recur-not-returned",
  ]);
  assert.deepEqual(found.map((d) => d.source), [
    "const next = recur(n - 1);",
    "recur(n - 2);",
    "return Math.max(0, recur(n));",
  ]);
});

Deno.test("explain: recur returned from a callback instead of the step is reported", () => {
  const loop = tailrec(async (queue: number[]): Promise<number> => {
    if (queue.length === 0) return 0;
    queue.forEach((n) => recur(queue.slice(n)));
    await Promise.all(queue.map(async (n) => (recur([n]))));
    return 1;
  });
  const found = explainTailcalls(loop);
  assert.deepEqual(rules(found), ["recur-not-returned", "recur-not-returned"]);
  assert.match(found[0].message, /callback passed to forEach/);
  assert.match(found[1].message, /callback passed to map/);
});

Deno.test("explain: a tailcall yielded from a stream instead of returned is reported", () => {
  const other = tailstream(async function* (n: number) {
    yield n;
  });
  const stream = tailstream(async function* (n: number) {
    yield tailcall(other, n);
  });
  assert.deepEqual(rules(explainTailcalls(stream)), ["recur-not-returned"]);
});

Deno.test("explain: the loop calling itself by name is reported, in and out of tail position", () => {
  async function countdown(n: number): Promise<number> {
    if (n === 0) return 0;
    return await countdown(n - 1); // the step's own name
  }
  const byName = explainTailcalls(tailrec(countdown));
  assert.deepEqual(rules(byName), ["self-call"]);
  assert.match(byName[0].fix, /recur/);

  // An anonymous step assigned to a const: the scope tells the helper which name is the loop.
  const sum: TailRec<[number], number> = tailrec(async (n: number): Promise<number> =>
    n === 0 ? 0 : n + await sum(n - 1)
  );
  const viaScope = explainTailcalls(sum, { scope: { sum } });
  assert.deepEqual(rules(viaScope), ["self-call"]);
  assert.match(viaScope[0].message, /inside an expression/);
});

Deno.test("explain: calling another loop directly instead of tailcall is reported", () => {
  const odd: TailRec<[number], boolean> = tailrec(async (n: number) =>
    n === 0 ? false : even(n - 1)
  );
  const even = tailrec(async (n: number) => n === 0 ? true : tailcall(odd, n - 1));
  const found = explainTailcalls(odd, { scope: { even, odd } });
  assert.deepEqual(rules(found), ["direct-loop-call"]);
  assert.match(found[0].fix, /tailcall\(even, \.\.\.\)/);
  assert.deepEqual(explainTailcalls(even, { scope: { even, odd } }), []);
});

Deno.test("explain: recursion through a helper that is not a tailrec loop is reported", () => {
  async function fetchNext(page: number): Promise<string> {
    await Promise.resolve();
    return crawl(page + 1);
  }
  const crawl: TailRec<[number], string> = tailrec(async (page: number): Promise<string> => {
    if (page > 3) return "done";
    return fetchNext(page);
  });
  const found = explainTailcalls(crawl, { scope: { crawl, fetchNext } });
  assert.deepEqual(rules(found), ["helper-recursion"]);
  assert.equal(found[0].source, "return fetchNext(page);");
  assert.match(found[0].message, /fetchNext.*crawl/);
});

Deno.test("explain: nothing to report for well-formed loops of many shapes", () => {
  const helper = (n: number) => n * 2;
  const good = [
    tailrec(async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1)),
    tailrec((n: number) => n > 10 ? "big" : n < 0 ? "negative" : recur(n + helper(1))),
    tailrec(async function walk(items: string[], out: string[]) {
      const [head, ...rest] = items;
      if (head === undefined) return out.join("/"); // a comment with recur( inside
      const re = /recur\(/g;
      const label = `item ${head} ${"recur("} ${re.source}`;
      for (const x of [1, 2]) if (x > 5) return label;
      return (recur(rest, [...out, head.trim()]));
    }),
    tailrec(async (n: number) => {
      switch (n) {
        case 0:
          return "zero";
        default:
          return n % 2 === 0 ? recur(n - 2) : recur(n - 1);
      }
    }),
    tailrec(async (xs: number[]) =>
      xs.length === 0 ? 0 : recur(xs.map((x) => x - 1).filter((x) => x > 0))
    ),
    tailstream(async function* (page: number) {
      yield { page, text: "recur(x)" };
      if (page === 3) return;
      return recur(page + 1);
    }),
  ];
  for (const loop of good) assert.deepEqual(explainTailcalls(loop, { scope: { helper } }), []);
  // An unnamed loop is called "tailrec"; building another loop inside a step is not a self call.
  const builder = tailrec((n: number) => n === 0 ? tailrec((m: number) => m) : recur(n - 1));
  assert.equal(builder.name, "tailrec");
  assert.deepEqual(explainTailcalls(builder), []);
});

Deno.test("explain never throws: native, bound, class and odd sources", () => {
  assert.deepEqual(rules(explainTailcalls(Math.max)), ["no-source"]);
  assert.deepEqual(rules(explainTailcalls(((n: number) => n).bind(null))), ["no-source"]);
  class Machine {
    run(n: number): number {
      return n;
    }
  }
  const odd = [
    new Machine().run,
    Machine as unknown as (...args: never) => unknown,
    new Function("a", "return a / 2 / 3 + `${a}` + '}' + \"{\""),
  ] as ((...args: never) => unknown)[];
  for (const fn of odd) assert.doesNotThrow(() => explainTailcalls(fn));
  assert.deepEqual(explainTailcalls(new Machine().run), []);
});

Deno.test("explain's reader never throws on truncated or malformed source text", () => {
  const broken = [
    "(n) => { return recur(1) /* unterminated",
    "(n) => (((recur(1)",
    "(n) => `${recur(",
    "(n) => { return 'unterminated",
    "(n) => n / 2 / /[/]/.source",
    "}}}))) return return => => ? : ?",
    "",
  ];
  for (const source of broken) {
    assert.doesNotThrow(() => explainSource(source, new Set(["loop"])), source);
  }
  // Still useful on the part it can read.
  assert.deepEqual(
    explainSource("async (n) => { const x = recur(n); return (((", new Set()).map((d) => d.rule),
    ["recur-not-returned"],
  );
});

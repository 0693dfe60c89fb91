// Type-level tests. `types_test.ts` imports this file, so `deno test` type-checks it: every
// `@ts-expect-error` below fails the check if the error it expects disappears (TS2578), and the
// `Equal` assertions fail if an inferred type changes.
import {
  type LoopResult,
  recur,
  tailcall,
  tailrec,
  type TailRec,
  type TailStream,
  tailstream,
} from "../mod.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function expectType<T extends true>(_: T): void {}

export const countdown = tailrec(async (n: number, acc: number) =>
  n === 0 ? acc : recur(n - 1, acc + 1)
);
expectType<Equal<typeof countdown, TailRec<[n: number, acc: number], number>>>(true);

// Sync steps infer the same way; the result drops the markers.
export const label = tailrec((n: number) => n > 3 ? `big ${n}` : recur(n + 1));
expectType<Equal<Awaited<ReturnType<typeof label>>, string>>(true);

// @ts-expect-error recur's argument has the wrong type for the loop's first parameter
export const wrongType = tailrec(async (n: number, acc: number) => n === 0 ? acc : recur("1", acc));

// @ts-expect-error recur is missing an argument (reported on the step, which has a block body)
export const wrongArity = tailrec(async (n: number, acc: number) => {
  if (n === 0) return acc;
  return recur(n - 1);
});

// @ts-expect-error recur has one argument too many
export const tooMany = tailrec((n: number) => n === 0 ? 0 : recur(n - 1, "extra"));

export async function callers(): Promise<void> {
  // @ts-expect-error the loop's parameters are the step's parameters
  await countdown("10", 0);
  // @ts-expect-error the loop's result is a number
  const text: string = await countdown(10, 0);
  void text;
}

// Mutual recursion: one annotation breaks the cycle; the result type flows through tailcall.
export const isEven: TailRec<[number], boolean> = tailrec(async (n: number) =>
  n === 0 ? true : tailcall(isOdd, n - 1)
);
export const isOdd = tailrec(async (n: number) => n === 0 ? false : tailcall(isEven, n - 1));
expectType<Equal<typeof isOdd, TailRec<[n: number], boolean>>>(true);

// @ts-expect-error tailcall's arguments are checked against the target loop
export const badTransfer = tailrec(async (n: number) => tailcall(isEven, `${n}`));

// A transfer to a loop with another result type widens this loop's result.
export const describe = tailrec((n: number) => n < 0 ? tailcall(label, 0) : n);
expectType<Equal<Awaited<ReturnType<typeof describe>>, string | number>>(true);
expectType<Equal<LoopResult<number | ReturnType<typeof recur<[number]>>>, number>>(true);

export const lines = tailstream(async function* (page: number) {
  yield `page ${page}`;
  return page === 3 ? page * 10 : recur(page + 1);
});
expectType<Equal<typeof lines, TailStream<[page: number], string, number>>>(true);

// @ts-expect-error a stream's recur is checked against its parameters too
export const badStream = tailstream(async function* (page: number) {
  yield page;
  return recur(String(page));
});

// A stream that only bounces never returns a value: void, so iterator.return() is callable.
export const endless = tailstream(async function* (i: number) {
  yield i;
  return recur(i + 1);
});
expectType<Equal<typeof endless, TailStream<[i: number], number, void>>>(true);

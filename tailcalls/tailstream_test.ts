import assert from "node:assert/strict";
import {
  LoopAbortedError,
  recur,
  StepBudgetExceededError,
  tailcall,
  tailrec,
  type TailStream,
  tailstream,
} from "./mod.ts";

/** Yields start, start+1, ... one value per step, until `end`. */
const counter = tailstream(async function* (i: number, end: number) {
  if (i === end) return "finished";
  yield i;
  return recur(i + 1, end);
});

Deno.test("tailstream yields 100,000 values, one per step, and returns the final value", async () => {
  const iterator = counter(0, 100_000);
  let expected = 0;
  let next = await iterator.next();
  while (!next.done) {
    assert.equal(next.value, expected++);
    next = await iterator.next();
  }
  assert.equal(expected, 100_000);
  assert.equal(next.value, "finished");
});

Deno.test("tailstream stops cleanly when the consumer breaks: finally runs, no step starts", async () => {
  let started = 0;
  let cleanedUp = 0;
  const stream = tailstream(async function* (i: number) {
    started++;
    try {
      yield i;
      yield i + 0.5;
    } finally {
      cleanedUp++;
    }
    return recur(i + 1);
  });
  const seen: number[] = [];
  for await (const value of stream(0)) {
    seen.push(value);
    if (seen.length === 5) break; // inside the third step, after its first yield
  }
  assert.deepEqual(seen, [0, 0.5, 1, 1.5, 2]);
  assert.equal(started, 3);
  assert.equal(cleanedUp, 3);
  // The steps await nothing but each other, so a runaway producer would run on microtasks:
  // one macrotask later, every step it could have started has started.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(started, 3, "a step started after the consumer left");
});

Deno.test("tailstream applies back-pressure: the producer runs only as far as it is pulled", async () => {
  let produced = 0;
  const stream = tailstream(async function* (i: number) {
    produced++;
    yield i;
    return recur(i + 1);
  });
  const iterator = stream(0);
  for (let pulled = 1; pulled <= 50; pulled++) {
    assert.equal((await iterator.next()).value, pulled - 1);
    await new Promise((resolve) => setTimeout(resolve, 0)); // give a runaway producer time
    assert.equal(produced, pulled);
  }
  assert.deepEqual(await iterator.return(undefined), { done: true, value: undefined });
  assert.equal(produced, 50);
});

Deno.test("tailstream passes next(value) to the running step's yield", async () => {
  const echo = tailstream(async function* (total: number) {
    const added = (yield total) as number;
    return added === 0 ? total : recur(total + added);
  });
  const iterator = echo(0);
  assert.equal((await iterator.next()).value, 0);
  assert.equal((await iterator.next(5)).value, 5);
  assert.equal((await iterator.next(7)).value, 12);
  assert.deepEqual(await iterator.next(0), { done: true, value: 12 });
});

Deno.test("tailstream: tailcall between streams, and a clear error when targeting a tailrec", async () => {
  const pong: TailStream<[number], string, string> = tailstream(async function* (n: number) {
    yield `pong ${n}`;
    return n === 0 ? "end" : tailcall(ping, n - 1);
  });
  const ping = tailstream(async function* (n: number) {
    yield `ping ${n}`;
    return tailcall(pong, n);
  });
  const lines: string[] = [];
  for await (const line of ping(1)) lines.push(line);
  assert.deepEqual(lines, ["ping 1", "pong 1", "ping 0", "pong 0"]);

  const plain = tailrec((n: number) => n);
  const wrong = tailstream(async function* (n: number) {
    yield n;
    return tailcall(plain as never, n);
  });
  await assert.rejects(Array.fromAsync(wrong(1)), /cannot tailcall the tailrec loop/);
});

Deno.test("tailstream: budget, hooks and abort apply between steps", async () => {
  const phases: string[] = [];
  const budgeted = tailstream(async function* (i: number) {
    yield i;
    return recur(i + 1);
  }, { maxSteps: 3, onStep: (e) => void phases.push(`${e.phase} ${e.step}`) });
  const seen: number[] = [];
  const error = await (async () => {
    for await (const value of budgeted(10)) seen.push(value);
  })().catch((e) => e);
  assert.ok(error instanceof StepBudgetExceededError);
  assert.deepEqual(seen, [10, 11, 12]);
  assert.deepEqual(error.args, [13]);
  assert.deepEqual(phases, ["before 1", "after 1", "before 2", "after 2", "before 3", "after 3"]);

  const controller = new AbortController();
  const abortable = tailstream(async function* (i: number) {
    yield i;
    return recur(i + 1);
  }, { signal: controller.signal });
  const values: number[] = [];
  const aborted = await (async () => {
    for await (const value of abortable(0)) {
      values.push(value);
      if (value === 4) controller.abort();
    }
  })().catch((e) => e);
  assert.ok(aborted instanceof LoopAbortedError);
  assert.equal(aborted.name, "AbortError");
  assert.deepEqual(values, [0, 1, 2, 3, 4]);
  assert.deepEqual(aborted.args, [5]);
});

Deno.test("tailstream: an error thrown in a step reaches the consumer unchanged", async () => {
  let thrown: Error | undefined;
  const failing = tailstream(async function* readPages(page: number) {
    yield page;
    if (page === 2) throw (thrown = new Error("page 2 is corrupt"));
    return recur(page + 1);
  });
  const error = await Array.fromAsync(failing(0)).catch((e) => e);
  assert.ok(thrown !== undefined);
  assert.equal(error, thrown);
  assert.match(String(error.stack), /readPages/);
});

// Async steps that never await are the shape under test (the issue's own example), so:
// deno-lint-ignore-file require-await
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  LoopAbortedError,
  LoopInterruptedError,
  recur,
  StepBudgetExceededError,
  type StepEvent,
  tailcall,
  type TailRec,
  tailrec,
  tailstream,
} from "./mod.ts";

const countdown = tailrec(async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1));

Deno.test("tailrec runs a 1,000,000-step async loop; the loop is an async function", async () => {
  assert.equal(await countdown(1_000_000, 0), 1_000_000);
  assert.equal(countdown.constructor.name, "AsyncFunction");
  assert.equal(countdown.length, 0); // rest parameters; the types carry the step's parameters
});

Deno.test("tailrec runs synchronous steps without awaiting them", async () => {
  let steps = 0;
  const sum = tailrec((n: number, acc: number) => {
    steps++;
    return n === 0 ? acc : recur(n - 1, acc + n);
  });
  const pending = sum(1_000_000, 0);
  // Every step already ran inside the call: no await (no microtask) between synchronous steps.
  assert.equal(steps, 1_000_001);
  assert.equal(await pending, 500000500000);
});

Deno.test("tailrec keeps the heap flat over 1,000,000 steps (subprocess with exposed gc)", async () => {
  const probe = fileURLToPath(new URL("./testdata/heap_probe.ts", import.meta.url));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--v8-flags=--expose-gc", probe, "1000000", "200000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(report.result, 1_000_000);
  const MB = 1024 * 1024;
  // Deepest point: inside the last step, where a growing promise chain would still be alive.
  assert.ok(report.deepestGrowth < 3 * MB, `deepest growth ${report.deepestGrowth} bytes`);
  assert.ok(report.afterGrowth < 3 * MB, `growth after ${report.afterGrowth} bytes`);
  // Control: native `return await self()` recursion, 5x fewer steps, must show a growing chain,
  // or the probe could not tell a leak from no leak.
  assert.ok(report.controlDeepestGrowth > 10 * MB, `control ${report.controlDeepestGrowth} bytes`);
});

// Mutually recursive loops refer to each other, so one of them carries an annotation.
const isEven: TailRec<[number], boolean> = tailrec(async (n: number) =>
  n === 0 ? true : tailcall(isOdd, n - 1)
);
const isOdd = tailrec(async (n: number) => n === 0 ? false : tailcall(isEven, n - 1));

Deno.test("tailcall: mutual recursion even/odd to 1e6", async () => {
  assert.equal(await isEven(1_000_000), true);
  assert.equal(await isOdd(1_000_000), false);
  assert.equal(await isOdd(999_999), true);
});

Deno.test("tailcall: a state machine with three states, result type from the targets", async () => {
  const trace: string[] = [];
  const green: TailRec<[number], string> = tailrec((left: number) => {
    trace.push("green");
    return left === 0 ? "stopped" : tailcall(yellow, left);
  });
  const yellow = tailrec((left: number) => {
    trace.push("yellow");
    return tailcall(red, left);
  });
  const red = tailrec((left: number) => {
    trace.push("red");
    return tailcall(green, left - 1);
  });
  const result: string = await green(2);
  assert.equal(result, "stopped");
  assert.deepEqual(trace, ["green", "yellow", "red", "green", "yellow", "red", "green"]);
});

Deno.test("tailcall rejects targets that are not loops, or loops of the other kind", async () => {
  const plain = async (n: number) => n;
  assert.throws(() => tailcall(plain as never, 1), TypeError);
  const stream = tailstream(async function* (n: number) {
    yield n;
  });
  const wrongKind = tailrec((n: number) => n === 0 ? 0 : tailcall(stream as never, n));
  await assert.rejects(wrongKind(1), /cannot tailcall the tailstream loop/);
});

Deno.test("maxSteps: a typed error carries the arguments to resume with", async () => {
  const budgeted = tailrec(
    async (n: number, acc: number) => n === 0 ? acc : recur(n - 1, acc + 1),
    { maxSteps: 1000, name: "budgeted" },
  );
  const error = await budgeted(2500, 0).then(
    () => assert.fail("the budget was not enforced"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof StepBudgetExceededError);
  assert.ok(error instanceof LoopInterruptedError);
  assert.equal(error.maxSteps, 1000);
  assert.equal(error.steps, 1000);
  assert.deepEqual(error.args, [1500, 1000]);
  assert.equal(error.loop, budgeted);
  assert.match(error.message, /"budgeted" exceeded its budget of 1000 steps/);
  // Resuming twice more finishes the job with the same answer as an unbudgeted run.
  const second = await (error.loop as typeof budgeted)(...(error.args as [number, number]))
    .catch((e: StepBudgetExceededError) => e);
  assert.ok(second instanceof StepBudgetExceededError);
  assert.equal(await budgeted(...(second.args as [number, number])), 2500);
});

Deno.test("maxSteps counts steps across tailcall and names the loop to resume", async () => {
  const even: TailRec<[number], boolean> = tailrec(
    (n: number) => n === 0 ? true : tailcall(odd, n - 1),
    { maxSteps: 3 },
  );
  const odd = tailrec((n: number) => n === 0 ? false : tailcall(even, n - 1));
  const error = await even(10).catch((e) => e);
  assert.ok(error instanceof StepBudgetExceededError);
  assert.equal(error.loop, odd); // even, odd, even ran; odd(7) is next
  assert.deepEqual(error.args, [7]);
  assert.equal(await (error.loop as typeof odd)(7), true); // same answer as even(10)
});

Deno.test("maxSteps: a loop that finishes within budget is unaffected; bad budgets throw", async () => {
  const small = tailrec((n: number) => n === 0 ? "ok" : recur(n - 1), { maxSteps: 3 });
  assert.equal(await small(2), "ok"); // 3 steps: 2, 1, 0
  await assert.rejects(small(3), StepBudgetExceededError);
  assert.throws(() => tailrec((n: number) => n, { maxSteps: -1 }), RangeError);
  assert.throws(() => tailrec((n: number) => n, { maxSteps: 1.5 }), RangeError);
});

Deno.test("onStep is called before and after every step, and async hooks are awaited", async () => {
  const events: string[] = [];
  let hookRunning = false;
  const loop = tailrec(async (n: number) => {
    assert.equal(hookRunning, false, "a step started while an async hook was still running");
    return n === 0 ? "done" : recur(n - 1);
  }, {
    onStep: async (event: StepEvent) => {
      hookRunning = true;
      await new Promise((resolve) => setTimeout(resolve, 1));
      hookRunning = false;
      events.push(
        event.phase === "before"
          ? `before ${event.step} ${event.args}`
          : `after ${event.step} ${event.done ? `done ${event.result}` : "bounce"}`,
      );
    },
  });
  assert.equal(await loop(2), "done");
  assert.deepEqual(events, [
    "before 1 2",
    "after 1 bounce",
    "before 2 1",
    "after 2 bounce",
    "before 3 0",
    "after 3 done done",
  ]);
});

Deno.test("an error thrown by onStep stops the loop with that error", async () => {
  const boom = new Error("hook failed");
  let steps = 0;
  const loop = tailrec((n: number) => {
    steps++;
    return recur(n + 1);
  }, {
    onStep: (e) => {
      if (e.phase === "after" && e.step === 5) throw boom;
    },
  });
  await assert.rejects(loop(0), (e) => e === boom);
  assert.equal(steps, 5);
});

Deno.test("signal: the loop stops between steps with an AbortError carrying where it stopped", async () => {
  const controller = new AbortController();
  let ran = 0;
  const forever = tailrec(async (n: number) => {
    ran++;
    if (n === 100) controller.abort(); // aborts mid-step; the step still finishes
    return recur(n + 1);
  }, { signal: controller.signal, name: "forever" });
  const error = await forever(0).catch((e) => e);
  assert.ok(error instanceof LoopAbortedError);
  assert.equal(error.name, "AbortError");
  assert.equal(ran, 101);
  assert.equal(error.steps, 101);
  assert.deepEqual(error.args, [101]);
  assert.equal((error.reason as DOMException).name, "AbortError");
});

Deno.test("signal: an already aborted signal runs no step; a timer abort stops a long loop", async () => {
  let ran = 0;
  const aborted = tailrec((n: number) => {
    ran++;
    return n;
  }, { signal: AbortSignal.abort("stop") });
  const error = await aborted(1).catch((e) => e);
  assert.ok(error instanceof LoopAbortedError);
  assert.equal(error.reason, "stop");
  assert.equal(ran, 0);

  const ticking = tailrec(async (n: number) => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    return recur(n + 1);
  }, { signal: AbortSignal.timeout(30) });
  const timedOut = await ticking(0).catch((e) => e);
  assert.ok(timedOut instanceof LoopAbortedError);
  assert.ok(timedOut.steps > 0);
});

Deno.test("errors thrown in a step propagate unchanged, with a stack naming the step", async () => {
  let thrown: RangeError | undefined;
  async function parseStep(n: number): Promise<number | ReturnType<typeof recur<[number]>>> {
    await null;
    if (n === 3) throw (thrown = new RangeError("bad input at 3"));
    return recur(n + 1);
  }
  const parse = tailrec(parseStep);
  const error = await parse(0).catch((e) => e);
  assert.ok(thrown !== undefined);
  assert.equal(error, thrown); // the same object, not wrapped
  assert.match(String(error.stack), /parseStep/);
  assert.match(String(error.stack), /tailrec_test\.ts/);

  // An anonymous step is named after its loop, so its frame is still recognisable.
  const anonymous = tailrec((n: number) => {
    if (n === 2) throw new TypeError("anonymous step failed");
    return recur(n + 1);
  }, { name: "ingest" });
  const second = await anonymous(0).catch((e) => e);
  assert.ok(second instanceof TypeError);
  assert.match(String(second.stack), /at ingest step /);
});

Deno.test("steps may return thenables that are not native promises", async () => {
  const thenable = <T>(value: T): PromiseLike<T> => ({
    then: (resolve) => Promise.resolve(value).then(resolve),
  });
  const loop = tailrec((n: number) => thenable(n === 0 ? "end" : recur(n - 1)));
  assert.equal(await loop(1000), "end");
});

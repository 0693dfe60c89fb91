import assert from "node:assert/strict";
import {
  cancelRun,
  defineAgent,
  deleteRun,
  explainRun,
  forkRun,
  formatExplain,
  getCheckpoint,
  hashJson,
  LoomError,
  pruneRuns,
  recur,
  resumeRun,
  retryRun,
  RUN_STATUSES,
  RunnerError,
  type RunObserver,
  sendSignal,
  startOrResumeRun,
  startRun,
  verifyRun,
} from "../mod.ts";
import { memoryLogger, withFakeClock, withTempStore } from "../_test_util.ts";
import { waitFor } from "../testing.ts";

const counter = defineAgent({
  name: "counter",
  initialState: (input?: { target?: number }) => ({ current: 0, target: input?.target ?? 10 }),
  step(state, ctx) {
    if (state.current >= state.target) return { current: state.current, steps: ctx.step };
    return recur({ ...state, current: state.current + 1 });
  },
});

Deno.test("counter: max-steps pauses, resume completes, history has every step", async () => {
  await withTempStore(async (store) => {
    const first = await startRun(counter, { store, runId: "c", maxSteps: 4 });
    assert.equal(first.status, "paused");
    assert.equal(first.steps, 4);
    assert.deepEqual(first.state, { current: 4, target: 10 });
    const done = await resumeRun(counter, { store, runId: "c" });
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { current: 10, steps: 10 });
    assert.equal(done.stepsThisRun, 7);
    const steps = await store.listSteps("c");
    assert.deepEqual(steps.map((s) => s.step), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(steps[10].state, null); // the final step stores the result on the run instead
    assert.equal(JSON.parse(steps[3].state!).current, 4);
    const v = await verifyRun(store, "c");
    assert.deepEqual(v.problems, []);
    assert.ok(v.ok);
  });
});

Deno.test("a completed run cannot be resumed; an unknown run is a clear error", async () => {
  await withTempStore(async (store) => {
    await startRun(counter, { store, runId: "c", input: { target: 2 } });
    await assert.rejects(resumeRun(counter, { store, runId: "c" }), (e: unknown) => {
      assert.ok(e instanceof RunnerError);
      assert.match(e.message, /run c is already completed and cannot be resumed/);
      return true;
    });
    await assert.rejects(resumeRun(counter, { store, runId: "nope" }), /run nope does not exist/);
    await assert.rejects(startRun(counter, { store, runId: "c" }), /already exists/);
    const again = await startOrResumeRun(counter, { store, runId: "c" });
    assert.deepEqual(again.result, { current: 2, steps: 2 });
  });
});

Deno.test("a non-serialisable state fails the step that produced it, naming the path", async () => {
  const bad = defineAgent({
    name: "bad",
    initialState: () => ({ n: 0, when: null as unknown }),
    step(state) {
      if (state.n === 2) return recur({ n: 3, when: { at: new Date(0) } });
      if (state.n >= 3) return "never";
      return recur({ ...state, n: state.n + 1 });
    },
  });
  await withTempStore(async (store) => {
    const r = await startRun(bad, { store, runId: "b" });
    assert.equal(r.status, "failed");
    assert.equal(r.error?.category, "validation");
    assert.match(r.error!.message, /state\.when\.at is an instance of Date/);
    assert.equal(r.steps, 2);
    // The last good checkpoint is intact and only one attempt was made (validation is not retried).
    assert.deepEqual(await getCheckpoint(store, "b", 2), { n: 2, when: null });
    assert.equal((await store.listFailedAttempts("b")).length, 1);
    await assert.rejects(resumeRun(bad, { store, runId: "b" }), /failed .*use retry/);
  });
});

Deno.test("encode/decode hooks store custom types", async () => {
  const withDate = defineAgent({
    name: "dates",
    initialState: () => ({ at: new Date(1000), n: 0 }),
    encode: (s) => ({ at: s.at.getTime(), n: s.n }),
    decode: (j) => {
      const o = j as { at: number; n: number };
      return { at: new Date(o.at), n: o.n };
    },
    step(state) {
      assert.ok(state.at instanceof Date);
      if (state.n === 3) return state.at.getTime();
      return recur({ at: new Date(state.at.getTime() + 1), n: state.n + 1 });
    },
  });
  await withTempStore(async (store) => {
    assert.equal((await startRun(withDate, { store, runId: "d", maxSteps: 2 })).status, "paused");
    const r = await resumeRun(withDate, { store, runId: "d" });
    assert.equal(r.result, 1003);
  });
});

Deno.test("retries: transient errors retried with backoff, every attempt recorded with its category", async () => {
  let calls = 0;
  const flaky = defineAgent({
    name: "flaky",
    retry: { maxAttempts: 4, initialDelayMs: 5, multiplier: 2, jitter: 0 },
    initialState: () => ({ ok: false }),
    step(state, ctx) {
      if (state.ok) return "done";
      calls++;
      if (ctx.attempt < 3) throw new LoomError(`busy ${ctx.attempt}`, { category: "transient" });
      return recur({ ok: true });
    },
  });
  await withTempStore(async (store) => {
    const errors: string[] = [];
    const observer: RunObserver = {
      onAttemptError: (i) => errors.push(`${i.attempt}:${i.category}:${i.retryInMs}`),
    };
    const t0 = Date.now();
    const r = await startRun(flaky, { store, runId: "f", observer });
    assert.equal(r.status, "completed");
    assert.equal(calls, 3);
    assert.ok(Date.now() - t0 >= 15, "backoff 5 + 10 ms was waited");
    assert.deepEqual(errors, ["1:transient:5", "2:transient:10"]);
    const attempts = await store.listFailedAttempts("f");
    assert.deepEqual(attempts.map((a) => [a.step, a.attempt, a.errorCategory, a.error]), [
      [0, 1, "transient", "busy 1"],
      [0, 2, "transient", "busy 2"],
    ]);
    assert.equal((await store.getStep("f", 0))!.attempt, 3);
    assert.ok((await verifyRun(store, "f")).ok);
  });
});

Deno.test("retries: only transient is retried by default; categories come from errors", async () => {
  const cases: [unknown, string, number][] = [
    [new LoomError("nope", { category: "business" }), "business", 1],
    [new LoomError("bad input", { category: "validation" }), "validation", 1],
    [new Deno.errors.PermissionDenied("no"), "permission", 1],
    [new Error("plain"), "unknown", 1],
    [Object.assign(new Error("503"), { status: 503 }), "transient", 3],
    [new Deno.errors.ConnectionRefused("down"), "transient", 3],
  ];
  for (const [err, category, attempts] of cases) {
    const agent = defineAgent({
      name: "thrower",
      retry: { initialDelayMs: 1, jitter: 0 },
      initialState: () => ({}),
      step() {
        throw err;
      },
    });
    await withTempStore(async (store) => {
      const r = await startRun(agent, { store, runId: "t" });
      assert.equal(r.status, "failed");
      assert.equal(r.error?.category, category);
      assert.equal((await store.listFailedAttempts("t")).length, attempts, `${category} attempts`);
    });
  }
});

Deno.test("retry command: a failed run continues from its last checkpoint with a fresh budget", async () => {
  let healthy = false;
  const agent = defineAgent({
    name: "fragile",
    retry: { maxAttempts: 2, initialDelayMs: 1 },
    initialState: () => ({ n: 0 }),
    step(state) {
      if (state.n === 3) return state.n;
      if (state.n === 2 && !healthy) throw new LoomError("db down", { category: "transient" });
      return recur({ n: state.n + 1 });
    },
  });
  await withTempStore(async (store) => {
    const r = await startRun(agent, { store, runId: "x" });
    assert.equal(r.status, "failed");
    assert.equal(r.steps, 2);
    await assert.rejects(retryRun(store, "nope"), /does not exist/);
    healthy = true;
    await retryRun(store, "x");
    await assert.rejects(retryRun(store, "x"), /only failed runs can be retried/);
    const done = await resumeRun(agent, { store, runId: "x" });
    assert.equal(done.status, "completed");
    assert.equal(done.result, 3);
    assert.equal((await store.getStep("x", 2))!.attempt, 3); // attempts 1-2 failed, 3 succeeded
    assert.ok((await verifyRun(store, "x")).ok);
    assert.ok((await store.listEvents("x")).some((e) => e.kind === "retry"));
  });
});

Deno.test("tool calls: completed calls replay from the store across attempts, keys reach the tool", async () => {
  const ran: string[] = [];
  let failOnce = true;
  const agent = defineAgent({
    name: "tools",
    retry: { initialDelayMs: 1 },
    initialState: () => ({ done: false }),
    async step(state, ctx) {
      if (state.done) return "ok";
      const a = await ctx.callTool("fetch", { url: "a" }, (args, info) => {
        ran.push(`fetch ${args.url} ${info.key}`);
        return { body: "A" };
      });
      const b = await ctx.callTool("fetch", { url: "a" }, (_a, info) => {
        ran.push(`fetch-again ${info.key}`);
        return { body: "A2" };
      });
      assert.deepEqual(a, { body: "A" });
      assert.deepEqual(b, { body: "A2" });
      if (failOnce) {
        failOnce = false;
        throw new LoomError("after the tools", { category: "transient" });
      }
      return recur({ done: true });
    },
  });
  await withTempStore(async (store) => {
    const seen: boolean[] = [];
    const r = await startRun(agent, {
      store,
      runId: "t",
      observer: { onToolCall: (i) => seen.push(i.replayed) },
    });
    assert.equal(r.status, "completed");
    // Two distinct calls with equal args get distinct keys; neither ran again on attempt 2.
    const h = hashJson({ url: "a" }).slice(0, 16);
    assert.deepEqual(ran, [`fetch a t:0:fetch:${h}:0`, `fetch-again t:0:fetch:${h}:1`]);
    assert.deepEqual(seen, [false, false, true, true]);
  });
});

Deno.test("tool calls: per-tool retry policy, timeouts and a non-JSON result", async () => {
  let n = 0;
  const agent = defineAgent({
    name: "tool-retry",
    retry: { maxAttempts: 1 },
    initialState: () => ({}),
    async step(_s, ctx) {
      const v = await ctx.callTool("flaky", {}, () => {
        n++;
        if (n < 3) throw Object.assign(new Error("429"), { status: 429 });
        return n;
      }, { retry: { maxAttempts: 5, initialDelayMs: 1 } });
      await assert.rejects(
        ctx.callTool("slow", {}, (_a, info) =>
          new Promise((resolve) => {
            const t = setTimeout(resolve, 5000);
            info.abortSignal.addEventListener("abort", () => clearTimeout(t));
          }), { timeoutMs: 20, retry: { maxAttempts: 2, initialDelayMs: 1 } }),
        /timed out after 20 ms/,
      );
      await assert.rejects(
        ctx.callTool("fn", {}, () => ({ f: () => 1 })),
        /the result of tool fn\.f is a function/,
      );
      return v;
    },
  });
  await withTempStore(async (store) => {
    const r = await startRun(agent, { store, runId: "r" });
    assert.equal(r.result, 3);
    const attempts = await store.listFailedAttempts("r");
    assert.deepEqual(
      attempts.map((a) => `${a.scope.split(":")[1]}#${a.attempt}:${a.errorCategory}`),
      [
        "flaky#1:transient",
        "flaky#2:transient",
        "slow#1:transient",
        "slow#2:transient",
        "fn#1:validation",
      ],
    );
    const calls = await store.listCalls("r");
    assert.deepEqual(calls.map((c) => `${c.name}:${c.status}:${c.attempts}`), [
      "flaky:completed:3",
      "slow:failed:2",
      "fn:failed:1",
    ]);
  });
});

Deno.test("explicit idempotency keys are scoped to their run and reject other arguments", async () => {
  let executions = 0;
  const agent = defineAgent({
    name: "keyed",
    initialState: (input: { amount: number }) => ({ amount: input.amount, i: 0 }),
    async step(state, ctx) {
      const r = await ctx.callTool("charge", { amount: state.amount }, (_a, info) => {
        executions++;
        return { charged: state.amount, key: info.key };
      }, { key: "order-1" });
      if (state.i === 0) return recur({ ...state, i: 1 }); // same key again in step 1: replayed
      return r;
    },
  });
  await withTempStore(async (store) => {
    const a = await startRun(agent, { store, runId: "a", input: { amount: 5 } });
    const b = await startRun(agent, { store, runId: "b", input: { amount: 7 } });
    assert.deepEqual(a.result, { charged: 5, key: "order-1" });
    assert.deepEqual(b.result, { charged: 7, key: "order-1" }); // not run a's cached result
    assert.equal(executions, 2);
    const clash = defineAgent({
      name: "clash",
      initialState: () => ({}),
      async step(_s, ctx) {
        await ctx.callTool("charge", { amount: 1 }, () => 1, { key: "k" });
        return await ctx.callTool("charge", { amount: 2 }, () => 2, { key: "k" });
      },
    });
    const c = await startRun(clash, { store, runId: "c" });
    assert.equal(c.status, "failed");
    assert.equal(c.error?.category, "validation");
    assert.match(
      c.error!.message,
      /idempotency key k was already used in run c with different arguments/,
    );
  });
});

Deno.test("a capped tool result still reaches the step whole; storage keeps a stub", async () => {
  const big = "x".repeat(5000);
  const agent = defineAgent({
    name: "big",
    payload: { maxInlineBytes: 1000 },
    initialState: () => ({}),
    async step(_s, ctx) {
      const v = await ctx.callTool("read", { path: "f" }, () => ({ text: big }));
      return v.text.length;
    },
  });
  await withTempStore(async (store) => {
    const r = await startRun(agent, { store, runId: "b" });
    assert.equal(r.result, 5000);
    const [call] = await store.listCalls("b");
    assert.ok(call.capped);
    assert.equal(call.resultBytes, 5011);
    assert.ok(call.result!.length < 1000);
    assert.equal(JSON.parse(call.result!).$loomCapped, true);
    assert.ok((await verifyRun(store, "b")).ok);
  });
});

Deno.test("signals: waiting status, replay of earlier tool calls, validator, timeout", async () => {
  const effects: string[] = [];
  const agent = defineAgent({
    name: "approve",
    initialState: (input?: { timeoutMs?: number }) => ({ timeoutMs: input?.timeoutMs }),
    async step(state, ctx) {
      await ctx.callTool("prepare", {}, () => effects.push("prepare"));
      const v = await ctx.waitForSignal("approve", {
        timeoutMs: state.timeoutMs,
        validate: (d) => {
          if (typeof (d as { by?: unknown })?.by !== "string") throw new Error("need by");
          return d as { by: string };
        },
      });
      await ctx.callTool("deploy", {}, () => effects.push("deploy"));
      return v;
    },
  });
  await withTempStore(async (store) => {
    const logger = memoryLogger();
    const w = await startRun(agent, { store, runId: "s", logger });
    assert.equal(w.status, "waiting");
    assert.equal(w.waitingFor, "approve");
    // Resuming without a signal stays waiting and runs nothing.
    assert.equal((await resumeRun(agent, { store, runId: "s", logger })).status, "waiting");
    await sendSignal(store, "s", "approve", { by: 3 }); // rejected by the validator
    assert.equal((await resumeRun(agent, { store, runId: "s", logger })).status, "waiting");
    await sendSignal(store, "s", "approve", { by: "ann" });
    const done = await resumeRun(agent, { store, runId: "s", logger });
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { by: "ann" });
    // The tool call before the wait ran exactly once across three re-runs of the step.
    assert.deepEqual(effects, ["prepare", "deploy"]);
    const e = await explainRun(store, "s");
    assert.deepEqual(e.signals, { delivered: 1, pending: 0, rejected: 1 });
    await assert.rejects(
      sendSignal(store, "s", "approve", {}),
      /completed; it takes no more signals/,
    );
    await assert.rejects(sendSignal(store, "nope", "approve", {}), /does not exist/);

    // The wait's deadline on a hand-driven clock: exact, however slow the machine.
    await withFakeClock(async (clock) => {
      const t = await startRun(agent, { store, runId: "t", input: { timeoutMs: 30 }, logger });
      assert.equal(t.status, "waiting");
      clock.advance(29);
      assert.equal((await resumeRun(agent, { store, runId: "t", logger })).status, "waiting");
      clock.advance(1);
      const timedOut = await resumeRun(agent, { store, runId: "t", logger });
      assert.deepEqual(timedOut.result, { timedOut: true, name: "approve" });
    });
  });
});

Deno.test("a signal sent before the wait is buffered and consumed by it", async () => {
  const agent = defineAgent({
    name: "early",
    initialState: () => ({ n: 0 }),
    async step(state, ctx) {
      if (state.n < 2) return recur({ n: state.n + 1 });
      return await ctx.waitForSignal("go");
    },
  });
  await withTempStore(async (store) => {
    assert.equal((await startRun(agent, { store, runId: "e", maxSteps: 1 })).status, "paused");
    await sendSignal(store, "e", "go", [1, 2]);
    const r = await resumeRun(agent, { store, runId: "e" });
    assert.deepEqual(r.result, [1, 2]);
  });
});

Deno.test("sleep: short timers run in-process; long ones suspend and keep their wake time", async () => {
  const agent = defineAgent({
    name: "sleeper",
    initialState: (input: { ms: number }) => ({ ms: input.ms }),
    async step(state, ctx) {
      const t0 = Date.now();
      await ctx.sleep(state.ms);
      return Date.now() - t0;
    },
  });
  await withTempStore(async (store) => {
    const short = await startRun(agent, { store, runId: "a", input: { ms: 30 } });
    assert.ok((short.result as number) >= 29);
    // Long timers on a hand-driven clock: the wake time is exact, however slow the machine.
    await withFakeClock(async (clock) => {
      const start = clock.now;
      const opts = { store, runId: "b", maxInProcessSleepMs: 10 };
      const long = await startRun(agent, { ...opts, input: { ms: 400 } });
      assert.equal(long.status, "waiting");
      assert.equal(long.waitingFor, "timer");
      const wakeAt = (await store.listCalls("b", { kind: "timer" }))[0].deadline!;
      assert.equal(wakeAt, start + 400);
      clock.advance(200);
      const again = await resumeRun(agent, opts);
      assert.equal(again.status, "waiting");
      assert.deepEqual(again.waiting, { kind: "timer", wakeAt, key: "0:timer:0" });
      clock.advance(189); // 11 ms left: still more than maxInProcessSleepMs
      assert.equal((await resumeRun(agent, opts)).status, "waiting", "not before the wake time");
      // At the stored wake time the run completes at once; a restarted timer would wait 400 ms
      // more, longer than maxInProcessSleepMs, so the run would still be waiting.
      clock.advance(11);
      const done = await resumeRun(agent, opts);
      assert.equal(done.status, "completed");
      const [timer] = await store.listCalls("b", { kind: "timer" });
      assert.equal(timer.status, "completed");
      assert.equal(timer.deadline, wakeAt);
    });
  });
});

Deno.test("versions: migrate is called, a missing migrate is refused, a changed source is recorded", async () => {
  const v1 = defineAgent({
    name: "ver",
    initialState: () => ({ count: 0 }),
    step: (s: { count: number }) => (s.count >= 4 ? s.count : recur({ count: s.count + 1 })),
  });
  const v2NoMigrate = defineAgent({
    name: "ver",
    version: 2,
    initialState: () => ({ n: 0 }),
    step: (s: { n: number }) => (s.n >= 4 ? s.n : recur({ n: s.n + 1 })),
  });
  const v2 = defineAgent({
    name: "ver",
    version: 2,
    initialState: () => ({ n: 0 }),
    migrate: (old, from) => {
      assert.equal(from, 1);
      return { n: (old as { count: number }).count * 10 };
    },
    step: (s: { n: number }) => (s.n >= 40 ? s.n : recur({ n: s.n + 1 })),
  });
  await withTempStore(async (store) => {
    await startRun(v1, { store, runId: "v", maxSteps: 2 });
    await assert.rejects(
      resumeRun(v2NoMigrate, { store, runId: "v" }),
      /checkpointed by ver version 1, but this module is version 2 and has no migrate\(\)/,
    );
    const other = defineAgent({ name: "other", initialState: () => ({}), step: () => 1 });
    await assert.rejects(
      resumeRun(other, { store, runId: "v" }),
      /belongs to agent ver, not other/,
    );
    const r = await resumeRun(v2, { store, runId: "v" });
    assert.equal(r.result, 40);
    assert.equal(r.steps, 2 + 20 + 1);
    assert.ok((await store.listEvents("v")).some((e) => e.kind === "migrated"));
    assert.ok((await verifyRun(store, "v")).ok);

    // Same version, different source hash: resumes with a warning in the history.
    await startRun(v1, { store, runId: "h", maxSteps: 1 });
    await store.updateRunIf("h", RUN_STATUSES, { agentHash: "feedfeedfeedfeed" });
    const logger = memoryLogger();
    assert.equal((await resumeRun(v1, { store, runId: "h", logger })).status, "completed");
    assert.ok(
      (await store.listEvents("h")).some((e) =>
        e.kind === "source-changed" && /feedfeedfeedfeed ->/.test(e.message)
      ),
    );
    assert.ok(logger.lines.some((l) => l.startsWith("warn")));
  });
});

Deno.test("compact policy keeps every Nth checkpoint plus the latest, and verify agrees", async () => {
  await withTempStore(async (store) => {
    await startRun(counter, {
      store,
      runId: "k",
      input: { target: 25 },
      checkpoint: { mode: "compact", every: 10 },
      maxSteps: 17,
    });
    let kept = (await store.listSteps("k")).filter((s) => s.state !== null).map((s) => s.step);
    assert.deepEqual(kept, [9, 16]); // checkpoints before steps 10 and 17
    assert.ok((await verifyRun(store, "k")).ok);
    await resumeRun(counter, { store, runId: "k" });
    kept = (await store.listSteps("k")).filter((s) => s.state !== null).map((s) => s.step);
    assert.deepEqual(kept, [9, 19, 24]); // 24: the checkpoint before the final step 25
    assert.equal((await store.listSteps("k")).length, 26); // history rows for every step
    assert.ok((await verifyRun(store, "k")).ok);
    await assert.rejects(
      forkRun(store, { runId: "k", fromStep: 5, newRunId: "f" }),
      /was not kept/,
    );
  });
});

Deno.test("fork starts a new run from a checkpoint (optionally edited); explain shows the lineage", async () => {
  await withTempStore(async (store) => {
    await startRun(counter, { store, runId: "src", input: { target: 6 } });
    await forkRun(store, { runId: "src", fromStep: 3, newRunId: "f1" });
    await forkRun(store, {
      runId: "src",
      fromStep: 2,
      newRunId: "f2",
      state: { current: 0, target: 1 },
    });
    await assert.rejects(
      forkRun(store, { runId: "src", fromStep: 99, newRunId: "f3" }),
      /out of range/,
    );
    await assert.rejects(
      forkRun(store, { runId: "src", fromStep: 1, newRunId: "f1" }),
      /already exists/,
    );
    const r1 = await resumeRun(counter, { store, runId: "f1" });
    assert.deepEqual(r1.result, { current: 6, steps: 6 });
    const r2 = await resumeRun(counter, { store, runId: "f2" });
    assert.deepEqual(r2.result, { current: 1, steps: 3 });
    const e = await explainRun(store, "f1");
    assert.deepEqual(e.forkOf, { runId: "src", step: 3 });
    assert.match(formatExplain(e), /forked from run src at step 3/);
    assert.ok((await verifyRun(store, "f1")).ok);
    assert.ok((await verifyRun(store, "f2")).ok);
  });
});

const childAgent = defineAgent({
  name: "child",
  initialState: (input: { n: number }) => ({ left: input.n, waitFor: input.n === 2 }),
  async step(state, ctx) {
    if (state.waitFor) {
      await ctx.waitForSignal("go");
      return recur({ ...state, waitFor: false });
    }
    if (state.left === 0) return `child ${ctx.runId} done`;
    return recur({ ...state, left: state.left - 1 });
  },
});

const parentAgent = defineAgent({
  name: "parent",
  initialState: () => ({ results: [] as string[] }),
  async step(state, ctx) {
    if (state.results.length === 3) return state.results;
    const i = state.results.length + 1;
    const r = await ctx.child(childAgent, { runId: `${ctx.runId}/child-${i}`, input: { n: i } });
    return recur({ results: [...state.results, r] });
  },
});

Deno.test("children: durable child runs, the parent waits for a waiting child, explain shows the tree", async () => {
  await withTempStore(async (store) => {
    const first = await startRun(parentAgent, { store, runId: "p" });
    assert.equal(first.status, "waiting");
    assert.equal(first.waitingFor, "child:p/child-2");
    assert.equal((await store.getRun("p/child-2"))!.status, "waiting");
    assert.equal((await store.getRun("p/child-1"))!.parentRunId, "p");
    assert.equal((await resumeRun(parentAgent, { store, runId: "p" })).status, "waiting");
    await sendSignal(store, "p/child-2", "go");
    const done = await resumeRun(parentAgent, { store, runId: "p" });
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, [
      "child p/child-1 done",
      "child p/child-2 done",
      "child p/child-3 done",
    ]);
    const e = await explainRun(store, "p");
    assert.deepEqual(e.children.map((c) => `${c.runId}:${c.status}`), [
      "p/child-1:completed",
      "p/child-2:completed",
      "p/child-3:completed",
    ]);
    assert.match(formatExplain(e), /└─ p\/child-3 \(child\) completed/);
    const deleted = await deleteRun(store, "p");
    assert.equal(deleted.deleted.length, 4);
    assert.equal(await store.getRun("p/child-1"), undefined);
  });
});

Deno.test("cancelling a parent cancels its unfinished children", async () => {
  await withTempStore(async (store) => {
    await startRun(parentAgent, { store, runId: "p" });
    const ids = await cancelRun(store, "p", "no longer needed");
    assert.deepEqual(ids.sort(), ["p", "p/child-2"]);
    assert.equal((await store.getRun("p/child-1"))!.status, "completed");
    await assert.rejects(resumeRun(parentAgent, { store, runId: "p" }), /was cancelled/);
    await assert.rejects(cancelRun(store, "p"), /already cancelled/);
  });
});

Deno.test("cancelling a run that another invocation is advancing stops it at its next commit", async () => {
  const slow = defineAgent({
    name: "slow",
    initialState: () => ({ n: 0 }),
    async step(state) {
      await new Promise((r) => setTimeout(r, 5));
      return state.n >= 1000 ? state.n : recur({ n: state.n + 1 });
    },
  });
  await withTempStore(async (store) => {
    const running = startRun(slow, { store, runId: "s" });
    await waitFor("step 2 committed", async () => ((await store.lastStep("s"))?.step ?? -1) >= 2);
    await cancelRun(store, "s");
    const r = await running;
    assert.equal(r.status, "cancelled");
    assert.ok(r.steps < 1000);
    assert.equal((await store.getRun("s"))!.status, "cancelled");
  });
});

Deno.test("an aborted abortSignal interrupts the run: paused, resumable, nothing half-committed", async () => {
  const ac = new AbortController();
  const slow = defineAgent({
    name: "slow",
    initialState: () => ({ n: 0 }),
    async step(state, ctx) {
      await ctx.callTool("noop", { n: state.n }, () => state.n);
      // Interrupted in the middle of step 3, after its tool call was recorded.
      if (state.n === 3 && !ac.signal.aborted) ac.abort();
      return state.n >= 20 ? state.n : recur({ n: state.n + 1 });
    },
  });
  await withTempStore(async (store) => {
    const r = await startRun(slow, { store, runId: "i", abortSignal: ac.signal });
    assert.equal(r.status, "paused");
    assert.equal((await store.getRun("i"))!.leaseOwner, null);
    assert.equal((await store.lastStep("i"))!.step, 2, "step 3 was not committed");
    const done = await resumeRun(slow, { store, runId: "i" });
    assert.equal(done.result, 20);
    assert.ok((await verifyRun(store, "i")).ok);
  });
});

Deno.test("a lease held by a live owner makes a second resume fail fast; an expired one is taken over", async () => {
  await withTempStore(async (store) => {
    await startRun(counter, { store, runId: "l", maxSteps: 1 });
    const set = (owner: string, expires: number) =>
      store.updateRunIf("l", RUN_STATUSES, {
        status: "running",
        leaseOwner: owner,
        leaseExpires: expires,
      });
    await set("elsewhere:1:abc", Date.now() + 60_000);
    await assert.rejects(
      resumeRun(counter, { store, runId: "l" }),
      /being advanced by another process \(lease owner elsewhere:1:abc/,
    );
    await set("elsewhere:1:abc", Date.now() - 1);
    const r = await resumeRun(counter, { store, runId: "l" });
    assert.equal(r.status, "completed");
    assert.ok((await store.listEvents("l")).some((e) => e.kind === "lease-takeover"));
  });
});

Deno.test("prune deletes runs that ended before a date; list pages", async () => {
  await withTempStore(async (store) => {
    for (const id of ["a", "b", "c"]) {
      await startRun(counter, { store, runId: id, input: { target: 1 } });
    }
    await startRun(counter, { store, runId: "open", maxSteps: 1 });
    assert.equal((await store.listRuns({ limit: 2 })).length, 2);
    assert.equal((await store.listRuns({ limit: 2, offset: 2 })).length, 2);
    assert.deepEqual(
      (await pruneRuns(store, { endedBefore: new Date(Date.now() - 60_000) })).deleted,
      [],
    );
    const gone = await pruneRuns(store, { endedBefore: new Date(Date.now() + 1000) });
    assert.deepEqual(gone.deleted.sort(), ["a", "b", "c"]);
    assert.deepEqual((await store.listRuns()).map((r) => r.runId), ["open"]);
    assert.equal((await store.listSteps("a")).length, 0);
    await assert.rejects(
      pruneRuns(store, { endedBefore: new Date(), statuses: ["paused"] }),
      /only removes finished runs/,
    );
  });
});

Deno.test("observer sees run start, steps with states before/after, tool calls and run end", async () => {
  const agent = defineAgent({
    name: "obs",
    initialState: () => ({ n: 0 }),
    async step(state, ctx) {
      const doubled = await ctx.callTool("double", { n: state.n }, (a) => a.n * 2);
      ctx.log.info("doubled", { doubled });
      return state.n >= 2 ? doubled : recur({ n: state.n + 1 });
    },
  });
  await withTempStore(async (store) => {
    const seen: string[] = [];
    const observer: RunObserver = {
      onRunStart: (i) => seen.push(`start ${i.resumed} ${i.step}`),
      onStepStart: (i) => seen.push(`step ${i.step}`),
      onToolCall: (i) =>
        seen.push(`tool ${i.name} ${JSON.stringify(i.args)} -> ${i.result} replayed=${i.replayed}`),
      onLog: (i) => seen.push(`log ${i.message}`),
      onStepEnd: (i) =>
        seen.push(
          `end ${JSON.stringify(i.stateBefore)} -> ${JSON.stringify(i.stateAfter ?? i.result)}`,
        ),
      onRunEnd: (i) => seen.push(`run ${i.status} ${i.steps}`),
    };
    await startRun(agent, { store, runId: "o", observer, logger: memoryLogger() });
    assert.deepEqual(seen, [
      "start false 0",
      "step 0",
      'tool double {"n":0} -> 0 replayed=false',
      "log doubled",
      'end {"n":0} -> {"n":1}',
      "step 1",
      'tool double {"n":1} -> 2 replayed=false',
      "log doubled",
      'end {"n":1} -> {"n":2}',
      "step 2",
      'tool double {"n":2} -> 4 replayed=false',
      "log doubled",
      'end {"n":2} -> 4',
      "run completed 3",
    ]);
  });
});

Deno.test("the names before issue 12 keep working: stepIndex, signal, category, before, fromStep", async () => {
  const seen: string[] = [];
  const agent = defineAgent({
    name: "old-names",
    retry: { maxAttempts: 2, initialDelayMs: 1 },
    initialState: () => ({ n: 0 }),
    async step(state, ctx) {
      assert.equal(ctx.stepIndex, ctx.step);
      assert.equal(ctx.signal, ctx.abortSignal);
      await ctx.callTool("t", { n: state.n }, (_a, info) => {
        assert.equal(info.signal, info.abortSignal);
        return 1;
      });
      if (state.n === 0 && ctx.attempt === 1) {
        throw new LoomError("once", { category: "transient" });
      }
      return state.n >= 1 ? "done" : recur({ n: state.n + 1 });
    },
  });
  const observer: RunObserver = {
    onRunStart: (i) => seen.push(`start ${i.stepIndex}`),
    onStepStart: (i) => seen.push(`step ${i.stepIndex}=${i.step}`),
    onToolCall: (i) => seen.push(`tool ${i.stepIndex}`),
    onAttemptError: (i) => seen.push(`failed ${i.stepIndex} ${i.category}=${i.errorCategory}`),
  };
  await withTempStore(async (store) => {
    const ac = new AbortController();
    const r = await startRun(agent, { store, runId: "o", observer, signal: ac.signal });
    assert.equal(r.result, "done");
    assert.deepEqual(seen, [
      "start 0",
      "step 0=0",
      "tool 0",
      "failed 0 transient=transient",
      "step 0=0",
      "tool 0",
      "step 1=1",
      "tool 1",
    ]);
    const fork = await forkRun(store, { runId: "o", fromStep: 1, newRunId: "f" });
    assert.equal(fork.firstStep, 1);
    assert.deepEqual(
      (await pruneRuns(store, { before: new Date(Date.now() + 1000) })).deleted,
      ["o"],
    );
  });
});

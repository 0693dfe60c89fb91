// Writes a database with today's schema (version 1): one run of each shape the store holds.
import { defineAgent, forkRun, openStore, recur, sendSignal, startRun, enqueueRun } from "./runner/mod.ts";
import counter from "./examples/counter_agent.ts";
import approval from "./examples/approval_agent.ts";
import { PostgresStore } from "./runner/store_postgres.ts";

const flaky = defineAgent({
  name: "flaky",
  retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
  initialState: () => ({ n: 0 }),
  async step(state, ctx) {
    await ctx.callTool("fetch", { n: state.n }, () => ({ page: "ok ünïcode" }), {
      retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    });
    if (state.n >= 1) throw Object.assign(new Error("upstream down"), { category: "transient" });
    return recur({ n: state.n + 1 });
  },
});
const parent = defineAgent({
  name: "parent",
  initialState: () => ({ done: false }),
  async step(state, ctx) {
    if (state.done) return "parent done";
    await ctx.child(counter, { runId: "child-1", input: { target: 2 } });
    return recur({ done: true });
  },
});

async function fill(store: any) {
  await startRun(counter, { store, runId: "counter-full", input: { target: 5 } });
  await startRun(counter, { store, runId: "counter-compact", input: { target: 12 }, checkpoint: { mode: "compact", every: 5 } } as any);
  await startRun(approval, { store, runId: "approval-waiting" });
  await startRun(approval, { store, runId: "approval-done" });
  await sendSignal(store, "approval-done", "approve", { by: "ann" });
  await startRun(approval, { store, runId: "approval-signal-pending" });
  await sendSignal(store, "approval-signal-pending", "approve", { by: "bo" });
  const { resumeRun } = await import("./runner/mod.ts");
  await resumeRun(approval, { store, runId: "approval-done" });
  await startRun(flaky, { store, runId: "flaky-failed" });
  await startRun(parent, { store, runId: "parent-1" });
  await forkRun(store, { runId: "counter-full", fromStep: 3, newRunId: "counter-fork" });
  await enqueueRun(counter, { store, runId: "counter-queued", input: { target: 3 } });
  await startRun(counter, { store, runId: "counter-paused", input: { target: 50 }, maxSteps: 4 } as any);
}
const quiet = { info() {}, warn() {}, error() {} };
const target = Deno.args[0];
if (target.startsWith("postgres")) {
  const store = await PostgresStore.open(target, { schema: Deno.args[1] });
  await fill(store);
  await store.close();
} else {
  const store = openStore(target);
  await fill(store);
  store.close();
}
console.log("ok");

import assert from "node:assert/strict";
import { resumeRun, startRun } from "../mod.ts";
import { POSTGRES_BACKEND } from "../testing/_stores.ts";
import { waitFor } from "../testing/wait.ts";
import { startStudio, withStudioStore } from "./_test_util.ts";
import { counter, gate, waiter } from "./testdata/studio_agents.ts";

Deno.test("steering: signal, approve and deny a loom-ops gate, cancel", async () => {
  await withStudioStore(async (store) => {
    await startRun(waiter, { store, runId: "w" });
    await startRun(gate, { store, runId: "g1" });
    await startRun(gate, { store, runId: "g2" });
    await startRun(gate, { store, runId: "g3" });
    const { server, post } = await startStudio(store);
    try {
      const sent = await post("/api/runs/w/signal", { name: "go", data: { n: 7 } });
      assert.equal(sent.status, 200);
      assert.deepEqual(await sent.json(), { seq: 1 });
      const noName = await post("/api/runs/w/signal", { data: 1 });
      assert.equal(noName.status, 400);
      assert.deepEqual(await noName.json(), {
        error: 'the body needs "name" as a non-empty string',
      });
      assert.deepEqual((await resumeRun(waiter, { store, runId: "w" })).result, { got: { n: 7 } });
      const late = await post("/api/runs/w/signal", { name: "go" });
      assert.equal(late.status, 409);
      assert.deepEqual(await late.json(), {
        error: "run w is completed; it takes no more signals",
      });

      const approved = await post("/api/runs/g1/approve", {
        decision: "approve",
        by: "ann",
        comment: "looks fine",
      });
      assert.deepEqual(await approved.json(), { seq: 1 });
      const [signal] = store.listSignals("g1");
      assert.equal(signal.name, "approval:restart");
      const payload = JSON.parse(signal.data);
      assert.equal(payload.via, "studio");
      assert.ok(!Number.isNaN(Date.parse(payload.at)));
      const g1 = await resumeRun(gate, { store, runId: "g1" });
      assert.deepEqual(g1.result, { decision: "approve", by: "ann", comment: "looks fine" });

      await post("/api/runs/g2/approve", { decision: "deny", by: "ann" });
      const g2 = await resumeRun(gate, { store, runId: "g2" });
      assert.deepEqual(g2.result, { decision: "deny", by: "ann", comment: null });

      const notAnApprover = await post("/api/runs/g3/approve", { decision: "approve", by: "bob" });
      assert.equal(notAnApprover.status, 409);
      assert.deepEqual(await notAnApprover.json(), {
        error: "bob may not decide step restart; its approvers are ann",
      });
      assert.equal(store.listSignals("g3").length, 0);
      const badDecision = await post("/api/runs/g3/approve", { decision: "maybe", by: "ann" });
      assert.equal(badDecision.status, 400);
      await badDecision.body?.cancel();
      const notAGate = await post("/api/runs/g1/approve", { decision: "approve", by: "ann" });
      assert.equal(notAGate.status, 409);
      assert.deepEqual(await notAGate.json(), {
        error: "run g1 is not waiting at an approval gate",
      });

      const cancelled = await post("/api/runs/g3/cancel", {});
      assert.deepEqual(await cancelled.json(), { status: "cancelled" });
      assert.equal(store.getRun("g3")!.status, "cancelled");
      const again = await post("/api/runs/g3/cancel", {});
      assert.equal(again.status, 409);
      await again.body?.cancel();
      const unknown = await post("/api/runs/nope/cancel", {});
      assert.equal(unknown.status, 404);
      await unknown.body?.cancel();
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("steering: retry a failed run, fork it from a step with an edited state, resume needs a worker", async () => {
  await withStudioStore(async (store) => {
    const failed = await startRun(counter, { store, runId: "c", input: { target: 3, failAt: 2 } });
    assert.equal(failed.status, "failed");
    const { server, post } = await startStudio(store);
    try {
      const resume = await post("/api/runs/c/resume", {});
      assert.equal(resume.status, 409);
      assert.match((await resume.json()).error, /^no worker is attached to this studio/);

      const retried = await post("/api/runs/c/retry", {});
      assert.deepEqual(await retried.json(), { status: "paused" });
      assert.equal(store.getRun("c")!.status, "paused");

      const edited = { n: 2, target: 3, failAt: 2, fixed: true };
      const forked = await post("/api/runs/c/fork", { step: 2, state: edited });
      assert.equal(forked.status, 200);
      const { runId } = await forked.json();
      assert.match(runId, /^c-fork-[0-9a-f]{8}$/);
      const fork = store.getRun(runId)!;
      assert.equal(fork.status, "paused");
      assert.equal(fork.forkOfRunId, "c");
      assert.deepEqual(JSON.parse(fork.initialState), edited);
      assert.deepEqual((await resumeRun(counter, { store, runId })).result, { n: 3 });

      const stored = await post("/api/runs/c/fork", { step: 1 });
      const plain = store.getRun((await stored.json()).runId)!;
      assert.deepEqual(JSON.parse(plain.initialState), {
        n: 1,
        target: 3,
        failAt: 2,
        fixed: false,
      });

      const invalid = await post("/api/runs/c/fork", '{"step": 1, "state": {');
      assert.equal(invalid.status, 400);
      assert.deepEqual(await invalid.json(), { error: "the request body is not valid JSON" });
      const noStep = await post("/api/runs/c/fork", { state: {} });
      assert.equal(noStep.status, 400);
      await noStep.body?.cancel();
      const outOfRange = await post("/api/runs/c/fork", { step: 9 });
      assert.equal(outOfRange.status, 409);
      assert.match((await outOfRange.json()).error, /out of range/);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("steering with the embedded worker (PostgreSQL): an approval and a fork take effect without a CLI", async () => {
  const t = await POSTGRES_BACKEND.open();
  try {
    const store = t.store;
    await startRun(gate, { store, runId: "pg-gate" });
    await startRun(counter, { store, runId: "pg-c", input: { target: 4, failAt: 2 } });
    const { server, post, get } = await startStudio(store, { agents: [gate, counter] });
    try {
      assert.equal((await get("/api/info")).body.worker, true);
      await post("/api/runs/pg-gate/approve", { decision: "approve", by: "ann" });
      await waitFor(
        "the worker to finish the approved run",
        async () => (await store.getRun("pg-gate"))?.status === "completed",
      );
      const forked = await post("/api/runs/pg-c/fork", {
        step: 2,
        state: { n: 2, target: 4, failAt: 2, fixed: true },
      });
      const { runId } = await forked.json();
      await waitFor(
        "the worker to finish the fork",
        async () => (await store.getRun(runId))?.status === "completed",
      );
      assert.deepEqual(JSON.parse((await store.getRun(runId))!.result!), { n: 4 });
    } finally {
      await server.shutdown();
    }
  } finally {
    await t.cleanup();
  }
});

Deno.test({
  name: "steering with the embedded worker (SQLite): a signal and a fork take effect without a CLI",
  async fn() {
    await withStudioStore(async (store) => {
      await startRun(waiter, { store, runId: "sq-w" });
      await startRun(counter, { store, runId: "sq-c", input: { target: 4, failAt: 2 } });
      const { server, post } = await startStudio(store, { agents: [waiter, counter] });
      try {
        await post("/api/runs/sq-w/signal", { name: "go", data: "now" });
        await waitFor(
          "the worker to finish the signalled run",
          () => store.getRun("sq-w")?.status === "completed",
        );
        const forked = await post("/api/runs/sq-c/fork", {
          step: 2,
          state: { n: 2, target: 4, failAt: 2, fixed: true },
        });
        const { runId } = await forked.json();
        await waitFor(
          "the worker to finish the fork",
          () => store.getRun(runId)?.status === "completed",
        );
      } finally {
        await server.shutdown();
      }
    });
  },
});

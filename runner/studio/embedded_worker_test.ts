import assert from "node:assert/strict";
import { startRun } from "../mod.ts";
import { runRecord } from "../_test_util.ts";
import { withStudioStore } from "./_test_util.ts";
import { EmbeddedWorker } from "./embedded_worker.ts";
import { counter } from "./testdata/studio_agents.ts";
import type { Agent } from "../engine/agent.ts";

Deno.test("embedded worker: advancing a run another advancer already ended says nothing; a real failure is told", async () => {
  await withStudioStore(async (store) => {
    // The worker, notified of a new fork, can finish it before advance() reads it.
    assert.equal((await startRun(counter, { store, runId: "done" })).status, "completed");
    store.createRun(runRecord("old", { agentName: "counter", agentVersion: 99 }));
    const errors: string[] = [];
    const worker = new EmbeddedWorker(
      store,
      [counter] as Agent<unknown, unknown, unknown>[],
      () => {},
      (m) => errors.push(m),
    );
    try {
      worker.advance(store.getRun("done")!);
      worker.advance(store.getRun("old")!);
    } finally {
      await worker.close(); // waits for both advances
    }
    assert.deepEqual(errors.filter((m) => m.includes("run done")), []);
    assert.ok(
      errors.some((m) => /^resuming run old failed: .*version 99/.test(m)),
      errors.join("\n"),
    );
  });
});

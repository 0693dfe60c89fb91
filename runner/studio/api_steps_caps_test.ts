import assert from "node:assert/strict";
import { defineAgent, recur, startRun } from "../mod.ts";
import { STEP_CAPS } from "./api_run.ts";
import { startStudio, withStudioStore } from "./_test_util.ts";

// Step 0 adds 250 items (more changes than a diff lists); step 1 adds a blob over the state cap.
const blob = "ü".repeat(40 * 1024); // 80 KiB of UTF-8
type S = { items: number[]; blob: string };
const big = defineAgent({
  name: "big",
  initialState: () => ({ items: [], blob: "" }) as S,
  step: (s: S, ctx) =>
    ctx.step === 0
      ? recur({ ...s, items: Array.from({ length: 250 }, (_, i) => i) })
      : ctx.step === 1
      ? recur({ ...s, blob })
      : { done: true },
});

Deno.test("steps API: a state over the cap is a marker, its whole state has its own route, diffs are cut", async () => {
  await withStudioStore(async (store) => {
    assert.equal((await startRun(big, { store, runId: "big" })).status, "completed");
    const { server, origin, get } = await startStudio(store);
    try {
      const { status, body } = await get("/api/runs/big/steps");
      assert.equal(status, 200);
      const [s0, s1, s2] = body.steps;
      assert.equal(s0.stateOmitted, undefined);
      assert.equal(s0.state.items.length, 250);
      assert.equal(s0.diff.length, STEP_CAPS.maxDiffChanges);
      assert.equal(s0.diffTruncated, true);
      assert.deepEqual(s0.diff[199], { path: "items.199", op: "add", after: 199 });

      const stored = JSON.stringify({ items: s0.state.items, blob });
      const bytes = new TextEncoder().encode(stored).length;
      assert(bytes > STEP_CAPS.maxStateBytes);
      assert.equal(s1.stateOmitted, true);
      assert.deepEqual(s1.state, { $loom: "state omitted", bytes });
      const blobBytes = new TextEncoder().encode(JSON.stringify(blob)).length;
      assert.deepEqual(s1.diff, [{
        path: "blob",
        op: "replace",
        before: "",
        after: { $loom: "state omitted", bytes: blobBytes },
      }]);
      assert.equal(s1.diffTruncated, undefined);
      assert.deepEqual(s2.state, { done: true });
      assert.equal(s2.stateOmitted, undefined);

      // The whole state: the stored JSON, as is.
      const res = await fetch(`${origin}/api/runs/big/steps/1/state`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^application\/json/);
      assert.deepEqual(await res.json(), { items: s0.state.items, blob });
      assert.deepEqual((await get("/api/runs/big/steps/2/state")).body, { done: true });
      const missing = await get("/api/runs/big/steps/9/state");
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, `run "big" has no committed step 9`);
      assert.equal((await get("/api/runs/big/steps/x/state")).status, 404);
      assert.equal((await get("/api/runs/nope/steps/0/state")).status, 404);
    } finally {
      await server.shutdown();
    }
  });
});

import assert from "node:assert/strict";
import { startRun } from "../mod.ts";
import { runRecord, T0 } from "../_test_util.ts";
import { STUDIO_CSP } from "./security.ts";
import { STORE_BACKENDS } from "../testing/_stores.ts";
import { startStudio, withStudioStore } from "./_test_util.ts";
import { counter, gate } from "./testdata/studio_agents.ts";

const RUN_ROW_KEYS = [
  "agentName",
  "children",
  "createdAt",
  "endedAt",
  "error",
  "forkOfRunId",
  "forkOfStep",
  "lastStep",
  "parentRunId",
  "runId",
  "status",
  "updatedAt",
  "waiting",
].sort();

Deno.test("every GET route of the studio answers its documented shape", async () => {
  await withStudioStore(async (store) => {
    assert.equal(
      (await startRun(counter, { store, runId: "done", input: { target: 3 } })).status,
      "completed",
    );
    assert.equal(
      (await startRun(counter, { store, runId: "broke", input: { failAt: 1 } })).status,
      "failed",
    );
    assert.equal((await startRun(gate, { store, runId: "gated" })).status, "waiting");
    store.createRun(runRecord("kid", { parentRunId: "done", parentStep: 1, agentName: "counter" }));
    const { server, origin, get } = await startStudio(store);
    try {
      const info = await get("/api/info");
      assert.deepEqual(Object.keys(info.body).sort(), [
        "agents",
        "location",
        "readOnly",
        "version",
        "worker",
      ]);
      assert.equal(info.body.worker, false);

      const runs = await get("/api/runs");
      assert.equal(runs.status, 200);
      assert.deepEqual(Object.keys(runs.body).sort(), ["agents", "counts", "runs", "total"]);
      assert.equal(runs.body.total, 3, "top-level runs only");
      assert.deepEqual(runs.body.counts, { completed: 1, failed: 1, waiting: 1 });
      assert.deepEqual(runs.body.agents, ["counter", "gate"]);
      for (const row of runs.body.runs) assert.deepEqual(Object.keys(row).sort(), RUN_ROW_KEYS);
      const done = runs.body.runs.find((r: { runId: string }) => r.runId === "done");
      assert.equal(done.lastStep, 3);
      assert.equal(done.children, 1);
      const gated = runs.body.runs.find((r: { runId: string }) => r.runId === "gated");
      assert.equal(gated.waiting, "waiting for signal approval:restart");
      const kids = await get("/api/runs?parent=done");
      assert.deepEqual(kids.body.runs.map((r: { runId: string }) => r.runId), ["kid"]);

      const detail = await get("/api/runs/gated");
      assert.deepEqual(Object.keys(detail.body).sort(), [
        "children",
        "events",
        "gate",
        "processes",
        "run",
        "waitingFor",
      ]);
      assert.deepEqual(detail.body.gate, {
        signal: "approval:restart",
        step: "restart",
        approvers: ["ann"],
        reason: "production",
        argv: ["svcctl", "restart", "api"],
      });
      assert.deepEqual(detail.body.waitingFor, {
        kind: "signal",
        name: "approval:restart",
        deadline: null,
      });
      assert.equal(detail.body.run.waitInfo.kind, "signal");
      assert.equal(detail.body.processes.length, 1);
      assert.equal(detail.body.processes[0].how, "started");
      assert.equal(detail.body.processes[0].ended, "waiting");

      const steps = await get("/api/runs/done/steps?from=1&limit=2");
      assert.equal(steps.body.total, 4);
      assert.deepEqual(steps.body.steps.map((s: { step: number }) => s.step), [1, 2]);
      assert.deepEqual(steps.body.steps[0].diff, [{
        path: "n",
        op: "replace",
        before: 1,
        after: 2,
      }]);
      assert.deepEqual(steps.body.steps[0].state, { n: 2, target: 3, failAt: -1, fixed: false });
      const last = await get("/api/runs/done/steps?from=3");
      assert.deepEqual(last.body.steps[0].state, { n: 3 }, "the final step's state is the result");

      const calls = await get("/api/runs/gated/calls");
      assert.equal(calls.body.calls[0].kind, "signal");
      const failed = await get("/api/runs/broke/failed-attempts");
      assert.equal(failed.body.failedAttempts[0].errorCategory, "business");
      const signals = await get("/api/runs/gated/signals");
      assert.deepEqual(signals.body, { signals: [] });

      const unknown = await get("/api/runs/nope");
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.body, { error: 'no run "nope" in this store' });
      const bad = await get("/api/runs/%E0%A4%A");
      assert.equal(bad.status, 400);
      const badStatus = await get("/api/runs?status=sleepy");
      assert.equal(badStatus.status, 400);
      const noRoute = await get("/api/nothing");
      assert.equal(noRoute.status, 404);

      for (const path of ["/", "/runs/done", "/compare?a=done&b=broke"]) {
        const page = await fetch(`${origin}${path}`);
        assert.equal(page.status, 200, path);
        assert.equal(page.headers.get("content-security-policy"), STUDIO_CSP);
        assert.equal(page.headers.get("x-content-type-options"), "nosniff");
        assert.equal(page.headers.get("referrer-policy"), "no-referrer");
        assert.match(await page.text(), /<meta name="loom-studio-base" content="">/);
      }
      const missing = await fetch(`${origin}/runs/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      for (const path of ["/runs/done/trace", "/compare/trace?a=done&b=broke"]) {
        const page = await fetch(`${origin}${path}`);
        assert.equal(page.status, 200, path);
        assert.match(page.headers.get("content-security-policy")!, /frame-ancestors 'self'/);
        assert.match(await page.text(), /^<!doctype html>/i);
      }
      const asset = await fetch(`${origin}/assets/studio.js`);
      assert.match(asset.headers.get("content-type")!, /javascript/);
      await asset.body?.cancel();
      // The JSON links of the trace server `serve` was before still work.
      const legacy = await get("/runs/done/trace.json");
      assert.equal(legacy.body.format, "loom-trace/1");
      const head = await fetch(`${origin}/api/runs`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      const headEvents = await fetch(`${origin}/api/events`, { method: "HEAD" });
      assert.match(headEvents.headers.get("content-type")!, /^text\/event-stream/);
      assert.equal(await headEvents.text(), "");
    } finally {
      await server.shutdown();
    }
  });
});

for (const backend of STORE_BACKENDS) {
  Deno.test(`runs list (${backend.name}): paging, filters and counts over a few hundred seeded runs`, async () => {
    const t = await backend.open();
    const store = t.store;
    try {
      const statuses = ["completed", "failed", "waiting", "paused"] as const;
      for (let i = 0; i < 300; i++) {
        await store.createRun(runRecord(`run-${String(i).padStart(3, "0")}`, {
          agentName: i % 3 === 0 ? "alpha" : "beta",
          status: statuses[i % 4],
          updatedAt: T0 + i,
          endedAt: i % 4 < 2 ? T0 + i : null,
        }));
      }
      for (let i = 0; i < 5; i++) {
        await store.createRun(
          runRecord(`child-${i}`, { parentRunId: "run-000", updatedAt: T0 + 1000 + i }),
        );
      }
      const { server, get } = await startStudio(store);
      try {
        const all = await get("/api/runs?limit=50");
        assert.equal(all.body.total, 300);
        assert.deepEqual(all.body.counts, { completed: 75, failed: 75, waiting: 75, paused: 75 });
        assert.equal(all.body.runs.length, 50);
        assert.equal(all.body.runs[0].runId, "run-299", "last changed first");
        const page3 = await get("/api/runs?limit=50&offset=100");
        assert.equal(page3.body.runs[0].runId, "run-199");
        const pages = [];
        for (let offset = 0; offset < 300; offset += 100) {
          pages.push(...(await get(`/api/runs?limit=100&offset=${offset}`)).body.runs);
        }
        assert.equal(
          new Set(pages.map((r: { runId: string }) => r.runId)).size,
          300,
          "no run twice",
        );

        const failedAlpha = await get("/api/runs?status=failed&agent=alpha&limit=500");
        const expected = [...Array(300).keys()].filter((i) => i % 4 === 1 && i % 3 === 0).length;
        assert.equal(failedAlpha.body.total, expected);
        assert.equal(failedAlpha.body.runs.length, expected);
        assert.ok(
          failedAlpha.body.runs.every((r: { status: string; agentName: string }) =>
            r.status === "failed" && r.agentName === "alpha"
          ),
        );
        const alphaCounts = failedAlpha.body.counts;
        assert.equal(Object.values(alphaCounts).reduce((a, b) => Number(a) + Number(b), 0), 100);

        const prefix = await get("/api/runs?q=run-01");
        assert.equal(prefix.body.total, 10);
        const byAgent = await get("/api/runs?q=lph");
        assert.equal(byAgent.body.total, 100);
        const children = await get("/api/runs?parent=run-000");
        assert.equal(children.body.total, 5);
        const root = all.body.runs.find((r: { runId: string }) => r.runId === "run-000") ??
          (await get("/api/runs?q=run-000")).body.runs[0];
        assert.equal(root.children, 5);
        const tooMany = await get("/api/runs?limit=501");
        assert.equal(tooMany.status, 400);
      } finally {
        await server.shutdown();
      }
    } finally {
      await t.cleanup();
    }
  });
}

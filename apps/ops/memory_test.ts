import assert from "node:assert/strict";
import { ftsQuery, Memory } from "./memory.ts";
import { openOpsDb } from "./ops_db.ts";

Deno.test("memory notes are found by full-text search, best match first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-mem-" });
  try {
    const db = openOpsDb(`${dir}/m.ops`);
    const mem = new Memory(db);
    assert.equal(
      mem.note({
        runId: "inc-1",
        incident: "API latency p99 high after deploy",
        actions: "playbook: API latency; svcctl restart api",
        outcome: "completed",
      }),
      true,
    );
    assert.equal(
      mem.note({
        runId: "inc-2",
        incident: "disk full on /var",
        actions: "playbook: Disk full",
        outcome: "completed",
      }),
      true,
    );
    assert.equal(mem.note({ runId: "inc-1", incident: "dup", actions: "", outcome: "" }), false);
    const hits = mem.search("incident: API latency is terrible");
    assert.equal(hits[0].runId, "inc-1");
    assert.equal(hits.length, 1);
    assert.equal(mem.search("disk")[0].runId, "inc-2");
    assert.deepEqual(mem.search("kubernetes"), []);
    assert.deepEqual(mem.search('" OR * NEAR('), [], "query syntax in user text is neutralised");
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ftsQuery quotes words", () => {
  assert.equal(ftsQuery('API "latency" OR'), '"api" OR "latency" OR "or"');
  assert.equal(ftsQuery("!"), undefined);
});

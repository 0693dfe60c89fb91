import assert from "node:assert/strict";
import { recur } from "@loom/tailcalls";
import { defineAgent } from "../engine/agent.ts";
import { startRun } from "../engine/engine.ts";
import { openStore } from "../store/sqlite.ts";
import { verifyRun } from "./verify.ts";

type Notes = { notes: string[]; n: number };

/** A state that gains 4 KB per step: 1,200 steps hold ~2.9 GB of state text in all. */
const growing = defineAgent({
  name: "growing",
  immutableState: true,
  initialState: (input: { n: number }): Notes => ({ notes: [], n: input.n }),
  step: (s: Notes, ctx) =>
    s.notes.length >= s.n
      ? { count: s.notes.length }
      : recur({ ...s, notes: [...s.notes, `${ctx.step} ${"x".repeat(4096)}`] }),
});

Deno.test("verify reads a run whose state grew to megabytes in pages of bounded size", async () => {
  const dir = await Deno.makeTempDir();
  const store = openStore(`${dir}/runs.sqlite`);
  try {
    await startRun(growing, { store, runId: "g", input: { n: 1200 } });
    // Every page verify asks for, with the state text it held.
    const pages: { rows: number; chars: number }[] = [];
    const listSteps = store.listSteps.bind(store);
    store.listSteps = (runId, page) => {
      const rows = listSteps(runId, page);
      pages.push({
        rows: rows.length,
        chars: rows.reduce((n, r) => n + (r.state?.length ?? 0), 0),
      });
      return rows;
    };
    const report = await verifyRun(store, "g");
    assert.deepEqual(report.problems, []);
    assert.equal(pages.reduce((n, p) => n + p.rows, 0), 1201, "every step is read once");
    const largestState = 1200 * (4096 + 8);
    for (const p of pages) {
      assert.ok(p.chars <= 32 * 1024 * 1024 + largestState, `a page held ${p.chars} characters`);
    }
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

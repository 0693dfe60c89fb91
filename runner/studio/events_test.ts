import assert from "node:assert/strict";
import { openStore, sendSignal, startRun } from "../mod.ts";
import { POSTGRES_BACKEND } from "../testing/_stores.ts";
import { waitFor } from "../testing/wait.ts";
import { startStudio, withStudioStore } from "./_test_util.ts";
import type { RunRow } from "./runs_query.ts";
import { waiter } from "./testdata/studio_agents.ts";

/** Reads an SSE stream and keeps the `runs` events' rows as they arrive. */
function follow(body: ReadableStream<Uint8Array>) {
  const rows: RunRow[] = [];
  const comments: string[] = [];
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(":")) comments.push(block);
        const data = /^event: runs\ndata: (.*)$/m.exec(block)?.[1];
        if (data) rows.push(...JSON.parse(data).changed);
      }
    }
  })();
  return { rows, comments, done, cancel: () => reader.cancel() };
}

Deno.test("live events: a new run and its status change arrive on the stream", async () => {
  await withStudioStore(async (store, path) => {
    const { server, origin } = await startStudio(store, { pollMs: 20 });
    const res = await fetch(`${origin}/api/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const events = follow(res.body!);
    // Another connection (as another process would) writes the run: data_version tells.
    const other = openStore(path);
    try {
      await waitFor("the stream's opening comment", () => events.comments.length > 0);
      assert.equal((await startRun(waiter, { store: other, runId: "w1" })).status, "waiting");
      await waitFor(
        "the new waiting run on the stream",
        () => events.rows.some((r) => r.runId === "w1" && r.status === "waiting"),
      );
      const row = events.rows.find((r) => r.runId === "w1")!;
      assert.equal(row.waiting, "waiting for signal go");
      await sendSignal(other, "w1", "go", { n: 1 });
      const { resumeRun } = await import("../mod.ts");
      assert.equal((await resumeRun(waiter, { store: other, runId: "w1" })).status, "completed");
      await waitFor(
        "the status change to completed on the stream",
        () => events.rows.some((r) => r.runId === "w1" && r.status === "completed"),
      );
      // Only changed rows are sent: never the same row twice (running may show up in between).
      const sent = events.rows.filter((r) => r.runId === "w1").map((r) => JSON.stringify(r));
      assert.equal(new Set(sent).size, sent.length, sent.join("\n"));
    } finally {
      other.close();
      await server.shutdown(); // ends the stream: the reader sees its end
      await events.done;
    }
  });
});

Deno.test("live events: writes on the studio's own connection are seen too; a client may leave early", async () => {
  await withStudioStore(async (store) => {
    const { server, origin } = await startStudio(store, { pollMs: 20 });
    try {
      const res = await fetch(`${origin}/api/events`);
      const events = follow(res.body!);
      await waitFor("the stream's opening comment", () => events.comments.length > 0);
      await startRun(waiter, { store, runId: "same" }); // the studio's own connection
      await waitFor(
        "the run written on the studio's connection",
        () => events.rows.some((r) => r.runId === "same"),
      );
      await events.cancel();
      await events.done;
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("live events on PostgreSQL: a run written by another connection arrives, then its status change", async () => {
  const t = await POSTGRES_BACKEND.open();
  const other = await t.reopen();
  const { server, origin } = await startStudio(t.store, { pollMs: 20 });
  const res = await fetch(`${origin}/api/events`);
  const events = follow(res.body!);
  try {
    await waitFor("the stream's opening comment", () => events.comments.length > 0);
    await startRun(waiter, { store: other, runId: "pg-w" });
    await waitFor(
      "the new run on the stream",
      () => events.rows.some((r) => r.runId === "pg-w" && r.status === "waiting"),
    );
    await other.updateRunIf("pg-w", ["waiting"], { status: "paused", waiting: null });
    await waitFor(
      "its status change on the stream",
      () => events.rows.some((r) => r.runId === "pg-w" && r.status === "paused"),
    );
  } finally {
    await server.shutdown();
    await events.done;
    await t.cleanup();
  }
});

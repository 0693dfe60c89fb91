/** The HTTP server's request body limit: 413 above {@link MAX_BODY_BYTES}, declared or streamed. */
import assert from "node:assert/strict";
import { createServer, MAX_BODY_BYTES } from "./serve.ts";
import { openTestApp } from "./_test_util.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("HTTP: a request body above 64 KiB is answered 413, whether declared or streamed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-limit-" });
  const app = openTestApp(dir);
  const { hono, settled } = createServer(app, {
    workspace: OPS_DIR,
    stateDir: dir,
    allowShell: false,
    parallel: 4,
    token: "s3cret",
  });
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    hono.fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const headers = { authorization: "Bearer s3cret", "content-type": "application/json" };
  try {
    assert.equal(MAX_BODY_BYTES, 64 * 1024);
    const big = JSON.stringify({ runId: "big", incident: "x".repeat(MAX_BODY_BYTES) });
    const declared = await fetch(`${base}/supervise`, { method: "POST", headers, body: big });
    assert.equal(declared.status, 413);
    assert.deepEqual(await declared.json(), {
      error: `the request body is larger than ${MAX_BODY_BYTES} bytes`,
    });

    // A chunked body (no Content-Length) is cut off as soon as it passes the limit.
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64) return controller.close(); // 1 MiB in all, if nobody stops reading
        sent++;
        controller.enqueue(chunk);
      },
    });
    const streamed = await fetch(`${base}/runs/nope/approve`, {
      method: "POST",
      headers,
      body: stream,
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();

    // Without the token, nothing is read at all: 401.
    const anonymous = await fetch(`${base}/supervise`, { method: "POST", body: big });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();

    // A body of exactly the limit is read and answered as usual.
    const empty = JSON.stringify({ runId: "fits", incident: "" });
    const fits = JSON.stringify({
      runId: "fits",
      incident: "y".repeat(MAX_BODY_BYTES - empty.length),
    });
    assert.equal(new TextEncoder().encode(fits).length, MAX_BODY_BYTES);
    const ok = await fetch(`${base}/runbook`, { method: "POST", headers, body: fits });
    assert.equal(ok.status, 400);
    assert.match((await ok.json()).error, /"file" must be a non-empty string/);
  } finally {
    await settled();
    ac.abort();
    await server.finished;
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { startRun } from "../mod.ts";
import { createStudioHandler } from "./handler.ts";
import { MAX_BODY_BYTES } from "./security.ts";
import { STEER_ACTIONS } from "./steer.ts";
import { startStudio, withStudioStore } from "./_test_util.ts";
import { waiter } from "./testdata/studio_agents.ts";

async function status(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

Deno.test("every state-changing route is refused without the header, or without the token or the same origin (403)", async () => {
  await withStudioStore(async (store) => {
    await startRun(waiter, { store, runId: "w" });
    const { server, origin } = await startStudio(store);
    try {
      for (const action of STEER_ACTIONS) {
        const url = `${origin}/api/runs/w/${action}`;
        const body = JSON.stringify({ name: "go", decision: "approve", by: "ann", step: 0 });
        const json = { "content-type": "application/json" };
        assert.equal(
          await status(fetch(url, { method: "POST", headers: { ...json, origin }, body })),
          403,
          `${action}: no header`,
        );
        assert.equal(
          await status(
            fetch(url, { method: "POST", headers: { ...json, "x-loom-studio": "1" }, body }),
          ),
          403,
          `${action}: no origin`,
        );
        assert.equal(
          await status(fetch(url, {
            method: "POST",
            headers: { ...json, "x-loom-studio": "1", origin: "http://evil.example" },
            body,
          })),
          403,
          `${action}: another origin`,
        );
        assert.equal(
          await status(fetch(url, { headers: { "x-loom-studio": "1", origin } })),
          405,
          `${action}: GET`,
        );
      }
      assert.equal(store.listSignals("w").length, 0, "nothing was written");
      assert.equal(store.getRun("w")!.status, "waiting");
      const refused = await fetch(`${origin}/api/runs/w/signal`, { method: "POST", body: "{}" });
      assert.deepEqual(await refused.json(), {
        error: "a state-changing request needs the header x-loom-studio: 1",
      });
      for (const method of ["PUT", "DELETE", "PATCH"]) {
        const r = await fetch(`${origin}/api/runs`, { method });
        assert.equal(r.status, 405, method);
        assert.equal(r.headers.get("allow"), "GET, HEAD");
        await r.body?.cancel();
      }
      assert.equal(
        await status(
          fetch(`${origin}/api/runs`, {
            method: "POST",
            headers: { "x-loom-studio": "1", origin },
          }),
        ),
        405,
      );
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("with a token: 401 without it; the token (bearer or ?token= cookie) plus the header allows a POST", async () => {
  await withStudioStore(async (store) => {
    await startRun(waiter, { store, runId: "w" });
    const { server, origin } = await startStudio(store, { token: "s3cret" });
    try {
      assert.equal(await status(fetch(`${origin}/api/runs`)), 401);
      assert.equal(await status(fetch(`${origin}/`)), 401);
      const signal = (headers: Record<string, string>) =>
        fetch(`${origin}/api/runs/w/signal`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ name: "go", data: 1 }),
        });
      assert.equal(
        await status(signal({ "x-loom-studio": "1", origin })),
        401,
        "origin is no token",
      );
      assert.equal(await status(signal({ authorization: "Bearer s3cret" })), 403, "no header");
      assert.equal(
        await status(signal({ authorization: "Bearer s3cret", "x-loom-studio": "1" })),
        200,
      );
      const page = await fetch(`${origin}/?token=s3cret`);
      assert.equal(page.status, 200);
      await page.body?.cancel();
      const cookie = page.headers.get("set-cookie")!;
      assert.match(cookie, /^loom_studio_token=s3cret; Path=\/; HttpOnly; SameSite=Strict$/);
      const viaCookie = await signal({ cookie: cookie.split(";")[0], "x-loom-studio": "1" });
      assert.equal(viaCookie.status, 200);
      assert.deepEqual(await viaCookie.json(), { seq: 2 });
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("bodies over 64 KiB are answered 413, declared or streamed; a read-only studio refuses writes", async () => {
  await withStudioStore(async (store) => {
    await startRun(waiter, { store, runId: "w" });
    const { server, origin } = await startStudio(store);
    const headers = { "content-type": "application/json", "x-loom-studio": "1", origin };
    try {
      const big = JSON.stringify({ name: "go", data: "x".repeat(MAX_BODY_BYTES) });
      const declared = await fetch(`${origin}/api/runs/w/signal`, {
        method: "POST",
        headers,
        body: big,
      });
      assert.equal(declared.status, 413);
      assert.deepEqual(await declared.json(), {
        error: "the request body is larger than 65536 bytes",
      });
      // A chunked body (a stream: no Content-Length) that grows past the limit.
      let chunks = 0;
      const chunked = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (++chunks > 10) return controller.close();
          controller.enqueue(new Uint8Array(16_384).fill(32));
        },
      });
      const streamed = await fetch(`${origin}/api/runs/w/signal`, {
        method: "POST",
        headers,
        body: chunked,
      });
      assert.equal(streamed.status, 413);
      assert.deepEqual(await streamed.json(), {
        error: "the request body is larger than 65536 bytes",
      });
      assert.equal(store.listSignals("w").length, 0);
    } finally {
      await server.shutdown();
    }
    const ro = await startStudio(store, { readOnly: true });
    try {
      const r = await ro.post("/api/runs/w/signal", { name: "go" });
      assert.equal(r.status, 403);
      assert.deepEqual(await r.json(), { error: "this studio is read-only" });
    } finally {
      await ro.server.shutdown();
    }
  });
});

Deno.test("without a token, a request naming another host is refused (DNS rebinding): 403", async () => {
  await withStudioStore(async (store) => {
    const studio = createStudioHandler({ store });
    try {
      for (const host of ["evil.example:8787", "192.168.1.5:8787"]) {
        const res = await studio(
          new Request(`http://${host}/api/runs`, { headers: { host } }),
        );
        assert.equal(res.status, 403, host);
        assert.match((await res.json()).error, /answers only requests for this machine/);
      }
      for (const host of ["127.0.0.1:8787", "localhost:8787", "[::1]:8787"]) {
        const res = await studio(new Request(`http://${host}/api/runs`, { headers: { host } }));
        assert.equal(res.status, 200, host);
        await res.body?.cancel();
      }
    } finally {
      await studio.close();
    }
  });
});

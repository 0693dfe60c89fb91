/** `loom-ops serve` mounts Loom Studio at `/studio`: pages, API and steering through the mount. */
import assert from "node:assert/strict";
import { createStudioHandler } from "@loom/runner/studio";
import { createServer } from "./serve.ts";
import { openTestApp } from "./_test_util.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("HTTP: Loom Studio is mounted at /studio and keeps its own CSRF rule", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-studio-" });
  const app = openTestApp(dir);
  const studio = createStudioHandler({ store: app.store, basePath: "/studio" });
  const { hono, settled } = createServer(app, {
    workspace: OPS_DIR,
    stateDir: dir,
    allowShell: false,
    parallel: 4,
    studio,
  });
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    hono.fetch,
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    const page = await fetch(`${origin}/studio/runs/x`);
    assert.equal(page.status, 404);
    assert.match(await page.text(), /content="\/studio"/);
    const css = await fetch(`${origin}/studio/assets/studio.css`);
    assert.equal(css.status, 200);
    await css.body?.cancel();
    const info = await (await fetch(`${origin}/studio/api/info`)).json();
    assert.equal(info.worker, false);
    const forged = await fetch(`${origin}/studio/api/runs/x/cancel`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: "http://evil.example",
        "x-loom-studio": "1",
      },
      body: "{}",
    });
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    const own = await fetch(`${origin}/studio/api/runs/x/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, "x-loom-studio": "1" },
      body: "{}",
    });
    assert.equal(own.status, 404, "allowed through, and the run is unknown");
    await own.body?.cancel();
  } finally {
    await studio.close();
    ac.abort();
    await server.finished;
    await settled();
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

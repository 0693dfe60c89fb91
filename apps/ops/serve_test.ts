import assert from "node:assert/strict";
import { createServer } from "./serve.ts";
import { openTestApp, opsEnv } from "./_test_util.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

async function readEvents(
  res: Response,
  until: (event: string, data: string) => boolean,
): Promise<{ event: string; data: string }[]> {
  const seen: { event: string; data: string }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return seen;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
      seen.push({ event, data });
      if (until(event, data)) {
        await reader.cancel();
        return seen;
      }
    }
  }
}

Deno.test("HTTP: start a runbook, follow it over SSE, approve it, inspect it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-serve-" });
  const app = openTestApp(dir);
  const { hono, settled } = createServer(app, {
    workspace: OPS_DIR,
    stateDir: dir,
    allowShell: false,
    parallel: 4,
    token: "s3cret",
    pollMs: 20,
  });
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    hono.fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const auth = { authorization: "Bearer s3cret", "content-type": "application/json" };
  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  try {
    const noToken = await post("/runbook", {}, { "content-type": "application/json" });
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();

    const started = await post("/runbook", {
      file: "restart-service.yaml",
      runId: "h-1",
      by: "ops-bot",
    });
    assert.equal(started.status, 202);
    assert.equal((await started.json()).links.events, "/runs/h-1/events");

    const escape = await post("/runbook", { file: "../ops.shell.allowlist.json", runId: "h-2" });
    assert.equal(escape.status, 400);
    await escape.body?.cancel();

    const events = await fetch(`${base}/runs/h-1/events`, { headers: auth });
    const untilWaiting = await readEvents(events, (e) => e === "waiting");
    const kinds = untilWaiting.map((e) => e.event);
    for (
      const k of ["run.started", "plan", "command.started", "verification", "approval.requested"]
    ) {
      assert.ok(kinds.includes(k), `${k} in ${kinds.join(",")}`);
    }

    const refused = await post("/runs/h-1/approve", { step: "restart", by: "mallory" });
    assert.equal(refused.status, 403, "an approver the gate does not name is forbidden");
    assert.match((await refused.json()).error, /mallory may not approve step restart/);

    const approved = await post("/runs/h-1/approve", { step: "restart", by: "bob", comment: "ok" });
    assert.equal(approved.status, 200);
    const view = await approved.json();
    assert.equal(view.status, "completed");
    assert.equal(view.steps.find((s: { id: string }) => s.id === "restart").approvedBy, "bob");

    // A new stream replays from the start and ends by itself at run.completed.
    const replay = await readEvents(
      await fetch(`${base}/runs/h-1/events`, { headers: auth }),
      () => false,
    );
    assert.equal(replay.at(-1)?.event, "run.completed");
    const granted = replay.find((e) => e.event === "approval.granted")!;
    assert.equal(JSON.parse(granted.data).data.via, "http");

    const explain = await (await fetch(`${base}/runs/h-1:verifier/explain`, { headers: auth }))
      .json();
    assert.equal(explain.agent.name, "ops-verifier");
    // Every per-run route answers an unknown run with a JSON 404 (the SSE route too, at once),
    // and so does an unknown route.
    for (const path of ["status", "explain", "audit", "events"]) {
      const missing = await fetch(`${base}/runs/nope/${path}`, { headers: auth });
      assert.equal(missing.status, 404, path);
      assert.match(missing.headers.get("content-type") ?? "", /application\/json/);
      assert.match((await missing.json()).error, /^run nope does not exist in /);
    }
    for (const decision of ["approve", "deny"]) {
      const missing = await post(`/runs/nope/${decision}`, { step: "x", by: "bob", comment: "c" });
      assert.equal(missing.status, 404, decision);
      assert.match((await missing.json()).error, /^run nope does not exist in /);
    }
    const noRoute = await fetch(`${base}/no/such/route`, { headers: auth });
    assert.equal(noRoute.status, 404);
    assert.deepEqual(await noRoute.json(), { error: "no route GET /no/such/route" });
    const verify = await (await fetch(`${base}/audit/verify`, { headers: auth })).json();
    assert.equal(verify.ok, true);
    const mem = await (await fetch(`${base}/memory?q=restart-service`, { headers: auth })).json();
    assert.equal(mem[0].runId, "h-1");
  } finally {
    await settled();
    ac.abort();
    await server.finished;
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loom-ops serve listens on 127.0.0.1 and stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-serve-cli-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./main.ts", import.meta.url).pathname,
      "serve",
      "--port",
      "0",
      "--db",
      `${dir}/ops.sqlite`,
      "--workspace",
      OPS_DIR,
      "--mock-llm",
    ],
    env: opsEnv(dir),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let port: string | undefined;
    while (!port) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited early: ${text}`);
      text += value;
      port = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    }
    const started = await fetch(`http://127.0.0.1:${port}/supervise`, {
      method: "POST",
      body: JSON.stringify({ incident: "disk full on /var", runId: "s-1" }),
    });
    assert.equal(started.status, 202);
    await started.body?.cancel();
    const events = await fetch(`http://127.0.0.1:${port}/runs/s-1/events`);
    const seen = await readEvents(events, (e) => e === "waiting");
    assert.ok(seen.some((e) => e.event === "approval.requested"));
    assert.deepEqual(
      (await (await fetch(`http://127.0.0.1:${port}/approvals`)).json()).map((
        a: { step: string },
      ) => a.step),
      ["4-remove-stale-temporary-files"],
    );
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    reader.releaseLock();
    await child.stderr.cancel().catch(() => {});
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loom-ops serve: a port in use and an unknown --host are usage errors (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-serve-cli-" });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const serve = async (...extra: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./main.ts", import.meta.url).pathname,
        "serve",
        "--db",
        `${dir}/ops.sqlite`,
        "--workspace",
        OPS_DIR,
        "--mock-llm",
        ...extra,
      ],
      env: opsEnv(dir),
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  try {
    const inUse = await serve("--port", String(port));
    assert.deepEqual(inUse, { code: 2, stderr: `error: port ${port} is already in use\n` });
    const host = await serve("--port", "0", "--host", "0.0.0.0");
    assert.deepEqual(host, { code: 2, stderr: "error: Unknown option '--host'\n" });
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

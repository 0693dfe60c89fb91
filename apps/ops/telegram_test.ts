import assert from "node:assert/strict";
import { waitFor } from "@loom/runner/testing";
import { buildRunConfig, startOpsRun } from "./app.ts";
import { retryDelayMs, runGateway } from "./telegram.ts";
import { openTestApp, opsEnv } from "./_test_util.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = new URL("./main.ts", import.meta.url).pathname;
const TOKEN = "123:test-token";

/**
 * A fake Telegram Bot API on 127.0.0.1 speaking the real method/JSON shapes. `getUpdates` is a
 * long poll driven by events, not by a clock: it answers as soon as an update is queued, and
 * otherwise waits until one is, the client hangs up, or the fake closes.
 */
function fakeBotApi() {
  const queue: unknown[] = [];
  const sent: { chat_id: number; text: string }[] = [];
  const wake = new Set<() => void>();
  const wakeAll = () => {
    for (const w of wake) w();
  };
  let nextId = 1;
  let closed = false;
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
      if (!m || m[1] !== TOKEN) {
        return Response.json({ ok: false, description: "Unauthorized" }, {
          status: 401,
        });
      }
      const params = await req.json();
      if (m[2] === "getUpdates") {
        const ready = () =>
          queue.filter((u) => (u as { update_id: number }).update_id >= (params.offset ?? 0));
        while (ready().length === 0 && !closed && !req.signal.aborted) {
          const { promise, resolve } = Promise.withResolvers<void>();
          wake.add(resolve);
          req.signal.addEventListener("abort", () => resolve(), { once: true });
          await promise;
          wake.delete(resolve);
        }
        return Response.json({ ok: true, result: ready() });
      }
      if (m[2] === "getMe") {
        return Response.json({
          ok: true,
          result: { id: 123, is_bot: true, username: "loom_ops_bot" },
        });
      }
      if (m[2] === "sendMessage") {
        sent.push({ chat_id: params.chat_id, text: params.text });
        return Response.json({ ok: true, result: { message_id: sent.length } });
      }
      return Response.json({ ok: false, description: "Not Found" }, { status: 404 });
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    sent,
    say(chat: number, username: string, text: string) {
      queue.push({
        update_id: nextId++,
        message: { text, chat: { id: chat }, from: { id: chat * 10, username } },
      });
      wakeAll();
    },
    async close() {
      closed = true;
      wakeAll();
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("Telegram gateway: announces, refuses strangers, approves as the Telegram user", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-tg-" });
  const app = openTestApp(dir);
  const bot = fakeBotApi();
  const ac = new AbortController();
  let gateway: Promise<void> | undefined;
  try {
    const config = buildRunConfig({
      mode: "runbook",
      file: `${OPS_DIR}/runbooks/restart-service.yaml`,
      workspace: OPS_DIR,
      stateDir: dir,
      allowShell: false,
      parallel: 4,
      startedBy: "test",
    });
    assert.equal((await startOpsRun(app, "t-1", config)).status, "waiting");
    gateway = runGateway(app, {
      token: TOKEN,
      apiBase: bot.base,
      allowedChats: [100],
      workspace: OPS_DIR,
      stateDir: dir,
      allowShell: false,
      parallel: 4,
    }, ac.signal);

    await waitFor("the approval request to be announced", () => bot.sent.length >= 1);
    assert.equal(bot.sent[0].chat_id, 100);
    assert.match(bot.sent[0].text, /Approval needed: run t-1, step restart\n\$ svcctl restart api/);

    bot.say(999, "alice", "/approve t-1 restart");
    bot.say(100, "mallory", "/approve t-1 restart");
    await waitFor("the refusal to be sent", () => bot.sent.length >= 2);
    assert.match(bot.sent[1].text, /error: mallory may not approve step restart/);
    assert.ok(bot.sent.every((m) => m.chat_id === 100), "chat 999 is not answered");

    bot.say(100, "Alice", "/approve t-1 restart load is back to normal");
    await waitFor("the approval to be confirmed", () => bot.sent.length >= 3);
    assert.equal(bot.sent[2].text, "approved by @alice. run t-1 is completed");
    bot.say(100, "alice", "/status t-1");
    await waitFor("the status reply", () => bot.sent.length >= 4);
    assert.match(bot.sent[3].text, /run t-1: completed/);

    bot.say(100, "bob", "/supervise incident: disk full on /var");
    await waitFor("the reply to /supervise", () => bot.sent.length >= 5);
    assert.match(
      bot.sent[4].text,
      /^run tg-\d+ is waiting for approval:4-remove-stale-temporary-files$/,
    );

    const audit = app.audit.list("t-1");
    const granted = audit.find((e) => e.kind === "approval.granted")!;
    assert.equal(granted.actor, "alice");
    assert.equal(granted.data.via, "telegram");
    assert.equal(granted.data.comment, "load is back to normal");
    assert.deepEqual(granted.data.telegram, { id: 1000, username: "alice", chat: 100 });
    const heard = audit.filter((e) => e.kind === "gateway.command" && e.data.action !== "notified");
    assert.deepEqual(heard.map((e) => e.actor), [
      "telegram:@mallory",
      "telegram:@alice",
      "telegram:@alice",
    ]);
    assert.ok(
      !audit.some((e) => JSON.stringify(e.data).includes("999")),
      "the stranger left no trace",
    );
    assert.equal(audit.filter((e) => e.data.action === "notified").length, 1);
  } finally {
    ac.abort();
    await gateway?.catch(() => {});
    await bot.close();
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a token the Bot API rejects stops the gateway with a clear error", async () => {
  const bot = fakeBotApi();
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-tg-" });
  const app = openTestApp(dir);
  try {
    await assert.rejects(
      runGateway(app, {
        token: "999:wrong",
        apiBase: bot.base,
        allowedChats: [100],
        workspace: OPS_DIR,
        stateDir: dir,
        allowShell: false,
        parallel: 1,
      }, new AbortController().signal),
      /Telegram rejected TELEGRAM_BOT_TOKEN \(401 Unauthorized\)/,
    );
  } finally {
    await bot.close();
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a token the gateway explains how to configure it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-tg-" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "gateway", "telegram", "--db", `${dir}/ops.sqlite`],
    env: opsEnv(dir, { TELEGRAM_BOT_TOKEN: "" }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr);
  assert.match(err, /^error: the Telegram gateway is not configured: set TELEGRAM_BOT_TOKEN/);
  assert.match(err, /TELEGRAM_ALLOWED_CHAT_IDS/);
});

Deno.test("the CLI checks the token before it says it is listening", async () => {
  const bot = fakeBotApi();
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-tg-" });
  const gateway = (token: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "gateway",
        "telegram",
        "--db",
        `${dir}/ops.sqlite`,
        "--workspace",
        OPS_DIR,
      ],
      env: opsEnv(dir, {
        TELEGRAM_BOT_TOKEN: token,
        TELEGRAM_ALLOWED_CHAT_IDS: "42",
        TELEGRAM_API_BASE: bot.base,
      }),
      stdout: "null",
      stderr: "piped",
    });
  try {
    const rejected = await gateway("999:wrong").output();
    const err = new TextDecoder().decode(rejected.stderr);
    assert.equal(rejected.code, 2, err);
    assert.equal(err, "error: Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized)\n");

    const child = gateway(TOKEN).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal(
      text,
      "loom-ops Telegram gateway: token accepted (@loom_ops_bot); listening for chats 42\n",
    );
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    reader.releaseLock();
    await child.stderr.cancel().catch(() => {});
  } finally {
    await bot.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable Bot API is retried with a growing, announced delay", async () => {
  // A port nobody listens on: bind one, note it, close it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-tg-" });
  const app = openTestApp(dir);
  const ac = new AbortController();
  const lines: string[] = [];
  let ready = false;
  try {
    const gateway = runGateway(
      app,
      {
        token: TOKEN,
        apiBase: `http://127.0.0.1:${port}`,
        allowedChats: [42],
        workspace: OPS_DIR,
        stateDir: dir,
        allowShell: false,
        parallel: 1,
        retryBaseMs: 10,
        onReady: () => (ready = true),
      },
      ac.signal,
      (l) => lines.push(l),
    );
    await waitFor("four failed connection attempts to be logged", () => lines.length >= 4);
    ac.abort();
    await gateway;
    assert.equal(ready, false, "never ready without a reachable API");
    for (const [i, ms] of [10, 20, 40, 80].entries()) {
      assert.match(
        lines[i],
        new RegExp(
          `^telegram: cannot reach the Bot API at http://127\\.0\\.0\\.1:${port} \\(.+\\); retrying in ${ms}ms \\(failure ${
            i + 1
          }\\)$`,
        ),
      );
    }
    assert.equal(retryDelayMs(1), 1000);
    assert.equal(retryDelayMs(4), 8000);
    assert.equal(retryDelayMs(40), 60_000, "bounded");
  } finally {
    ac.abort();
    app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

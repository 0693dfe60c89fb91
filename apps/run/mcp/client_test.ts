import assert from "node:assert/strict";
import { join } from "node:path";
import { testdata } from "../testing.ts";
import { McpClient, McpError } from "./client.ts";
import { loadMcpConfig } from "./config.ts";

const fixture = testdata("mcp", "fixture_server.ts");
const deno = Deno.execPath();
const server = (
  mode = "ok",
  extra: { env?: Record<string, string>; timeoutMs?: number; initTimeoutMs?: number } = {},
) => ({
  command: deno,
  args: ["run", "--quiet", "--allow-env", fixture, mode],
  ...extra,
});

async function mcpFailure(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof McpError, `expected McpError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("MCP client: handshake, tools/list, tools/call, errors and a server request it declines", async () => {
  const client = await McpClient.start("fx", server());
  try {
    assert.deepEqual(client.serverInfo, { name: "fixture", version: "1" });
    const tools = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), [
      "echo",
      "env",
      "fail",
      "is_error",
      "crash",
      "hang",
      "garbage",
    ]);
    assert.deepEqual(await client.callTool("echo", { text: "hi" }), {
      text: "echo: hi",
      isError: false,
    });
    assert.deepEqual(await client.callTool("is_error", {}), { text: "disk full", isError: true });
    await mcpFailure(
      client.callTool("fail", {}),
      /^MCP server 'fx' returned an error: bad arguments for fail \(code -32602\)$/,
    );
    // Still usable after a JSON-RPC error.
    assert.equal((await client.callTool("echo", { text: "again" })).text, "echo: again");
  } finally {
    await client.close();
  }
});

Deno.test("MCP client: the server gets a clean environment, plus only what its config names", async () => {
  Deno.env.set("OPENAI_API_KEY", "sk-must-not-leak");
  Deno.env.set("LOOM_TEST_GH_TOKEN", "ghp-named-in-config");
  const client = await McpClient.start(
    "fx",
    server("ok", { env: { GITHUB_TOKEN: "${LOOM_TEST_GH_TOKEN}", MODE: "test" } }),
  );
  try {
    const env = JSON.parse((await client.callTool("env", {})).text);
    assert.equal(env.OPENAI_API_KEY, undefined);
    assert.equal(env.LOOM_TEST_GH_TOKEN, undefined);
    assert.equal(env.GITHUB_TOKEN, "ghp-named-in-config");
    assert.equal(env.MODE, "test");
    assert.equal(env.PATH, Deno.env.get("PATH"));
  } finally {
    await client.close();
    Deno.env.delete("OPENAI_API_KEY");
    Deno.env.delete("LOOM_TEST_GH_TOKEN");
  }
});

Deno.test("MCP client: a server that crashes mid-call fails the call and every later call", async () => {
  const client = await McpClient.start("fx", server());
  try {
    await mcpFailure(
      client.callTool("crash", {}),
      /^MCP server 'fx' exited with code 7 \(stderr: fixture: crash tool called\)$/,
    );
    assert.equal(client.failed, true);
    await mcpFailure(client.callTool("echo", { text: "x" }), /exited with code 7/);
  } finally {
    await client.close();
  }
});

Deno.test("MCP client: garbage on stdout breaks the connection with a clear error", async () => {
  const client = await McpClient.start("fx", server());
  try {
    await mcpFailure(
      client.callTool("garbage", {}),
      /^MCP server 'fx' sent something that is not JSON-RPC: "%%% not json %%%"$/,
    );
  } finally {
    await client.close();
  }
  await mcpFailure(
    McpClient.start("noisy", server("garbage")),
    /'noisy' sent something that is not JSON-RPC: "Welcome to my server!"/,
  );
});

Deno.test("MCP client: hangs time out, crashes at start and missing commands are reported", async () => {
  const client = await McpClient.start("fx", server("ok", { timeoutMs: 300 }));
  try {
    await mcpFailure(
      client.callTool("hang", {}),
      /^MCP server 'fx' did not answer tools\/call within 300 ms$/,
    );
    // Still usable after a timed-out call; this answer gets a generous deadline of its own, so
    // a loaded machine cannot turn the 300 ms meant for the hang into a failure here.
    assert.equal(
      (await client.callTool("echo", { text: "alive" }, { timeoutMs: 60_000 })).text,
      "echo: alive",
    );
  } finally {
    await client.close();
  }
  await mcpFailure(
    McpClient.start("slow", server("hang-on-init", { initTimeoutMs: 1500 })),
    /'slow' did not answer initialize within 1500 ms/,
  );
  await mcpFailure(
    McpClient.start("dead", server("crash-on-init")),
    /^MCP server 'dead' exited with code 3 \(stderr: fixture: crashing on purpose\)$/,
  );
  await mcpFailure(
    McpClient.start("gone", { command: "no-such-mcp-server-xyz" }),
    /'gone': the command 'no-such-mcp-server-xyz' was not found/,
  );
});

Deno.test("MCP config: validates the file and accepts an mcpServers wrapper", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "mcp.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        mcpServers: { fs: { command: "npx", args: ["-y", "x"], env: { A: "1" } } },
      }),
    );
    assert.deepEqual(await loadMcpConfig(file), {
      fs: {
        command: "npx",
        args: ["-y", "x"],
        env: { A: "1" },
        cwd: undefined,
        timeoutMs: undefined,
        initTimeoutMs: undefined,
      },
    });
    await Deno.writeTextFile(file, JSON.stringify({ fs: { args: [] } }));
    await assert.rejects(
      loadMcpConfig(file),
      /MCP server 'fs' in '.*mcp\.json': 'command' must be a non-empty string/,
    );
    await Deno.writeTextFile(file, "{oops");
    await assert.rejects(loadMcpConfig(file), /is not valid JSON/);
    await assert.rejects(loadMcpConfig(join(dir, "none.json")), /does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

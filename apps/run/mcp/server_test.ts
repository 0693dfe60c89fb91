// `mcpServer()` in a chat agent: the reference memory server from npm, started by the agent on
// its first step, its tools offered as `memory__<tool>`, called durably, then stopped by
// `close()`. And a server that cannot start fails the step with its reason.
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "@loom/runner";
import { startRun } from "@loom/runner";
import { chatAgent } from "../agent/chat.ts";
import { scriptedModel } from "../llm/scripted.ts";
import type { ChatMessage } from "../llm/types.ts";
import { mcpServer } from "./server.ts";

const MEMORY = "npm:@modelcontextprotocol/server-memory@2026.8.31";

/** Puts the server into Deno's cache first, so no handshake waits on a download. */
async function cacheServer(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["cache", "--quiet", MEMORY],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

function toolResults(messages: ChatMessage[]): string[] {
  return messages.flatMap((m) => m.role === "tool" ? [m.content] : []);
}

Deno.test("mcpServer: a chat agent calls the reference memory server's tools", async () => {
  await cacheServer();
  const dir = await Deno.makeTempDir({ prefix: "loom-mcp-" });
  const offered: string[][] = [];
  const agent = chatAgent({
    name: "remember",
    model: scriptedModel((request, turn) => {
      offered.push(request.tools.map((t) => t.name));
      if (turn === 0) {
        return {
          toolCalls: [{
            name: "memory__create_entities",
            arguments: {
              entities: [{
                name: "math.js",
                entityType: "file",
                observations: ["add is off by one"],
              }],
            },
          }],
        };
      }
      if (turn === 1) {
        return {
          toolCalls: [{ name: "memory__search_nodes", arguments: { query: "off by one" } }],
        };
      }
      return `Found: ${toolResults(request.messages).at(-1)}`;
    }),
    mcp: [mcpServer({
      name: "memory",
      command: Deno.execPath(),
      args: ["run", "--quiet", "--allow-env", "--allow-read", `--allow-write=${dir}`, MEMORY],
      env: { MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
    })],
  });
  const store = openStore(join(dir, "runs.sqlite"));
  try {
    const run = await startRun(agent, { store, runId: "m", input: { question: "What is wrong?" } });
    assert.equal(run.status, "completed", JSON.stringify(run.error));
    assert.match(run.result!.answer, /^Found: .*"name": ?"math\.js"/s);
    assert.ok(
      offered[0].includes("memory__create_entities") && offered[0].includes("memory__search_nodes"),
    );
    const calls = await store.listCalls("m");
    assert.deepEqual(calls.filter((c) => c.name !== "llm").map((c) => [c.name, c.status]), [
      ["memory__create_entities", "completed"],
      ["memory__search_nodes", "completed"],
    ]);
    assert.match(await Deno.readTextFile(join(dir, "memory.jsonl")), /add is off by one/);
  } finally {
    await agent.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mcpServer: a server that cannot start fails the run with its reason", async () => {
  await using agent = chatAgent({
    name: "broken",
    model: scriptedModel(["never asked"]),
    mcp: [mcpServer({ name: "nope", command: "loom-no-such-command-xyz" })],
  });
  const store = openStore(":memory:");
  try {
    const run = await startRun(agent, { store, runId: "b", input: { question: "?" } });
    assert.equal(run.status, "failed");
    assert.match(
      run.error!.message,
      /MCP server 'nope': the command 'loom-no-such-command-xyz' was not found/,
    );
  } finally {
    store.close();
  }
});

Deno.test("mcpServer: a malformed description is refused at once, saying what was wrong", () => {
  assert.throws(
    () => mcpServer({ name: "has space", command: "x" }),
    /Cannot describe an MCP server as 'name' must be 1 to 40 letters, digits, '_' or '-': current value is "has space"/,
  );
  assert.throws(
    () => mcpServer({ name: "fs", command: "" }),
    /Cannot describe MCP server 'fs' as 'command' must be a non-empty string: current value is ""/,
  );
  assert.throws(
    () => mcpServer({ name: "fs", command: "npx", args: "-y" as never }),
    /'args' must be strings: current value is "-y"/,
  );
  assert.throws(
    () => mcpServer({ name: "fs", command: "npx", timeoutMs: -1 }),
    (e) =>
      e instanceof RangeError &&
      /'timeoutMs' must be a positive number: current value is -1/.test(e.message),
  );
  const ok = mcpServer({ name: "fs", command: "npx", args: ["-y", "server"], roots: ["."] });
  assert.deepEqual(ok, {
    name: "fs",
    config: { command: "npx", args: ["-y", "server"] },
    roots: ["."],
  });
});

// A server that fails to start is reported with the line of its stderr that says why (npm's
// "404 Not Found"), not with its last line (npm's "A complete log of this run can be found in").
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWorkspace } from "../testing.ts";
import { openToolSet } from "../tools/registry.ts";
import { McpClient, McpError, usefulStderrLine } from "./client.ts";

/** What `npx --yes @modelcontextprotocol/server-nope` prints when the package does not exist. */
const NPM_404 = `npm error code E404
npm error 404 Not Found - GET https://registry.npmjs.org/@modelcontextprotocol%2fserver-nope - Not found
npm error 404
npm error 404  '@modelcontextprotocol/server-nope@*' is not in this registry.
npm error 404
npm error 404 Note that you can also install from a
npm error 404 tarball, folder, http url, or git url.
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-01-01T00_00_00_000Z-debug-0.log
`;

Deno.test("MCP stderr: the line that says why, not npm's log pointer or a bare code", () => {
  assert.equal(
    usefulStderrLine(NPM_404),
    "npm error 404 Not Found - GET https://registry.npmjs.org/@modelcontextprotocol%2fserver-nope - Not found",
  );
  assert.equal(
    usefulStderrLine(
      "Starting server\nerror: Uncaught Error: boom\n    at main (file:///s.ts:1:1)\n",
    ),
    "error: Uncaught Error: boom",
  );
  // Nothing that states a reason: the last line, as before.
  assert.equal(usefulStderrLine("fixture: crashing on purpose\n"), "fixture: crashing on purpose");
  assert.equal(usefulStderrLine("\n\n"), undefined);
});

Deno.test("MCP start failure: an npm 404 keeps its 404 line in the error and the run's warning", async () => {
  const server = {
    command: "/bin/sh",
    args: ["-c", 'printf "%s" "$NPM_OUTPUT" >&2; exit 1'],
    env: { NPM_OUTPUT: NPM_404 },
  };
  await assert.rejects(McpClient.start("nope", server), (e: unknown) => {
    assert.ok(e instanceof McpError);
    assert.equal(
      e.message,
      "MCP server 'nope' exited with code 1 (stderr: npm error 404 Not Found - GET https://registry.npmjs.org/@modelcontextprotocol%2fserver-nope - Not found)",
    );
    return true;
  });
  await using t = await tempWorkspace();
  const config = join(t.dir, "mcp.json");
  await Deno.writeTextFile(config, JSON.stringify({ nope: server }));
  const set = await openToolSet({
    workspace: t.ws,
    mcpConfig: config,
    testCommand: ["deno", "test"],
    testTimeoutMs: 1000,
  });
  await set.close();
  assert.equal(set.warnings.length, 1);
  assert.match(
    set.warnings[0],
    /^MCP server 'nope' exited with code 1 \(stderr: npm error 404 Not Found/,
  );
});

Deno.test({
  name: "MCP start failure: the real npx with a package the npm registry does not have",
  ignore: !(await onPath("npx")),
  async fn() {
    const name = "@modelcontextprotocol/server-loom-run-test-no-such-package";
    await assert.rejects(
      McpClient.start("nope", { command: "npx", args: ["--yes", name] }),
      (e: unknown) => {
        assert.ok(e instanceof McpError);
        assert.match(e.message, /^MCP server 'nope' exited with code \d+ \(stderr: npm error 404/);
        assert.ok(!e.message.includes("A complete log"), e.message);
        return true;
      },
    );
  },
});

async function onPath(program: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

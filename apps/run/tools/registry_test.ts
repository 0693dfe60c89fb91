import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWorkspace, testdata } from "../testing.ts";
import { mcpToolName, openToolSet, toolSpecs } from "./registry.ts";

const FS_SERVER = "npm:@modelcontextprotocol/server-filesystem@2026.8.31";
const fixture = (mode = "ok") => ({
  command: Deno.execPath(),
  args: ["run", "--quiet", "--allow-env", testdata("mcp", "fixture_server.ts"), mode],
});
const signal = new AbortController().signal;
const base = { testCommand: ["deno", "run", "math_check.js"], testTimeoutMs: 30_000 };

Deno.test("tool set: local tools only when there is no MCP config", async () => {
  await using t = await tempWorkspace();
  const set = await openToolSet({ workspace: t.ws, ...base });
  assert.deepEqual([...set.tools.keys()], ["read_file", "list_files", "search", "run_tests"]);
  assert.deepEqual(
    toolSpecs(set).map((s) => Object.keys(s)),
    Array(4).fill(["name", "description", "parameters"]),
  );
  await set.close();
});

Deno.test("tool set: MCP tools are namespaced per server, next to the local ones; a dead server is a warning", async () => {
  await using t = await tempWorkspace();
  const config = join(t.dir, "mcp.json");
  await Deno.writeTextFile(
    config,
    JSON.stringify({ one: fixture(), "two.srv": fixture(), broken: fixture("crash-on-init") }),
  );
  const set = await openToolSet({ workspace: t.ws, mcpConfig: config, ...base });
  try {
    const names = [...set.tools.keys()];
    assert.deepEqual(names.slice(0, 4), ["read_file", "list_files", "search", "run_tests"]);
    assert.ok(names.includes("one__echo") && names.includes("two_srv__echo"));
    assert.equal(names.length, 4 + 7 + 7);
    assert.equal(await set.tools.get("one__echo")!.run({ text: "a" }, { signal }), "echo: a");
    assert.equal(set.tools.get("two_srv__echo")!.source, "mcp:two.srv");
    await assert.rejects(
      set.tools.get("one__is_error")!.run({}, { signal }),
      /one__is_error reported an error: disk full/,
    );
    assert.deepEqual(set.warnings, [
      "MCP server 'broken' exited with code 3 (stderr: fixture: crashing on purpose)",
    ]);
  } finally {
    await set.close();
  }
  assert.equal(mcpToolName("my server", "read file"), "my_server__read_file");
});

Deno.test("tool set: two servers whose names map to the same prefix are refused, not shadowed", async () => {
  await using t = await tempWorkspace();
  const config = join(t.dir, "mcp.json");
  await Deno.writeTextFile(config, JSON.stringify({ "a-b": fixture(), "a.b": fixture() }));
  const other = join(t.dir, "mcp2.json");
  await Deno.writeTextFile(other, JSON.stringify({ "a_b": fixture(), "a.b": fixture() }));
  await assert.rejects(
    openToolSet({ workspace: t.ws, mcpConfig: other, ...base }),
    /the tool name 'a_b__echo' is claimed by both mcp:a_b and mcp:a\.b; rename one MCP server/,
  );
  const ok = await openToolSet({ workspace: t.ws, mcpConfig: config, ...base });
  assert.ok(ok.tools.has("a-b__echo") && ok.tools.has("a_b__echo"));
  await ok.close();
});

Deno.test({
  name:
    "tool set: the real @modelcontextprotocol/server-filesystem from npm, confined to the workspace",
  async fn() {
    await using t = await tempWorkspace();
    // Install the server into Deno's cache first, so the handshake does not wait on a download.
    const cache = await new Deno.Command(Deno.execPath(), {
      args: ["cache", "--quiet", FS_SERVER],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(cache.success, new TextDecoder().decode(cache.stderr));
    const config = join(t.dir, "mcp.json");
    const ws = await Deno.realPath(t.ws);
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        fs: {
          command: Deno.execPath(),
          args: [
            "run",
            "--quiet",
            `--allow-read=${ws}`,
            `--allow-write=${ws}`,
            "--allow-env",
            "--allow-sys",
            FS_SERVER,
            ws,
          ],
        },
      }),
    );
    const set = await openToolSet({ workspace: t.ws, mcpConfig: config, ...base });
    try {
      assert.deepEqual(set.warnings, []);
      // The server's read_file does not shadow the local read_file.
      assert.equal(set.tools.get("read_file")!.source, "local");
      assert.equal(set.tools.get("fs__read_file")!.source, "mcp:fs");
      const params = set.tools.get("fs__read_text_file")!.parameters;
      assert.equal(params.type, "object");
      assert.equal(params.$schema, undefined);
      assert.ok((params.properties as Record<string, unknown>).path);
      const text = await set.tools.get("fs__read_text_file")!.run({
        path: join(ws, "src", "math.js"),
      }, { signal });
      assert.match(text, /return a \+ b \+ 1;/);
      const listing = await set.tools.get("fs__list_directory")!.run({ path: ws }, { signal });
      assert.match(listing, /\[FILE\] README\.md/);
      assert.match(listing, /\[DIR\] src/);
      await assert.rejects(
        set.tools.get("fs__read_text_file")!.run({ path: "/etc/hostname" }, { signal }),
        /fs__read_text_file reported an error: .*(denied|outside)/i,
      );
    } finally {
      await set.close();
    }
  },
});

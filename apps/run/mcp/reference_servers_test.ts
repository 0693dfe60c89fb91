// loom-run's MCP client against the reference servers from npm (`server-everything`,
// `server-memory`, `server-filesystem`), next to the official client from
// `@modelcontextprotocol/sdk` where a comparison shows what Loom offers the model: the same
// tools (minus the one that needs task augmentation), resources, prompts and resource links.
// Everything waits on answers or state, never on time.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";
import { ListRootsRequestSchema } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import { waitFor } from "@loom/runner/testing";
import { tempWorkspace } from "../testing.ts";
import { mcpToolName, openToolSet, type ToolSet } from "../tools/registry.ts";
import { McpClient, type McpServerConfig, workspaceRoot } from "./client.ts";

const EVERYTHING = "npm:@modelcontextprotocol/server-everything@2026.8.31";
const MEMORY = "npm:@modelcontextprotocol/server-memory@2026.8.31";
const FILESYSTEM = "npm:@modelcontextprotocol/server-filesystem@2026.8.31";
const signal = new AbortController().signal;
const base = { testCommand: ["deno", "run", "math_check.js"], testTimeoutMs: 30_000 };

/** Puts the servers into Deno's cache first, so no handshake waits on a download. */
async function cacheServers(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["cache", "--quiet", EVERYTHING, MEMORY, FILESYSTEM],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/** A server started with `deno run` and only the permissions it needs. */
function denoServer(spec: string, flags: string[], args: string[] = []): McpServerConfig {
  return { command: Deno.execPath(), args: ["run", "--quiet", ...flags, spec, ...args] };
}

const everything = () => denoServer(EVERYTHING, ["--allow-read", "--allow-env", "--allow-sys"]);

/** Opens loom-run's tool set with one MCP server named `name`. */
async function toolSet(
  dir: string,
  ws: string,
  servers: Record<string, McpServerConfig>,
): Promise<ToolSet> {
  const config = join(dir, "mcp.json");
  await Deno.writeTextFile(config, JSON.stringify(servers));
  return await openToolSet({ workspace: ws, mcpConfig: config, ...base });
}

/** The official SDK client on the same server, declaring roots like loom-run does. */
async function sdkClient(config: McpServerConfig, root: string): Promise<Client> {
  const client = new Client({ name: "sdk-probe", version: "1" }, {
    capabilities: { roots: {} },
  });
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [workspaceRoot(root)] }));
  await client.connect(
    new StdioClientTransport({ command: config.command, args: config.args, stderr: "pipe" }),
  );
  return client;
}

Deno.test("MCP reference server-everything: loom-run offers what the official client sees", async () => {
  await cacheServers();
  await using t = await tempWorkspace();
  const ws = await Deno.realPath(t.ws);
  const set = await toolSet(t.dir, t.ws, { everything: everything() });
  const sdk = await sdkClient(everything(), ws);
  try {
    // Tools: the same as the SDK lists, except the one whose calls must be task-augmented.
    const sdkTools: { name: string; execution?: { taskSupport?: string } }[] =
      (await sdk.listTools()).tools;
    const taskOnly = sdkTools.filter((tool) => tool.execution?.taskSupport === "required");
    assert.deepEqual(taskOnly.map((tool) => tool.name), ["simulate-research-query"]);
    const offered = [...set.tools.values()].filter((tool) => tool.source === "mcp:everything")
      .map((tool) => tool.name);
    const expected = sdkTools.filter((tool) => !taskOnly.includes(tool))
      .map((tool) => mcpToolName("everything", tool.name));
    assert.deepEqual(
      offered.filter((name) => expected.includes(name)),
      expected,
      "every tool a plain call can run is offered",
    );
    assert.ok(!set.tools.has("everything__simulate-research-query"));
    assert.deepEqual(set.warnings, [
      "MCP server 'everything': tool 'simulate-research-query' requires task-augmented calls, which loom-run does not make; it is not offered",
    ]);
    // Resources and prompts are offered as four more tools.
    assert.deepEqual(offered.filter((name) => !expected.includes(name)), [
      "everything__list_resources",
      "everything__read_resource",
      "everything__list_prompts",
      "everything__get_prompt",
    ]);

    // roots: the server asks for them and gets the workspace.
    const roots = await set.tools.get("everything__get-roots-list")!.run({}, { signal });
    assert.match(roots, /Current MCP Roots \(1 total\)/);
    assert.ok(roots.includes(`URI: ${workspaceRoot(ws).uri}`), roots);

    // Resources: every URI the SDK lists is in the listing; reading one gives its text.
    const listing = await set.tools.get("everything__list_resources")!.run({}, { signal });
    const sdkResources = (await sdk.listResources()).resources;
    assert.ok(sdkResources.length > 0);
    for (const r of sdkResources) assert.ok(listing.includes(r.uri), `${r.uri} in ${listing}`);
    for (const tpl of (await sdk.listResourceTemplates()).resourceTemplates) {
      assert.ok(listing.includes(`template ${tpl.uriTemplate}`), tpl.uriTemplate);
    }
    // A blob whose MIME type is text/plain reads as its text.
    assert.match(
      await set.tools.get("everything__read_resource")!.run({
        uri: "demo://resource/dynamic/blob/1",
      }, { signal }),
      /^Resource 1: This is a base64 blob/,
    );
    const uri = sdkResources[0].uri;
    const text = await set.tools.get("everything__read_resource")!.run({ uri }, { signal });
    const sdkRead = await sdk.readResource({ uri });
    assert.equal(text, (sdkRead.contents[0] as { text: string }).text);
    await assert.rejects(
      set.tools.get("everything__read_resource")!.run({ uri: "demo://no/such" }, { signal }),
      /MCP server 'everything' returned an error/,
    );

    // Prompts: the same names, and one filled in with its arguments.
    const prompts = await set.tools.get("everything__list_prompts")!.run({}, { signal });
    for (const p of (await sdk.listPrompts()).prompts) assert.ok(prompts.includes(p.name), p.name);
    assert.match(prompts, /args-prompt .*\(arguments: city\*, state\)/);
    const filled = await set.tools.get("everything__get_prompt")!.run(
      { name: "args-prompt", arguments: { city: "Lisbon" } },
      { signal },
    );
    const sdkPrompt = await sdk.getPrompt({ name: "args-prompt", arguments: { city: "Lisbon" } });
    const sdkText = (sdkPrompt.messages[0].content as { text: string }).text;
    assert.ok(filled.includes(`user: ${sdkText}`), filled);
    assert.match(filled, /Lisbon/);

    // resource_link content keeps its URI and name, so the model can read what it points to.
    const links = await set.tools.get("everything__get-resource-links")!.run({ count: 2 }, {
      signal,
    });
    const sdkLinks = ((await sdk.callTool({ name: "get-resource-links", arguments: { count: 2 } }))
      .content as { type: string; uri?: string; name?: string }[])
      .filter((c) => c.type === "resource_link");
    assert.equal(sdkLinks.length, 2);
    for (const link of sdkLinks) {
      assert.ok(links.includes(`[resource_link ${link.uri} (${link.name}`), links);
    }
    assert.ok(!links.includes("[resource_link text/plain content]"));
  } finally {
    await sdk.close();
    await set.close();
  }
});

Deno.test("MCP reference server-memory: tools and structured results through loom-run", async () => {
  await cacheServers();
  await using t = await tempWorkspace();
  const memory = join(t.dir, "memory.jsonl");
  const set = await toolSet(t.dir, t.ws, {
    memory: {
      ...denoServer(MEMORY, [
        "--allow-env",
        "--allow-read",
        `--allow-write=${t.dir}`,
      ]),
      env: { MEMORY_FILE_PATH: memory },
    },
  });
  try {
    assert.deepEqual(set.warnings, []);
    assert.ok(set.tools.has("memory__create_entities") && set.tools.has("memory__search_nodes"));
    await set.tools.get("memory__create_entities")!.run({
      entities: [{ name: "math.js", entityType: "file", observations: ["add is off by one"] }],
    }, { signal });
    const found = await set.tools.get("memory__search_nodes")!.run({ query: "off by one" }, {
      signal,
    });
    assert.match(found, /"name": ?"math\.js"/);
    assert.match(await Deno.readTextFile(memory), /add is off by one/);
  } finally {
    await set.close();
  }
});

Deno.test("MCP reference server-filesystem: started without folders, it works in the workspace root loom-run gives it", async () => {
  await cacheServers();
  await using t = await tempWorkspace();
  const ws = await Deno.realPath(t.ws);
  // No directory argument: the server's only allowed folder is what roots/list answers.
  const set = await toolSet(t.dir, t.ws, {
    fs: denoServer(FILESYSTEM, [
      "--allow-read",
      `--allow-write=${ws}`,
      "--allow-env",
      "--allow-sys",
    ]),
  });
  try {
    assert.deepEqual(set.warnings, []);
    const allowed = set.tools.get("fs__list_allowed_directories")!;
    // The server applies the roots after answering our first requests: wait for that state.
    await waitFor("the filesystem server to take the workspace root", async () => {
      return (await allowed.run({}, { signal })).includes(ws);
    });
    const text = await set.tools.get("fs__read_text_file")!.run(
      { path: join(ws, "src", "math.js") },
      { signal },
    );
    assert.match(text, /return a \+ b \+ 1;/);
    await assert.rejects(
      set.tools.get("fs__read_text_file")!.run({ path: "/etc/hostname" }, { signal }),
      /fs__read_text_file reported an error: .*(denied|outside)/i,
    );
  } finally {
    await set.close();
  }
});

Deno.test("MCP client: without roots it declares none (server-everything then has no get-roots-list)", async () => {
  await cacheServers();
  const client = await McpClient.start("everything", everything());
  try {
    const tools = await client.listTools();
    // server-everything registers get-roots-list only for a client that declared roots.
    assert.ok(!tools.some((tool) => tool.name === "get-roots-list"));
    assert.ok(client.capabilities.resources && client.capabilities.prompts);
    assert.equal(client.protocolVersion, "2025-11-25");
  } finally {
    await client.close();
  }
});

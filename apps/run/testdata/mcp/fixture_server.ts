// A fixture MCP server for tests. `deno run --allow-env fixture_server.ts MODE` where MODE is
// ok | crash-on-init | garbage | hang-on-init. Tools: echo, env, fail, is_error, crash, hang, garbage.
const mode = Deno.args[0] ?? "ok";
const encoder = new TextEncoder();
function send(message: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(message) + "\n"));
}
const tools = [
  { name: "echo", description: "echo the text", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
  { name: "env", description: "the server's environment", inputSchema: { type: "object" } },
  { name: "fail", description: "JSON-RPC error", inputSchema: { type: "object" } },
  { name: "is_error", description: "tool-level error", inputSchema: { type: "object" } },
  { name: "crash", description: "exits", inputSchema: { type: "object" } },
  { name: "hang", description: "never answers", inputSchema: { type: "object" } },
  { name: "garbage", description: "writes garbage", inputSchema: { type: "object" } },
];
let buffer = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  let nl: number;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    const msg = JSON.parse(line);
    if (msg.method === "initialize") {
      if (mode === "crash-on-init") {
        console.error("fixture: crashing on purpose");
        Deno.exit(3);
      }
      if (mode === "garbage") {
        Deno.stdout.writeSync(encoder.encode("Welcome to my server!\n"));
        continue;
      }
      if (mode === "hang-on-init") continue;
      send({ jsonrpc: "2.0", id: msg.id, result: { protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "fixture", version: "1" } } });
      // Ask the client something it does not support; it must decline and carry on.
      send({ jsonrpc: "2.0", id: "srv-1", method: "roots/list" });
    } else if (msg.method === "tools/list") {
      send({ jsonrpc: "2.0", id: msg.id, result: { tools } });
    } else if (msg.method === "tools/call") {
      const name = msg.params.name;
      const args = msg.params.arguments ?? {};
      if (name === "echo") send({ jsonrpc: "2.0", id: msg.id, result: { content: [{ type: "text", text: `echo: ${args.text}` }] } });
      else if (name === "env") send({ jsonrpc: "2.0", id: msg.id, result: { content: [{ type: "text", text: JSON.stringify(Deno.env.toObject()) }] } });
      else if (name === "fail") send({ jsonrpc: "2.0", id: msg.id, error: { code: -32602, message: "bad arguments for fail" } });
      else if (name === "is_error") send({ jsonrpc: "2.0", id: msg.id, result: { content: [{ type: "text", text: "disk full" }], isError: true } });
      else if (name === "crash") {
        console.error("fixture: crash tool called");
        Deno.exit(7);
      } else if (name === "garbage") Deno.stdout.writeSync(encoder.encode("%%% not json %%%\n"));
      // "hang": no answer at all
    }
  }
}

// `loom-run serve`'s limits, tested with real HTTP against the real CLI process: request bodies
// above MAX_BODY_BYTES are refused (413) whether declared or streamed, one exactly at the limit is
// read, and off loopback a token is required and checked before any body is read.
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_BODY_BYTES } from "./serve.ts";
import { CliProcess, runCli, tempWorkspace } from "./testing.ts";

const encoder = new TextEncoder();

/** Starts `loom-run serve --port 0` on the fixture workspace; resolves with its port. */
async function startServer(
  dir: string,
  ws: string,
  extra: string[] = [],
): Promise<{ proc: CliProcess; port: number }> {
  const proc = new CliProcess([
    "serve",
    "--port",
    "0",
    "--db",
    join(dir, "runs.sqlite"),
    "--workspace",
    ws,
    "--mock-llm",
    ...extra,
  ]);
  const m = await proc.waitFor(/listening on http:\/\/[^\s]+:(\d+) /);
  return { proc, port: Number(m[1]) };
}

async function stop(proc: CliProcess): Promise<void> {
  proc.child.kill("SIGTERM");
  const status = await proc.finished();
  assert.equal(status.code, 0, proc.stderr);
}

/** A body of exactly `size` bytes: JSON whose run id, at its very end, is not a valid one. */
function paddedBody(size: number): Uint8Array<ArrayBuffer> {
  const frame = (pad: string) => JSON.stringify({ message: pad, runId: "not valid!" });
  const body = encoder.encode(frame("x".repeat(size - frame("").length)));
  assert.equal(body.length, size);
  return body;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

/** One HTTP/1.1 chunk of a chunked body (an empty `data` is the last chunk). */
function chunk(data: Uint8Array): Uint8Array {
  const head = encoder.encode(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head);
  out.set(data, head.length);
  out.set(encoder.encode("\r\n"), head.length + data.length);
  return out;
}

/** Splits `body` into chunks of at most 64 KiB. */
function chunked(body: Uint8Array, last: boolean): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += 65_536) parts.push(chunk(body.subarray(i, i + 65_536)));
  if (last) parts.push(chunk(new Uint8Array()));
  return parts;
}

/**
 * Sends a raw HTTP/1.1 request (`head` lines, then `body` bytes) on a new TCP connection and
 * reads the response, without finishing the request body unless `body` does: a response that
 * arrives proves the server answered without waiting for the rest. The connection is closed
 * afterwards. Fails when no response comes within a generous deadline.
 */
async function exchange(
  port: number,
  head: string[],
  body: Uint8Array[] = [],
): Promise<{ status: number; json: { error?: string } }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const deadline = setTimeout(() => conn.close(), 60_000);
  try {
    await writeAll(conn, encoder.encode(`${head.join("\r\n")}\r\n\r\n`));
    for (const part of body) await writeAll(conn, part);
    let text = "";
    const buffer = new Uint8Array(65_536);
    const decoder = new TextDecoder();
    while (true) {
      const end = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) {
        const json = JSON.parse(text.slice(end + 4, end + 4 + Number(length[1])));
        return { status: Number(text.split(" ")[1]), json };
      }
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`the connection closed before a whole response: ${text}`);
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch (error) {
    throw new Error(`no response to ${head[0]} within 60 s, or a broken one`, { cause: error });
  } finally {
    clearTimeout(deadline);
    try {
      conn.close();
    } catch {
      // closed by the deadline
    }
  }
}

const POST_CHAT = ["POST /chat HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"];
const TOO_LARGE = `the request body is larger than ${MAX_BODY_BYTES} bytes`;
const INVALID_ID = "run id 'not valid!' has characters that are not allowed";

Deno.test("serve: a request body above MAX_BODY_BYTES gets 413, declared or streamed; one at the limit is read", async () => {
  await using t = await tempWorkspace();
  const { proc, port } = await startServer(t.dir, t.ws);
  try {
    // Declared too large (60 MB): refused from the header, before a single body byte is sent.
    const declared = await exchange(port, [...POST_CHAT, "Content-Length: 60000000"]);
    assert.deepEqual(declared, { status: 413, json: { error: TOO_LARGE } });
    // Streamed (chunked, no Content-Length): refused once one byte more than the limit came,
    // while the request is still open.
    const over = chunked(paddedBody(MAX_BODY_BYTES + 1), false);
    const streamed = await exchange(port, [...POST_CHAT, "Transfer-Encoding: chunked"], over);
    assert.deepEqual(streamed, { status: 413, json: { error: TOO_LARGE } });

    // Exactly at the limit, declared or streamed: read to its end (the run id there is checked).
    const atLimit = await fetch(`http://127.0.0.1:${port}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: paddedBody(MAX_BODY_BYTES),
    });
    assert.deepEqual({ status: atLimit.status, json: await atLimit.json() }, {
      status: 400,
      json: { error: INVALID_ID },
    });
    const whole = chunked(paddedBody(MAX_BODY_BYTES), true);
    const streamedAtLimit = await exchange(
      port,
      [...POST_CHAT, "Transfer-Encoding: chunked"],
      whole,
    );
    assert.deepEqual(streamedAtLimit, { status: 400, json: { error: INVALID_ID } });

    // The server still answers normally afterwards.
    const runs = await fetch(`http://127.0.0.1:${port}/runs`);
    assert.deepEqual(await runs.json(), { runs: [] });
  } finally {
    await stop(proc);
  }
});

Deno.test("serve off loopback: refused without a token; with one, a request without it gets 401 before its body is read", async () => {
  await using t = await tempWorkspace();
  const db = join(t.dir, "runs.sqlite");
  // Without a token, any address but loopback is refused, from the flag or the environment.
  for (
    const [args, env] of [
      [["--host", "0.0.0.0"], {}],
      [["--host", "::"], {}],
      [[], { LOOM_RUN_HOST: "0.0.0.0" }],
      [["--host", "0.0.0.0", "--token", ""], {}],
    ] as [string[], Record<string, string>][]
  ) {
    const out = await runCli(["serve", "--port", "0", "--db", db, "--workspace", t.ws, ...args], {
      env,
    });
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(
      out.stderr,
      /^error: binding to \S+ exposes the API beyond this machine; set --token/,
    );
  }

  const { proc, port } = await startServer(t.dir, t.ws, ["--host", "0.0.0.0", "--token", "s3cret"]);
  try {
    assert.match(proc.stderr, /listening on http:\/\/0\.0\.0\.0:\d+ /);
    // No token: 401 while the (chunked) body is still open, so it was never waited for.
    const start = chunked(encoder.encode('{"message": "hi"'), false);
    const denied = await exchange(port, [...POST_CHAT, "Transfer-Encoding: chunked"], start);
    assert.equal(denied.status, 401);
    assert.match(denied.json.error ?? "", /a valid token is required/);
    const declared = await exchange(port, [...POST_CHAT, "Content-Length: 60000000"]);
    assert.equal(declared.status, 401, "the token is checked before the body's size");
    // With the token: the body limit applies, and the API answers.
    const auth = "Authorization: Bearer s3cret";
    const tooLarge = await exchange(port, [...POST_CHAT, auth, "Content-Length: 60000000"]);
    assert.deepEqual(tooLarge, { status: 413, json: { error: TOO_LARGE } });
    const runs = await fetch(`http://127.0.0.1:${port}/runs`, {
      headers: { authorization: "Bearer s3cret" },
    });
    assert.deepEqual(await runs.json(), { runs: [] });
  } finally {
    await stop(proc);
  }
});

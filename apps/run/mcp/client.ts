/**
 * A small MCP client over stdio: newline-delimited JSON-RPC 2.0 with a server process.
 * It does the protocol handshake (`initialize`, `notifications/initialized`), `tools/list` and
 * `tools/call`, with timeouts, and turns a crash, garbage on stdout or a hang into one clear
 * error naming the server. Written here rather than taken from the MCP SDK to control exactly
 * what environment the server gets and to keep `loom-run`'s dependencies to `hono`.
 *
 * @module
 */
import { childEnv } from "../tools/child_env.ts";

/** How to start one MCP server (one entry of the `--mcp-config` file). */
export interface McpServerConfig {
  /** Program to run. */
  command: string;
  /** Its arguments. */
  args?: string[];
  /** Extra environment; `${NAME}` takes the parent's NAME. Nothing else secret is passed on. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Timeout of one request in ms (default 30 000). */
  timeoutMs?: number;
  /** Timeout of the handshake in ms, start-up included (default 30 000: `npx` may download). */
  initTimeoutMs?: number;
}

/** A tool as a server lists it. */
export interface McpToolInfo {
  /** Tool name on the server. */
  name: string;
  /** Description for the LLM. */
  description?: string;
  /** JSON Schema of the arguments. */
  inputSchema?: Record<string, unknown>;
}

/** The result of `tools/call`, flattened to text. */
export interface McpCallResult {
  /** Text content joined; other content types are summarised. */
  text: string;
  /** True when the server reported a tool-level error (`isError`). */
  isError: boolean;
}

/** A failure of an MCP server or of the protocol, with a sentence naming the server. */
export class McpError extends Error {
  /** @param message one clear sentence */
  constructor(message: string) {
    super(message);
    this.name = "McpError";
  }
}

/** The MCP protocol revision this client speaks. */
export const PROTOCOL_VERSION = "2025-06-18";

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** A connected MCP server process; see the module doc. */
export class McpClient {
  /** Server name from the config. */
  readonly name: string;
  /** What the server said about itself in `initialize`. */
  serverInfo: { name?: string; version?: string } = {};
  readonly #process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, Pending>();
  readonly #timeoutMs: number;
  #nextId = 1;
  #failure: McpError | undefined;
  #stderrTail = "";
  #closed: Promise<void>;

  private constructor(name: string, process: Deno.ChildProcess, timeoutMs: number) {
    this.name = name;
    this.#process = process;
    this.#timeoutMs = timeoutMs;
    this.#writer = process.stdin.getWriter();
    const stdout = this.#readStdout();
    const stderr = this.#readStderr();
    this.#closed = process.status.then(async (status) => {
      await Promise.allSettled([stdout, stderr]);
      const how = status.signal
        ? `was killed by ${status.signal}`
        : `exited with code ${status.code}`;
      this.#fail(new McpError(`MCP server '${name}' ${how}${this.#stderrSuffix()}`));
    });
  }

  /** Starts a server and completes the MCP handshake. Throws `McpError` when that fails. */
  static async start(name: string, config: McpServerConfig): Promise<McpClient> {
    let process: Deno.ChildProcess;
    try {
      process = new Deno.Command(config.command, {
        args: config.args ?? [],
        cwd: config.cwd,
        env: childEnv(config.env),
        clearEnv: true,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new McpError(`MCP server '${name}': the command '${config.command}' was not found`);
      }
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new McpError(
          `MCP server '${name}': running '${config.command}' is not permitted (add it to --allow-run)`,
        );
      }
      throw new McpError(`MCP server '${name}' could not start: ${(error as Error).message}`);
    }
    const client = new McpClient(name, process, config.timeoutMs ?? 30_000);
    try {
      const init = await client.#request("initialize", {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "loom-run", version: "0.1.0" },
      }, config.initTimeoutMs ?? 30_000) as {
        protocolVersion?: string;
        serverInfo?: { name?: string; version?: string };
      };
      if (typeof init?.protocolVersion !== "string") {
        throw new McpError(`MCP server '${name}' answered initialize without a protocolVersion`);
      }
      client.serverInfo = init.serverInfo ?? {};
      await client.#send({ jsonrpc: "2.0", method: "notifications/initialized" });
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** True once the server has exited or broke the protocol. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Lists the server's tools (following pagination). */
  async listTools(): Promise<McpToolInfo[]> {
    const tools: McpToolInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#request("tools/list", cursor ? { cursor } : {}) as {
        tools?: McpToolInfo[];
        nextCursor?: string;
      };
      if (!Array.isArray(page?.tools)) {
        throw new McpError(`MCP server '${this.name}' sent a tools/list result without tools`);
      }
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  }

  /** Calls a tool. A JSON-RPC error, crash or timeout throws `McpError`; `isError` results do not. */
  async callTool(
    name: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<McpCallResult> {
    const result = await this.#request(
      "tools/call",
      { name, arguments: args },
      options.timeoutMs,
      options.signal,
    ) as {
      content?: {
        type: string;
        text?: string;
        mimeType?: string;
        resource?: { uri?: string; text?: string };
      }[];
      structuredContent?: unknown;
      isError?: boolean;
    };
    const parts = (result?.content ?? []).map((c) => {
      if (c.type === "text") return c.text ?? "";
      if (c.type === "resource") return c.resource?.text ?? `[resource ${c.resource?.uri ?? ""}]`;
      return `[${c.type}${c.mimeType ? ` ${c.mimeType}` : ""} content]`;
    });
    if (parts.length === 0 && result?.structuredContent !== undefined) {
      parts.push(JSON.stringify(result.structuredContent));
    }
    return { text: parts.join("\n"), isError: result?.isError === true };
  }

  /** Closes stdin, then ends the process if it does not exit by itself within 2 s. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const exited = await Promise.race([
      this.#closed.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 2000)),
    ]);
    if (!exited) {
      try {
        this.#process.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#closed;
    }
  }

  async #send(message: unknown): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
    } catch {
      throw this.#failure ?? new McpError(`MCP server '${this.name}' closed its input`);
    }
  }

  #request(
    method: string,
    params: unknown,
    timeoutMs = this.#timeoutMs,
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      // Tell the server to stop working on it; it may ignore this.
      this.#send({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: id, reason: "timeout" },
      })
        .catch(() => {});
      reject(
        new McpError(`MCP server '${this.name}' did not answer ${method} within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const onAbort = () => {
      this.#pending.delete(id);
      reject(signal!.reason ?? new McpError(`the call to MCP server '${this.name}' was cancelled`));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    this.#pending.set(id, {
      resolve: (v) => {
        done();
        resolve(v);
      },
      reject: (e) => {
        done();
        reject(e);
      },
    });
    this.#send({ jsonrpc: "2.0", id, method, params }).catch((e) =>
      this.#pending.get(id)?.reject(e)
    );
    return promise;
  }

  async #readStdout(): Promise<void> {
    let buffer = "";
    try {
      for await (const text of this.#process.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += text;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line !== "") await this.#onLine(line);
        }
      }
    } catch {
      // the process went away; #closed reports it
    }
  }

  async #onLine(line: string): Promise<void> {
    let message: {
      id?: number | string;
      method?: string;
      result?: unknown;
      error?: { code?: number; message?: string };
    };
    try {
      message = JSON.parse(line);
      if (typeof message !== "object" || message === null) throw new Error("not an object");
    } catch {
      // stdout is the protocol channel: anything else there means the stream can't be trusted.
      this.#fail(
        new McpError(
          `MCP server '${this.name}' sent something that is not JSON-RPC: ${
            JSON.stringify(line.slice(0, 80))
          }`,
        ),
      );
      try {
        this.#process.kill("SIGKILL");
      } catch {
        // already gone
      }
      return;
    }
    if (message.method !== undefined) {
      // A request from the server (ping, roots/list, sampling...): answer ping, decline the rest.
      if (message.id !== undefined) {
        const reply = message.method === "ping" ? { jsonrpc: "2.0", id: message.id, result: {} } : {
          jsonrpc: "2.0",
          id: message.id,
          error: { code: -32601, message: `loom-run does not support ${message.method}` },
        };
        await this.#send(reply).catch(() => {});
      }
      return;
    }
    const pending = typeof message.id === "number" ? this.#pending.get(message.id) : undefined;
    if (!pending) return; // a late answer to a request that timed out
    this.#pending.delete(message.id as number);
    if (message.error) {
      pending.reject(
        new McpError(
          `MCP server '${this.name}' returned an error: ${
            message.error.message ?? "unknown"
          } (code ${message.error.code ?? "?"})`,
        ),
      );
    } else {
      pending.resolve(message.result);
    }
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const text of this.#process.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderrTail = (this.#stderrTail + text).slice(-2000);
      }
    } catch {
      // ignore
    }
  }

  #stderrSuffix(): string {
    const last = this.#stderrTail.trim().split("\n").filter(Boolean).at(-1);
    return last ? ` (stderr: ${last.slice(0, 200)})` : "";
  }

  #fail(error: McpError): void {
    this.#failure ??= error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(this.#failure);
    }
  }
}

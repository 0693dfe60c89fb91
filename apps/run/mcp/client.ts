/**
 * A small MCP client over stdio: newline-delimited JSON-RPC 2.0 with a server process.
 * It does the protocol handshake (`initialize`, `notifications/initialized`), declares the
 * `roots` capability and answers `roots/list` with the roots it was given (the workspace),
 * follows pagination for `tools/list`, `resources/list`, `resources/templates/list` and
 * `prompts/list`, and calls `tools/call`, `resources/read` and `prompts/get`, with timeouts. A
 * crash, garbage on stdout or a hang becomes one clear error naming the server, with the most
 * useful line of its stderr (an npm 404, not npm's "a complete log is in ..." last line).
 * Written here rather than taken from the MCP SDK to control exactly what environment the server
 * gets and to keep `loom-run`'s dependencies to `hono`.
 *
 * @module
 */
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
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
  /**
   * Execution hints (MCP 2025-11-25): `taskSupport` is `forbidden` (default), `optional`, or
   * `required` (the call must be task-augmented, which this client does not do).
   */
  execution?: { taskSupport?: string };
}

/** A root the client exposes to servers (`roots/list`). */
export interface McpRoot {
  /** A `file://` URI. */
  uri: string;
  /** Display name. */
  name?: string;
}

/** Options of `McpClient.start` beyond the server's own config. */
export interface McpStartOptions {
  /** Roots to declare and answer `roots/list` with (loom-run: the workspace). */
  roots?: McpRoot[];
  /**
   * Let this process exit while the server runs (`Deno.ChildProcess.unref`): a library user who
   * forgets `close()` is not kept waiting; the server sees its input close when we exit. A
   * pending request still keeps the process alive (its timeout timer does).
   */
  unref?: boolean;
}

/** What a server said it can do in `initialize` (only the parts this client uses). */
export interface McpServerCapabilities {
  /** Present when the server has tools. */
  tools?: Record<string, unknown>;
  /** Present when the server offers resources. */
  resources?: Record<string, unknown>;
  /** Present when the server offers prompts. */
  prompts?: Record<string, unknown>;
  /** Anything else. */
  [key: string]: unknown;
}

/** A resource as `resources/list` describes it. */
export interface McpResourceInfo {
  /** Its URI. */
  uri: string;
  /** Its name. */
  name: string;
  /** Human title. */
  title?: string;
  /** What it is. */
  description?: string;
  /** MIME type. */
  mimeType?: string;
}

/** A resource template (`resources/templates/list`). */
export interface McpResourceTemplate {
  /** RFC 6570 URI template. */
  uriTemplate: string;
  /** Its name. */
  name: string;
  /** Human title. */
  title?: string;
  /** What it gives. */
  description?: string;
  /** MIME type. */
  mimeType?: string;
}

/** One content item of `resources/read`: text, or base64 `blob`. */
export interface McpResourceContents {
  /** URI of this content. */
  uri: string;
  /** MIME type. */
  mimeType?: string;
  /** Text content. */
  text?: string;
  /** Binary content, base64. */
  blob?: string;
}

/** A prompt as `prompts/list` describes it. */
export interface McpPromptInfo {
  /** Its name. */
  name: string;
  /** Human title. */
  title?: string;
  /** What it is for. */
  description?: string;
  /** Its arguments. */
  arguments?: { name: string; description?: string; required?: boolean }[];
}

/** A content block of a tool result or prompt message. */
export interface McpContent {
  /** `text`, `image`, `audio`, `resource`, `resource_link`, ... */
  type: string;
  /** Text (`text`). */
  text?: string;
  /** MIME type (`image`, `audio`, `resource_link`). */
  mimeType?: string;
  /** `resource_link`: URI. */
  uri?: string;
  /** `resource_link`: name. */
  name?: string;
  /** `resource_link`: title. */
  title?: string;
  /** `resource_link`: description. */
  description?: string;
  /** `resource`: the embedded resource. */
  resource?: McpResourceContents;
}

/** The result of `prompts/get`. */
export interface McpPromptResult {
  /** What the prompt is. */
  description?: string;
  /** Its messages. */
  messages: { role: string; content: McpContent }[];
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

/** The MCP protocol revision this client asks for (servers may answer with an older one). */
export const PROTOCOL_VERSION = "2025-11-25";

/** The root for a workspace folder: its `file://` URI, named after the folder. */
export function workspaceRoot(path: string): McpRoot {
  return { uri: pathToFileURL(path).href, name: basename(path) || path };
}

/**
 * True when a listed tool can only be called task-augmented (`execution.taskSupport:
 * "required"`); a plain `tools/call` of it fails with -32601, so such a tool is not offered.
 */
export function requiresTask(tool: McpToolInfo): boolean {
  return tool.execution?.taskSupport === "required";
}

/**
 * One content block as text for the LLM: text as it is, an embedded text resource as its text,
 * a `resource_link` with its URI and name (so it can be read), other kinds summarised.
 */
export function contentText(c: McpContent): string {
  if (c.type === "text") return c.text ?? "";
  if (c.type === "resource") {
    const r = c.resource;
    if (typeof r?.text === "string") return r.text;
    return `[resource ${r?.uri ?? ""}${r?.mimeType ? ` (${r.mimeType}, binary)` : " (binary)"}]`;
  }
  if (c.type === "resource_link") {
    const about = [c.name, c.mimeType].filter(Boolean).join(", ");
    const description = c.description ? `: ${c.description}` : "";
    return `[resource_link ${c.uri ?? ""}${about ? ` (${about})` : ""}${description}]`;
  }
  return `[${c.type}${c.mimeType ? ` ${c.mimeType}` : ""} content]`;
}

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
  /** What the server can do (`initialize`'s `capabilities`). */
  capabilities: McpServerCapabilities = {};
  /** The protocol revision the server chose. */
  protocolVersion = "";
  readonly #process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, Pending>();
  readonly #timeoutMs: number;
  #nextId = 1;
  #failure: McpError | undefined;
  #stderrHead = "";
  #stderrTail = "";
  #closed: Promise<void>;
  /** Roots answered to `roots/list`; undefined when the capability was not declared. */
  readonly #roots: McpRoot[] | undefined;

  private constructor(
    name: string,
    process: Deno.ChildProcess,
    timeoutMs: number,
    roots: McpRoot[] | undefined,
  ) {
    this.name = name;
    this.#roots = roots;
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

  /**
   * Starts a server and completes the MCP handshake. Throws `McpError` when that fails.
   * With `options.roots` the client declares the `roots` capability and answers `roots/list`.
   */
  static async start(
    name: string,
    config: McpServerConfig,
    options: McpStartOptions = {},
  ): Promise<McpClient> {
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
    if (options.unref) process.unref();
    const client = new McpClient(name, process, config.timeoutMs ?? 30_000, options.roots);
    try {
      const init = await client.#request("initialize", {
        protocolVersion: PROTOCOL_VERSION,
        // The workspace is offered as a root; its list never changes while the server runs.
        capabilities: options.roots ? { roots: { listChanged: false } } : {},
        clientInfo: { name: "loom-run", version: "0.1.0" },
      }, config.initTimeoutMs ?? 30_000) as {
        protocolVersion?: string;
        capabilities?: McpServerCapabilities;
        serverInfo?: { name?: string; version?: string };
      };
      if (typeof init?.protocolVersion !== "string") {
        throw new McpError(`MCP server '${name}' answered initialize without a protocolVersion`);
      }
      client.protocolVersion = init.protocolVersion;
      client.capabilities = init.capabilities ?? {};
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
  listTools(): Promise<McpToolInfo[]> {
    return this.#listAll<McpToolInfo>("tools/list", "tools");
  }

  /** Lists the server's resources (following pagination). */
  listResources(): Promise<McpResourceInfo[]> {
    return this.#listAll<McpResourceInfo>("resources/list", "resources");
  }

  /** Lists the server's resource templates (following pagination). */
  listResourceTemplates(): Promise<McpResourceTemplate[]> {
    return this.#listAll<McpResourceTemplate>("resources/templates/list", "resourceTemplates");
  }

  /** Reads a resource by URI. A JSON-RPC error (unknown URI), crash or timeout throws `McpError`. */
  async readResource(
    uri: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<McpResourceContents[]> {
    const result = await this.#request("resources/read", { uri }, undefined, options.signal) as {
      contents?: McpResourceContents[];
    };
    if (!Array.isArray(result?.contents)) {
      throw new McpError(`MCP server '${this.name}' sent a resources/read result without contents`);
    }
    return result.contents;
  }

  /** Lists the server's prompts (following pagination). */
  listPrompts(): Promise<McpPromptInfo[]> {
    return this.#listAll<McpPromptInfo>("prompts/list", "prompts");
  }

  /** Gets a prompt with its arguments filled in. */
  async getPrompt(
    name: string,
    args: Record<string, string>,
    options: { signal?: AbortSignal } = {},
  ): Promise<McpPromptResult> {
    const result = await this.#request(
      "prompts/get",
      { name, arguments: args },
      undefined,
      options.signal,
    ) as Partial<McpPromptResult>;
    if (!Array.isArray(result?.messages)) {
      throw new McpError(`MCP server '${this.name}' sent a prompts/get result without messages`);
    }
    return { description: result.description, messages: result.messages };
  }

  async #listAll<T>(method: string, key: string): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.#request(method, cursor ? { cursor } : {}) as Record<string, unknown>;
      const list = page?.[key];
      if (!Array.isArray(list)) {
        throw new McpError(`MCP server '${this.name}' sent a ${method} result without ${key}`);
      }
      items.push(...list as T[]);
      cursor = typeof page.nextCursor === "string" ? page.nextCursor : undefined;
      // A server that hands out the same cursor again would keep this loop going forever.
      if (cursor !== undefined && seen.has(cursor)) {
        throw new McpError(`MCP server '${this.name}' repeated the ${method} cursor '${cursor}'`);
      }
      if (cursor !== undefined) seen.add(cursor);
    } while (cursor);
    return items;
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
      content?: McpContent[];
      structuredContent?: unknown;
      isError?: boolean;
    };
    const parts = (result?.content ?? []).map(contentText);
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
      // A server that died at once breaks the pipe before its exit is seen: wait for the exit
      // (bounded, in case it only closed its input) so the error has its code and stderr.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#closed,
        new Promise((r) => timer = setTimeout(r, 5000)),
      ]);
      clearTimeout(timer);
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
      // A request from the server: answer ping and roots/list (when roots were declared),
      // decline what was not declared (sampling, elicitation...). Notifications are ignored.
      if (message.id !== undefined) {
        const id = message.id;
        const reply = message.method === "ping"
          ? { jsonrpc: "2.0", id, result: {} }
          : message.method === "roots/list" && this.#roots !== undefined
          ? { jsonrpc: "2.0", id, result: { roots: this.#roots } }
          : {
            jsonrpc: "2.0",
            id,
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
        // Keep the start (where npm and deno say what went wrong) and the end.
        if (this.#stderrHead.length < 8000) this.#stderrHead += text;
        this.#stderrTail = (this.#stderrTail + text).slice(-4000);
      }
    } catch {
      // ignore
    }
  }

  #stderrSuffix(): string {
    const line = usefulStderrLine(this.#stderrHead, this.#stderrTail);
    return line ? ` (stderr: ${line.slice(0, 300)})` : "";
  }

  #fail(error: McpError): void {
    this.#failure ??= error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(this.#failure);
    }
  }
}

/** Lines that are boilerplate, never the reason: npm's log pointer, bare codes, stack frames. */
const STDERR_NOISE = [
  /A complete log of this run can be found in/i,
  /^npm (error|ERR!) (code|errno|syscall)\b/,
  /^npm (error|ERR!)( \d+)?\s*$/,
  /^\s*at\s/,
];

/** Lines that say what went wrong (not found, denied, an error:). */
const STDERR_REASON =
  /\b(404|not found|could not be found|does not exist|no such file|ENOENT|EACCES|EADDRINUSE|denied|not permitted|cannot find|fatal)\b|\berror:/i;

/**
 * The most useful line of a failed server's stderr: the first line that states a reason (an npm
 * `404 Not Found`, `error: ...`), skipping boilerplate such as npm's "A complete log of this run
 * can be found in ..."; otherwise the last line that is not boilerplate.
 */
export function usefulStderrLine(head: string, tail = ""): string | undefined {
  // ANSI colours make lines unreadable in a one-line message.
  const clean = (text: string) =>
    text.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "").split(/\r?\n/)
      .map((l) => l.trim()).filter((l) => l !== "" && !STDERR_NOISE.some((n) => n.test(l)));
  const lines = [...clean(head), ...clean(tail)];
  return lines.find((l) => STDERR_REASON.test(l)) ?? clean(tail || head).at(-1);
}

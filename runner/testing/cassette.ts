/**
 * LLM cassettes: a local HTTP server on 127.0.0.1 that speaks the OpenAI Chat Completions
 * protocol by proxy. With `LOOM_RECORD=1` it forwards each request to the real endpoint and
 * records the exchange (secrets scrubbed); otherwise it replays the recorded response bytes and
 * refuses any request that is not in the recording, keeping a diff of what the agent now asks.
 * The agent under test needs nothing but its base URL pointed at the cassette.
 *
 * @module
 */
import { dirname } from "node:path";
import { stableStringify } from "../json.ts";
import { describeJsonChanges } from "./json_diff.ts";
import { callerOrigin } from "./origin.ts";

/** Where a recording is forwarded to: a URL, or a function that starts a local upstream. */
export type Upstream =
  | string
  | (() => Promise<{ baseUrl: string; close(): Promise<void> }>);

/** Options of `cassette`. */
export interface CassetteOptions {
  /**
   * Where to record from. A function starts a local upstream (such as a fake OpenAI server) only
   * when recording.
   * @default `$LOOM_RECORD_BASE_URL`, else `"https://api.openai.com/v1"`
   */
  upstream?: Upstream;
  /** Record instead of replay. @default true when `LOOM_RECORD=1` is set */
  record?: boolean;
  /** Extra secrets to scrub from recordings (API keys are scrubbed anyway). */
  secrets?: string[];
  /** Accept a run that used fewer exchanges than recorded (else that is drift too). @default false */
  allowUnused?: boolean;
  /**
   * Rewrites a request body before matching (both the recorded one and the new one), for
   * fields that legitimately differ between runs, e.g. `(b) => ({ ...b, user: undefined })`.
   */
  normalizeRequest?: (body: unknown) => unknown;
}

/** A cassette to use as a scenario's `llm`; started by the scenario. */
export interface Cassette {
  /** Marks the descriptor. */
  readonly kind: "cassette";
  /** The cassette file. */
  readonly path: string | URL;
  /** Upstream for recording, extra secrets, strictness. */
  readonly options: CassetteOptions;
  /** File URL of the module that named the cassette; relative paths resolve there. */
  readonly origin?: string;
}

/**
 * Names a cassette file for a scenario's `llm`.
 *
 * @param path The JSON file; relative paths resolve against the file that calls `cassette`.
 * @param options Upstream for recording, extra secrets.
 * @returns The descriptor.
 */
export function cassette(path: string | URL, options: CassetteOptions = {}): Cassette {
  return { kind: "cassette", path, options, origin: callerOrigin() };
}

/** One recorded exchange. */
export interface Interaction {
  /** The request as the agent sent it (scrubbed; the scenario's temp dir as a placeholder). */
  request: { method: string; path: string; body: unknown };
  /** The response exactly as the endpoint sent it (body text, scrubbed). */
  response: { status: number; contentType: string; body: string };
}

/** The file format. */
export interface CassetteFile {
  /** The format and its version, checked when the file is read. */
  format: "loom-cassette/1";
  /** Exchanges in the order they were made. */
  interactions: Interaction[];
}

/** A request the recording did not have, with the explanation. */
export interface Mismatch {
  /** 1-based number of the request in this run. */
  index: number;
  /** Human-readable explanation with the diff. */
  message: string;
}

/** A running cassette server. */
export interface CassetteServer {
  /** Base URL for the agent (`http://127.0.0.1:PORT/v1`). */
  readonly baseUrl: string;
  /** True when recording. */
  readonly recording: boolean;
  /** Requests served so far. */
  readonly requests: number;
  /** Requests that matched nothing in the recording. */
  readonly mismatches: Mismatch[];
  /**
   * Stops the server; when recording, writes the cassette file. Returns the problems to report
   * (mismatches, unused exchanges, upstream failures) as one message, or `undefined`.
   */
  close(): Promise<string | undefined>;
}

/** The placeholder stored for the scenario's temp directory. */
export const DIR_PLACEHOLDER = "{{scenario_dir}}";

const SECRET_PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{12,}/g, // OpenAI-style keys
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/g,
  /\b(?:ghp|gho|github_pat|xox[abp])_[A-Za-z0-9_]{10,}/g,
];

/** Environment variables whose values are secrets wherever they appear. */
const SECRET_ENV = ["LOOM_LLM_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"];

/** Replaces secrets in a text with `[REDACTED]`. */
export function scrubSecrets(text: string, extra: string[] = []): string {
  let out = text;
  const known = [...extra];
  for (const name of SECRET_ENV) {
    try {
      const v = Deno.env.get(name);
      if (v) known.push(v);
    } catch { /* no env permission: patterns still apply */ }
  }
  for (const s of known) if (s.length >= 6) out = out.split(s).join("[REDACTED]");
  for (const re of SECRET_PATTERNS) out = out.replace(re, "[REDACTED]");
  return out;
}

function parseBody(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Reads a cassette file; a missing file is a clear error. */
export async function readCassette(path: string): Promise<CassetteFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `cassette ${path} does not exist: record it once with LOOM_RECORD=1 (see "test your agent like code" in the README)`,
      );
    }
    throw e;
  }
  const data = JSON.parse(text) as CassetteFile;
  if (data?.format !== "loom-cassette/1" || !Array.isArray(data.interactions)) {
    throw new Error(`${path} is not a loom cassette (format loom-cassette/1)`);
  }
  return data;
}

/**
 * Starts a cassette server for one scenario.
 *
 * @param file Absolute path of the cassette file.
 * @param options The cassette's options.
 * @param dir The scenario's temp directory (stored as a placeholder so recordings are portable).
 * @returns The running server.
 */
export async function startCassette(
  file: string,
  options: CassetteOptions,
  dir: string,
): Promise<CassetteServer> {
  const recording = options.record ?? Deno.env.get("LOOM_RECORD") === "1";
  const upstream = recording ? await openUpstream(options) : undefined;
  const tape = recording ? [] : (await readCassette(file)).interactions;
  const session = new CassetteSession(file, options, dir, tape, upstream);
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => resolve(port),
  }, (req) => session.handle(req));
  const port = await listening;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    recording,
    get requests() {
      return session.requests;
    },
    mismatches: session.mismatches,
    async close() {
      await server.shutdown();
      await upstream?.close?.();
      return await session.finish();
    },
  };
}

/** The server a recording forwards to: its base URL (no trailing `/`) and how to stop it. */
interface OpenUpstream {
  url: string;
  close?: () => Promise<void>;
}

async function openUpstream(options: CassetteOptions): Promise<OpenUpstream> {
  const up = options.upstream ?? Deno.env.get("LOOM_RECORD_BASE_URL") ??
    "https://api.openai.com/v1";
  if (typeof up === "string") return { url: up.replace(/\/+$/, "") };
  const started = await up();
  return { url: started.baseUrl.replace(/\/+$/, ""), close: started.close };
}

/** One scenario's cassette: records (forwarding upstream) or replays, and reports at the end. */
class CassetteSession {
  readonly mismatches: Mismatch[] = [];
  requests = 0;
  readonly #problems: string[] = [];
  readonly #recorded: Interaction[] = [];
  readonly #used = new Set<number>();
  readonly #normalize: (body: unknown) => unknown;

  constructor(
    readonly file: string,
    readonly options: CassetteOptions,
    readonly dir: string,
    readonly tape: Interaction[],
    readonly upstream: OpenUpstream | undefined,
  ) {
    this.#normalize = options.normalizeRequest ?? ((b: unknown) => b);
  }

  #matchKey(r: Interaction["request"]): string {
    return stableStringify([r.method, r.path, this.#normalize(structuredClone(r.body))]);
  }

  /** Recorded text → stored form: secrets out, the temp dir as a placeholder. */
  #storeText(text: string): string {
    return scrubSecrets(text, this.options.secrets ?? []).split(this.dir).join(DIR_PLACEHOLDER);
  }

  /** Answers one request of the agent: forwarded and recorded, or replayed from the tape. */
  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const raw = await req.text();
    const index = ++this.requests;
    const request = {
      method: req.method,
      path: url.pathname + url.search,
      body: parseBody(this.#storeText(raw)),
    };
    if (this.upstream) return await this.#record(req, url, raw, request, this.upstream.url);
    return this.#replay(request, index);
  }

  async #record(
    req: Request,
    url: URL,
    raw: string,
    request: Interaction["request"],
    upstreamUrl: string,
  ): Promise<Response> {
    const headers: Record<string, string> = {
      "content-type": req.headers.get("content-type") ?? "application/json",
    };
    const auth = req.headers.get("authorization");
    if (auth) headers.authorization = auth;
    // The base URL's path (`/v1`) is part of both sides; forward what follows it.
    const suffix = url.pathname.replace(/^\/v1/, "") + url.search;
    let response: Response;
    try {
      response = await fetch(upstreamUrl + suffix, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : raw,
      });
    } catch (e) {
      this.#problems.push(`recording: could not reach ${upstreamUrl}: ${(e as Error).message}`);
      return Response.json({ error: { message: "cassette: upstream unreachable" } }, {
        status: 502,
      });
    }
    const body = await response.text();
    const contentType = response.headers.get("content-type") ?? "application/json";
    this.#recorded.push({
      request,
      response: { status: response.status, contentType, body: this.#storeText(body) },
    });
    return new Response(body, {
      status: response.status,
      headers: { "content-type": contentType },
    });
  }

  #replay(request: Interaction["request"], index: number): Response {
    const { tape, file } = this;
    const key = this.#matchKey(request);
    const found = tape.findIndex((t, i) => !this.#used.has(i) && this.#matchKey(t.request) === key);
    if (found < 0) {
      this.mismatches.push({
        index,
        message: explainMismatch(file, index, request, tape, this.#used),
      });
      return Response.json({
        error: {
          message:
            `loom cassette: request ${index} is not in the recording ${file} (the scenario reports the diff)`,
          type: "invalid_request_error",
        },
      }, { status: 400 });
    }
    this.#used.add(found);
    const r = tape[found].response;
    // Byte for byte what was recorded; only the temp-dir placeholder is filled back in.
    return new Response(r.body.split(DIR_PLACEHOLDER).join(this.dir), {
      status: r.status,
      headers: { "content-type": r.contentType },
    });
  }

  /** Writes a recording, or checks that the replay used the whole tape; the problems, if any. */
  async finish(): Promise<string | undefined> {
    const { file, tape } = this;
    const used = this.#used;
    if (this.upstream) {
      const data: CassetteFile = { format: "loom-cassette/1", interactions: this.#recorded };
      await Deno.mkdir(dirname(file), { recursive: true });
      await Deno.writeTextFile(file, JSON.stringify(data, null, 2) + "\n");
    } else if (
      this.mismatches.length === 0 && !this.options.allowUnused && used.size < tape.length
    ) {
      const first = tape.findIndex((_, i) => !used.has(i));
      this.#problems.push(
        `cassette ${file}: the agent made ${used.size} of the ${tape.length} recorded requests; ` +
          `the first one it no longer makes is number ${first + 1}:\n` +
          indent(summarizeBody(tape[first].request.body)) +
          "\nRe-record with LOOM_RECORD=1 if the change is intended.",
      );
    }
    const all = [...this.mismatches.map((m) => m.message), ...this.#problems];
    return all.length > 0 ? all.join("\n\n") : undefined;
  }
}

function indent(text: string, by = "  "): string {
  return text.split("\n").map((l) => by + l).join("\n");
}

function summarizeBody(body: unknown): string {
  const text = JSON.stringify(body) ?? "";
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

/**
 * Explains a request that is not in the recording: compared with the recorded request at the
 * same position (the first unused one when that is taken), field by field.
 */
function explainMismatch(
  file: string,
  index: number,
  request: Interaction["request"],
  tape: Interaction[],
  used: Set<number>,
): string {
  const head =
    `cassette ${file}: request ${index} (${request.method} ${request.path}) does not match the recording`;
  const candidate = !used.has(index - 1) && tape[index - 1]
    ? index - 1
    : tape.findIndex((_, i) => !used.has(i));
  if (candidate < 0) {
    return `${head}: the recording has only ${tape.length} request(s) and all were used; ` +
      `the agent now makes an extra one:\n${indent(summarizeBody(request.body))}\n` +
      "Re-record with LOOM_RECORD=1 if the change is intended.";
  }
  const before = tape[candidate].request;
  const diff = describeJsonChanges(
    { method: before.method, path: before.path, body: before.body },
    { method: request.method, path: request.path, body: request.body },
  );
  return `${head} — the agent now asks something else (recorded request ${
    candidate + 1
  } vs now):\n${indent(diff)}\nRe-record with LOOM_RECORD=1 if the change is intended.`;
}

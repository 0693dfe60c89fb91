/**
 * The recorder: builds one trace from spans started and ended by a program, or rebuilt
 * afterwards with explicit times (the runner rebuilds a run's trace from its database).
 *
 * Which span is current across `await` is kept by `context.ts`: a new span's default parent is
 * the current span when it belongs to the same recorder.
 *
 * @module
 */

import {
  GEN_AI_CONVERSATION_ID,
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MAX_TOKENS,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_REQUEST_TEMPERATURE,
  GEN_AI_RESPONSE_FINISH_REASONS,
  GEN_AI_RESPONSE_ID,
  GEN_AI_RESPONSE_MODEL,
  GEN_AI_SYSTEM,
  GEN_AI_TOOL_CALL_ID,
  GEN_AI_TOOL_NAME,
  GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  LOOM_COST_USD,
  LOOM_ERROR_PROPAGATED_FROM,
  LOOM_TOOL_IDEMPOTENCY_KEY,
  LOOM_TOOL_REPLAYED,
} from "./attributes.ts";
import {
  capture,
  type CaptureOptions,
  DEFAULT_MAX_VALUE_BYTES,
  type Redactor,
  toSpanError,
} from "./capture.ts";
import { costOf, DEFAULT_PRICES, type PriceTable, withPrices } from "./cost.ts";
import type { ExitSite } from "./exits.ts";
import { currentSpanOf, runInSpan } from "./context.ts";
import { toHtml } from "./html.ts";
import { parentsFirst } from "./tree.ts";
import { isTraceId, newTraceId, spanIdFor } from "./ids.ts";
import type { AttributeValue, Span, SpanKind, SpanStatus, TraceData } from "./model.ts";

/** Options for `new Recorder(...)`. */
export interface RecorderOptions {
  /** Name of the traced program or run. @default "trace" */
  name?: string;
  /** Trace id (32 hex). @default a random one */
  traceId?: string;
  /** Wall-clock start in ms since the epoch; set it when rebuilding a past run. @default Date.now() */
  startTime?: number;
  /** Extra redaction, applied to inputs, outputs, errors' data, meta and LLM/tool payloads. */
  redact?: Redactor;
  /** Redact secret-looking keys and credentials in strings. @default true */
  defaultRedaction?: boolean;
  /** Cap on each captured value's JSON size in bytes. @default 16384 */
  maxValueBytes?: number;
  /** Prices added to (or overriding) `DEFAULT_PRICES`. */
  prices?: PriceTable;
  /** Trace metadata (run id, agent, ...). */
  meta?: Record<string, unknown>;
  /**
   * Append every span to this JSONL file as it starts and ends, so a process killed mid-run
   * still leaves its trace (`loadTrace` reads such a file back).
   */
  stream?: string;
  /** Called with each span's data when it ends (after capture and redaction). */
  onSpanEnd?: (span: Span) => void;
}

/** Where a new span hangs: a handle, a span id, or `null` for a root. */
export type ParentRef = SpanHandle | string | null;

/** Options for `startSpan`. */
export interface StartSpanOptions {
  /** The span's input (captured safely). */
  input?: unknown;
  /** Attributes to set at once. */
  attributes?: Record<string, AttributeValue>;
  /** Parent. @default the current span of this recorder (see `context.ts`), else a root */
  parent?: ParentRef;
  /** Wall-clock start in ms since the epoch, for spans rebuilt after the fact. @default now */
  startTime?: number;
  /** Labels. */
  tags?: string[];
  /** Free metadata. */
  meta?: Record<string, unknown>;
}

/** Options for `SpanHandle.end`. */
export interface EndSpanOptions {
  /** The span's output (captured safely). */
  output?: unknown;
  /** What was thrown; sets status `error` unless `status` says otherwise. */
  error?: unknown;
  /** Final status. @default "error" when `error` is given, else "ok" */
  status?: SpanStatus;
  /** Wall-clock end in ms since the epoch, for spans rebuilt after the fact. @default now */
  endTime?: number;
  /** Attributes to set before ending. */
  attributes?: Record<string, AttributeValue>;
}

/** Timing of a call recorded after it happened. Give `startTime`/`endTime`, or `durationMs`. */
export interface RecordedTiming {
  /** Parent. @default the current span */
  parent?: ParentRef;
  /** Wall-clock start (ms since epoch). @default now - durationMs */
  startTime?: number;
  /** Wall-clock end (ms since epoch). @default startTime + durationMs, or now */
  endTime?: number;
  /** How long it took, when start/end are not known. @default 0 */
  durationMs?: number;
  /** Extra attributes. */
  attributes?: Record<string, AttributeValue>;
}

/** One LLM call, for `recordLlm`. */
export interface LlmCall extends RecordedTiming {
  /** Requested model (`gen_ai.request.model`). */
  model: string;
  /** Provider (`gen_ai.provider.name`), e.g. `openai`, `anthropic`, `ollama`, `mock`. */
  provider?: string;
  /** Prompt or messages sent (the span input). */
  messages?: unknown;
  /** What came back (the span output). */
  response?: unknown;
  /** Input tokens (`gen_ai.usage.input_tokens`). */
  inputTokens?: number;
  /** Output tokens (`gen_ai.usage.output_tokens`). */
  outputTokens?: number;
  /** Input tokens read from cache (`gen_ai.usage.cache_read.input_tokens`). */
  cachedInputTokens?: number;
  /** Cost in USD when the caller knows it; otherwise computed from the price table. */
  costUsd?: number;
  /** Model that answered (`gen_ai.response.model`). */
  responseModel?: string;
  /** Provider's completion id (`gen_ai.response.id`). */
  responseId?: string;
  /** Why generation stopped (`gen_ai.response.finish_reasons`). */
  finishReasons?: string[];
  /** `gen_ai.request.temperature`. */
  temperature?: number;
  /** `gen_ai.request.max_tokens`. */
  maxTokens?: number;
  /** `gen_ai.conversation.id`. */
  conversationId?: string;
  /** The call failed with this. */
  error?: unknown;
  /** Span name. @default `chat ${model}` (the OpenTelemetry GenAI span name) */
  name?: string;
}

/** One tool call, for `recordTool`. */
export interface ToolCall extends RecordedTiming {
  /** Tool name (`gen_ai.tool.name`). */
  name: string;
  /** Arguments (the span input). */
  args?: unknown;
  /** Result (the span output). */
  result?: unknown;
  /** Idempotency key (`loom.tool.idempotency_key`). */
  key?: string;
  /** `true` when the result was replayed from the store (`loom.tool.replayed`). */
  replayed?: boolean;
  /** The model's tool-call id that asked for it (`gen_ai.tool.call.id`). */
  callId?: string;
  /** The call failed with this. */
  error?: unknown;
}

/** Options for `recordError`. */
export interface RecordErrorOptions {
  /** Parent. @default the current span */
  parent?: ParentRef;
  /** Span name. @default the error's type */
  name?: string;
  /** Extra attributes. */
  attributes?: Record<string, AttributeValue>;
}

/**
 * A live span. Methods do nothing after `end` (except reading `data`), and do nothing at all on
 * a detached handle (`recorder === null`), which the module-level API returns when no trace is
 * being recorded, so instrumented code runs unchanged without tracing.
 */
export class SpanHandle {
  /** The recorder it belongs to, or `null` for a detached handle. */
  readonly recorder: Recorder | null;
  /** The span's data (live; read it, do not change it). */
  readonly data: Span;

  /**
   * Use `Recorder.startSpan`; this is called by it.
   *
   * @param recorder Owner, or `null` for a detached handle.
   * @param data The span's data.
   */
  constructor(recorder: Recorder | null, data: Span) {
    this.recorder = recorder;
    this.data = data;
  }

  /** The span id. */
  get id(): string {
    return this.data.id;
  }

  /** `true` once ended. */
  get ended(): boolean {
    return this.data.endTime !== null;
  }

  /**
   * Sets one attribute.
   *
   * @param key Attribute name (OpenTelemetry name where one exists).
   * @param value A string, number, boolean or array of strings or numbers.
   * @returns This handle.
   */
  setAttribute(key: string, value: AttributeValue): this {
    if (this.recorder && !this.ended) this.data.attributes[key] = value;
    return this;
  }

  /**
   * Sets several attributes.
   *
   * @param attributes Name to value.
   * @returns This handle.
   */
  setAttributes(attributes: Record<string, AttributeValue>): this {
    for (const [k, v] of Object.entries(attributes)) this.setAttribute(k, v);
    return this;
  }

  /**
   * Adds labels (searchable in the viewer). Duplicates are ignored.
   *
   * @param labels Labels.
   * @returns This handle.
   */
  tag(...labels: string[]): this {
    if (!this.recorder) return this;
    for (const l of labels) {
      const label = String(l);
      if (!this.data.tags.includes(label)) this.data.tags.push(label);
    }
    return this;
  }

  /**
   * Merges metadata into the span (values captured safely: non-JSON values never crash export).
   *
   * @param values Key to value.
   * @returns This handle.
   */
  meta(values: Record<string, unknown>): this {
    if (!this.recorder) return this;
    const c = this.recorder.capture(values);
    if (c && typeof c === "object" && !Array.isArray(c)) Object.assign(this.data.meta, c);
    return this;
  }

  /**
   * Ends the span. Ending twice keeps the first end.
   *
   * @param options Output, error, status, explicit end time.
   * @returns This handle.
   */
  end(options: EndSpanOptions = {}): this {
    if (!this.recorder || this.ended) return this;
    this.recorder.endSpan(this, options);
    return this;
  }
}

/**
 * Records one trace. Create one per program run (or let `trace()` create it).
 *
 * @example
 * ```ts
 * import { Recorder } from "@loom/xray";
 * const rec = new Recorder({ name: "demo" });
 * const run = rec.startSpan("run", "demo", { input: { goal: "x" } });
 * rec.recordLlm({ parent: run, model: "gpt-4o-mini", inputTokens: 12, outputTokens: 3 });
 * rec.recordTool({ parent: run, name: "read_file", args: { path: "a.txt" }, result: "hi" });
 * run.end({ output: "done" });
 * const data = rec.toJSON(); // TraceData, ready for JSON.stringify / toHtml / toOtlpJson
 * ```
 */
export class Recorder {
  /** The trace id. */
  readonly traceId: string;
  /** The trace name. */
  readonly name: string;
  /** Wall-clock start (ms since epoch). */
  readonly startTime: number;
  /** Trace metadata; add to it freely (values must be JSON data). */
  readonly meta: Record<string, unknown>;
  /** Prices used for `recordLlm`. */
  readonly prices: Readonly<PriceTable>;

  #t0: number; // performance.now() at startTime
  #spans: Span[] = [];
  // Handles by sequence number - 1: span ids encode their number, so lookups need no string map.
  #handles: SpanHandle[] = [];
  #seq = 0;
  #redactions = 0;
  #captureOptions: CaptureOptions;
  #errorOrigin = new WeakMap<object, string>(); // error object -> span that first ended with it
  #stream?: string;
  #onSpanEnd?: (span: Span) => void;

  /**
   * Starts an empty trace; the clock starts now (or at `options.startTime`).
   *
   * @param options Name, ids, redaction, size cap, prices, streaming.
   * @throws {RangeError} When `traceId` is not 32 hex characters or `maxValueBytes` is negative.
   */
  constructor(options: RecorderOptions = {}) {
    const {
      name = "trace",
      traceId = newTraceId(),
      startTime,
      redact,
      defaultRedaction = true,
      maxValueBytes = DEFAULT_MAX_VALUE_BYTES,
      prices,
      meta = {},
      stream,
      onSpanEnd,
    } = options;
    if (!isTraceId(traceId)) {
      throw new RangeError(
        `Cannot use trace id "${traceId}": it must be 32 lowercase hex characters, not all zero`,
      );
    }
    if (!(maxValueBytes >= 0)) {
      throw new RangeError(
        `Cannot use maxValueBytes ${maxValueBytes}: it must be a non-negative number of bytes`,
      );
    }
    this.traceId = traceId;
    this.name = name;
    const now = Date.now();
    this.startTime = startTime ?? now;
    // Offsets are monotonic for live spans; when the trace started in the past, the monotonic
    // origin is shifted by the same amount so live and rebuilt spans share one time axis.
    this.#t0 = performance.now() - (now - this.startTime);
    this.#captureOptions = { maxBytes: maxValueBytes, redact, defaultRedaction };
    this.prices = prices ? withPrices(prices) : DEFAULT_PRICES;
    this.meta = { ...meta };
    this.#stream = stream;
    this.#onSpanEnd = onSpanEnd;
    if (stream) {
      Deno.writeTextFileSync(
        stream,
        JSON.stringify({
          format: "loom-trace-stream/1",
          traceId,
          name,
          startTime: this.startTime,
          meta: this.meta,
        }) + "\n",
      );
    }
  }

  /**
   * Captures a value with this recorder's size cap and redaction, counting redactions.
   *
   * @param value Anything.
   * @returns Plain JSON data.
   */
  capture(value: unknown): unknown {
    const c = capture(value, this.#captureOptions);
    this.#redactions += c.redactions;
    return c.value;
  }

  /**
   * Starts a span.
   *
   * @param kind What it stands for.
   * @param name Human-readable name.
   * @param options Input, attributes, parent, explicit start time, tags, meta.
   * @returns The live handle; call `end()` on it.
   */
  startSpan(kind: SpanKind, name: string, options: StartSpanOptions = {}): SpanHandle {
    const parent = options.parent === undefined ? currentSpanOf(this) : options.parent;
    const parentId = parent === null ? null : typeof parent === "string" ? parent : parent.id;
    const startTime = options.startTime ?? Date.now();
    const startOffset = options.startTime !== undefined
      ? options.startTime - this.startTime
      : performance.now() - this.#t0;
    const data: Span = {
      id: spanIdFor(this.traceId, ++this.#seq),
      parentId,
      kind,
      name,
      startTime,
      endTime: null,
      startOffset,
      duration: null,
      status: "unset",
      attributes: {},
      tags: [],
      meta: {},
    };
    if (options.input !== undefined) data.input = this.capture(options.input);
    const handle = new SpanHandle(this, data);
    if (options.attributes) handle.setAttributes(options.attributes);
    if (options.tags) handle.tag(...options.tags);
    if (options.meta) handle.meta(options.meta);
    this.#spans.push(data);
    this.#handles.push(handle);
    // Open spans are streamed too: after a kill, the parents of finished spans are still there.
    if (this.#stream) {
      Deno.writeTextFileSync(this.#stream, JSON.stringify(data) + "\n", { append: true });
    }
    return handle;
  }

  /**
   * Ends a span (what `SpanHandle.end` calls).
   *
   * @param handle The span.
   * @param options Output, error, status, explicit end time.
   */
  endSpan(handle: SpanHandle, options: EndSpanOptions = {}): void {
    const data = handle.data;
    if (data.endTime !== null) return;
    if (options.attributes) handle.setAttributes(options.attributes);
    if (options.output !== undefined) data.output = this.capture(options.output);
    if (options.error !== undefined) {
      data.error = toSpanError(options.error);
      const origin = this.#propagatedFrom(data.id, options.error);
      if (origin !== undefined) data.attributes[LOOM_ERROR_PROPAGATED_FROM] = origin;
      else if (typeof options.error === "object" && options.error !== null) {
        this.#errorOrigin.set(options.error, data.id);
      }
    }
    data.status = options.status ?? (options.error !== undefined ? "error" : "ok");
    if (options.endTime !== undefined) {
      data.endTime = options.endTime;
      data.duration = Math.max(0, options.endTime - data.startTime);
    } else {
      data.endTime = Date.now();
      data.duration = Math.max(0, performance.now() - this.#t0 - data.startOffset);
    }
    if (this.#stream) {
      Deno.writeTextFileSync(this.#stream, JSON.stringify(data) + "\n", { append: true });
    }
    this.#onSpanEnd?.(data);
  }

  /**
   * The descendant span that first failed with this error, or with an error in its `cause`
   * chain (a wrapper like `new Error("step failed", { cause: e })` re-raises, it is not a
   * second error).
   */
  #propagatedFrom(spanId: string, error: unknown): string | undefined {
    const seen = new Set<unknown>();
    for (
      let e = error;
      typeof e === "object" && e !== null && !seen.has(e);
      e = (e as Error).cause
    ) {
      seen.add(e);
      const origin = this.#errorOrigin.get(e);
      if (
        origin !== undefined && origin !== spanId && this.#isAncestor(spanId, origin)
      ) return origin;
    }
    return undefined;
  }

  /** `true` when `ancestorId` is a proper ancestor of `spanId`. */
  #isAncestor(ancestorId: string, spanId: string): boolean {
    let cur = this.span(spanId)?.data.parentId ?? null;
    for (let guard = 0; cur !== null && guard < 100_000; guard++) {
      if (cur === ancestorId) return true;
      cur = this.span(cur)?.data.parentId ?? null;
    }
    return false;
  }

  /**
   * The handle of a span of this trace.
   *
   * @param id Span id.
   * @returns The handle, or `undefined`.
   */
  span(id: string): SpanHandle | undefined {
    if (id.length !== 16 || !id.startsWith(this.traceId.slice(0, 8))) return undefined;
    const handle = this.#handles[parseInt(id.slice(8), 16) - 1];
    return handle?.id === id ? handle : undefined;
  }

  /**
   * Runs `fn` inside a new span: its return value becomes the output, a throw the error (and is
   * rethrown). With `context.ts` loaded, the span is current inside `fn`, across `await`.
   *
   * @param kind Span kind.
   * @param name Span name.
   * @param fn The work; receives the span.
   * @param options As for `startSpan`.
   * @returns What `fn` returns.
   */
  async withSpan<T>(
    kind: SpanKind,
    name: string,
    fn: (span: SpanHandle) => T | Promise<T>,
    options: StartSpanOptions = {},
  ): Promise<T> {
    const span = this.startSpan(kind, name, options);
    try {
      const out = await runInSpan(span, () => fn(span));
      span.end({ output: out });
      return out;
    } catch (e) {
      span.end({ error: e });
      throw e;
    }
  }

  /** Start and end of a call recorded after it happened. */
  #timing(t: RecordedTiming): { startTime: number; endTime: number } {
    const d = Math.max(0, t.durationMs ?? 0);
    if (t.startTime !== undefined) {
      return { startTime: t.startTime, endTime: t.endTime ?? t.startTime + d };
    }
    const endTime = t.endTime ?? Date.now();
    return { startTime: endTime - d, endTime };
  }

  /**
   * Records a finished LLM call as an `llm` span with GenAI attributes, tokens and cost (cost
   * only when the model has a price; never a guess).
   *
   * @param call Model, provider, messages, response, tokens, timing.
   * @returns The ended span.
   */
  recordLlm(call: LlmCall): SpanHandle {
    const { startTime, endTime } = this.#timing(call);
    const attributes: Record<string, AttributeValue> = {
      [GEN_AI_OPERATION_NAME]: "chat",
      [GEN_AI_REQUEST_MODEL]: call.model,
    };
    if (call.provider !== undefined) {
      attributes[GEN_AI_PROVIDER_NAME] = call.provider;
      attributes[GEN_AI_SYSTEM] = call.provider;
    }
    const setNum = (k: string, v: number | undefined) => {
      if (typeof v === "number" && Number.isFinite(v)) attributes[k] = v;
    };
    setNum(GEN_AI_USAGE_INPUT_TOKENS, call.inputTokens);
    setNum(GEN_AI_USAGE_OUTPUT_TOKENS, call.outputTokens);
    setNum(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, call.cachedInputTokens);
    setNum(GEN_AI_REQUEST_TEMPERATURE, call.temperature);
    setNum(GEN_AI_REQUEST_MAX_TOKENS, call.maxTokens);
    if (call.responseModel !== undefined) attributes[GEN_AI_RESPONSE_MODEL] = call.responseModel;
    if (call.responseId !== undefined) attributes[GEN_AI_RESPONSE_ID] = call.responseId;
    if (call.finishReasons !== undefined) {
      attributes[GEN_AI_RESPONSE_FINISH_REASONS] = call.finishReasons;
    }
    if (call.conversationId !== undefined) attributes[GEN_AI_CONVERSATION_ID] = call.conversationId;
    const cost = call.costUsd ??
      (call.inputTokens !== undefined || call.outputTokens !== undefined
        ? costOf({
          model: call.model,
          inputTokens: call.inputTokens ?? 0,
          outputTokens: call.outputTokens ?? 0,
          cachedInputTokens: call.cachedInputTokens,
        }, this.prices)
        : undefined);
    setNum(LOOM_COST_USD, cost);
    const span = this.startSpan("llm", call.name ?? `chat ${call.model}`, {
      parent: call.parent,
      startTime,
      input: call.messages,
      attributes: { ...attributes, ...call.attributes },
    });
    return span.end({ output: call.response, error: call.error, endTime });
  }

  /**
   * Records a finished tool call as a `tool` span.
   *
   * @param call Name, arguments, result, idempotency key, replayed flag, timing.
   * @returns The ended span.
   */
  recordTool(call: ToolCall): SpanHandle {
    const { startTime, endTime } = this.#timing(call);
    const attributes: Record<string, AttributeValue> = {
      [GEN_AI_OPERATION_NAME]: "execute_tool",
      [GEN_AI_TOOL_NAME]: call.name,
      [LOOM_TOOL_REPLAYED]: call.replayed ?? false,
    };
    if (call.key !== undefined) attributes[LOOM_TOOL_IDEMPOTENCY_KEY] = call.key;
    if (call.callId !== undefined) attributes[GEN_AI_TOOL_CALL_ID] = call.callId;
    const span = this.startSpan("tool", `execute_tool ${call.name}`, {
      parent: call.parent,
      startTime,
      input: call.args,
      attributes: { ...attributes, ...call.attributes },
    });
    return span.end({ output: call.result, error: call.error, endTime });
  }

  /**
   * Records an error as a point-in-time `error` span (for errors that are caught and handled,
   * e.g. a failed attempt before a retry). A span that later ends with the same error object
   * is marked as propagating it, so the error is counted once.
   *
   * @param error What was thrown.
   * @param options Parent, name, attributes.
   * @returns The ended span.
   */
  recordError(error: unknown, options: RecordErrorOptions = {}): SpanHandle {
    const span = this.startSpan("error", options.name ?? toSpanError(error).type, {
      parent: options.parent,
      attributes: options.attributes,
    });
    return span.end({ error, endTime: span.data.startTime });
  }

  /**
   * Records a point-in-time `event` span.
   *
   * @param name What happened.
   * @param data Details (captured safely) and parent.
   * @returns The ended span.
   */
  recordEvent(
    name: string,
    data: { parent?: ParentRef; input?: unknown; attributes?: Record<string, AttributeValue> } = {},
  ): SpanHandle {
    const span = this.startSpan("event", name, data);
    return span.end({ endTime: span.data.startTime });
  }

  /**
   * Adds possible loop exits (from `scanExits`/`exitsOf`) to `meta.exits`, where the summary
   * and the viewer compare them with the exits taken.
   *
   * @param sites Exit sites.
   */
  addPossibleExits(sites: ExitSite[]): void {
    const list = Array.isArray(this.meta.exits) ? this.meta.exits as ExitSite[] : [];
    for (const s of sites) {
      if (!list.some((x) => x.kind === s.kind && x.location === s.location)) list.push({ ...s });
    }
    this.meta.exits = list;
    if (this.#stream) {
      Deno.writeTextFileSync(this.#stream, JSON.stringify({ traceMeta: { exits: list } }) + "\n", {
        append: true,
      });
    }
  }

  /**
   * The trace as plain data, parents before children. Open spans stay open (`endTime: null`).
   *
   * @returns A deep copy, safe to keep after more spans are recorded.
   */
  toJSON(): TraceData {
    // Trace meta is captured on every call (it may change), so its redactions are not added to
    // the running count, only to this snapshot's.
    const meta = capture(this.meta, this.#captureOptions);
    return structuredClone({
      format: "loom-trace/1",
      traceId: this.traceId,
      name: this.name,
      startTime: this.startTime,
      spans: parentsFirst(this.#spans),
      redactions: this.#redactions + meta.redactions,
      meta: meta.value as Record<string, unknown>,
    });
  }

  /**
   * Writes the trace to a file: HTML when the path ends in `.html`, else JSON. The file is
   * written to a temporary name and renamed, so a reader never sees half a file.
   *
   * @param path Destination.
   */
  async flushTo(path: string): Promise<void> {
    await writeTrace(this.toJSON(), path);
  }

  /**
   * Synchronous `flushTo`.
   *
   * @param path Destination.
   */
  flushToSync(path: string): void {
    writeTraceSync(this.toJSON(), path);
  }
}

/**
 * Writes trace data to a file (HTML for `.html`, else JSON), atomically.
 *
 * @param trace The trace.
 * @param path Destination.
 */
export async function writeTrace(trace: TraceData, path: string): Promise<void> {
  const tmp = tempNameFor(path);
  await Deno.writeTextFile(tmp, render(trace, path));
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Synchronous `writeTrace`, for places where nothing asynchronous can run any more (the
 * `unload` event of a program calling `Deno.exit`).
 *
 * @param trace The trace.
 * @param path Destination.
 */
export function writeTraceSync(trace: TraceData, path: string): void {
  const tmp = tempNameFor(path);
  Deno.writeTextFileSync(tmp, render(trace, path));
  try {
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
}

/** HTML for `.html` paths, else indented JSON. */
function render(trace: TraceData, path: string): string {
  return path.endsWith(".html") ? toHtml(trace) : JSON.stringify(trace, null, 1);
}

/** A sibling temporary file name, so the final rename stays on one file system. */
function tempNameFor(path: string): string {
  return `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

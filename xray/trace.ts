/**
 * The ambient API: `trace(fn)` records a whole program, `traced(name, fn)` wraps functions, and
 * `startSpan`/`recordLlm`/`recordTool`/`tag`/`meta`/`recordExit` record into whatever trace is
 * current. Outside a trace they do nothing, so instrumented code runs unchanged without tracing.
 *
 * @module
 */

import { LOOM_EXIT_KIND, LOOM_EXIT_LOCATION } from "./attributes.ts";
import { currentSpan, runInSpan } from "./context.ts";
import { type ExitKind, stackLocation } from "./exits.ts";
import type { AttributeValue, SpanKind } from "./model.ts";
import {
  type LlmCall,
  Recorder,
  type RecorderOptions,
  type RecordErrorOptions,
  SpanHandle,
  type StartSpanOptions,
  type ToolCall,
} from "./recorder.ts";

/** Options for `trace`. */
export interface TraceOptions extends RecorderOptions {
  /** Write the trace here when `fn` settles, even when it throws (`.html` → page, else JSON). */
  path?: string;
  /** Record into this recorder instead of a new one (its options win). */
  recorder?: Recorder;
  /** Input of the root `run` span. */
  input?: unknown;
}

/**
 * Runs `fn` inside a new trace with a root `run` span, and writes the trace to `options.path`
 * whether `fn` returns or throws (or calls `Deno.exit`), so a failed program still leaves its
 * trace. Only a hard kill (SIGKILL) loses it; use the `stream` option for that.
 *
 * @param fn The program; receives the recorder.
 * @param options Recorder options, destination path, root input.
 * @returns What `fn` returns (a throw is recorded on the root span and rethrown).
 *
 * @example
 * ```ts
 * import { recordLlm, trace, traced } from "@loom/xray";
 * const plan = traced("plan", async (goal: string) => {
 *   recordLlm({ model: "gpt-4o-mini", inputTokens: 20, outputTokens: 8 });
 *   return `plan for ${goal}`;
 * });
 * const dir = await Deno.makeTempDir();
 * await trace(() => plan("tidy"), { name: "demo", path: `${dir}/trace.json` });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function trace<T>(
  fn: (recorder: Recorder) => T | Promise<T>,
  options: TraceOptions = {},
): Promise<T> {
  const { path, recorder: given, input, ...recorderOptions } = options;
  const recorder = given ?? new Recorder(recorderOptions);
  const root = recorder.startSpan("run", recorderOptions.name ?? recorder.name, {
    input,
    parent: null,
  });
  // A program that calls Deno.exit() inside `fn` never comes back here; the `unload` event
  // still fires, and only synchronous work can run in it.
  const onUnload = () => {
    root.end({ status: "unset", attributes: { "loom.process.exited": true } });
    try {
      recorder.flushToSync(path!);
    } catch (e) {
      console.error(`xray: could not write the trace to ${path}: ${e}`);
    }
  };
  if (path !== undefined) globalThis.addEventListener("unload", onUnload);
  let out: T;
  try {
    out = await runInSpan(root, () => fn(recorder));
    root.end({ output: out });
  } catch (e) {
    root.end({ error: e });
    if (path !== undefined) {
      globalThis.removeEventListener("unload", onUnload);
      // The program's own error matters more than a failed write: report the write on stderr.
      await recorder.flushTo(path).catch((writeError) =>
        console.error(`xray: could not write the trace to ${path}: ${writeError}`)
      );
    }
    throw e;
  }
  if (path !== undefined) {
    globalThis.removeEventListener("unload", onUnload);
    await recorder.flushTo(path);
  }
  return out;
}

/** Options for `traced`. */
export interface TracedOptions {
  /** Span kind. @default "step" */
  kind?: SpanKind;
  /** Record the arguments as the span input. @default true */
  captureArgs?: boolean;
  /** Record the return value as the span output. @default true */
  captureResult?: boolean;
  /** Attributes set on every span of this function. */
  attributes?: Record<string, AttributeValue>;
}

/**
 * Wraps a function so each call is a span (a child of the current span). Outside a trace the
 * wrapper just calls `fn`. Async functions are timed until their promise settles; generator
 * functions (sync or async) until the generator finishes, with the count of yielded values as
 * output.
 *
 * @param name Span name.
 * @param fn The function.
 * @param options Kind, what to capture, attributes.
 * @returns A function with the same signature.
 */
export function traced<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => R,
  options: TracedOptions = {},
): (...args: A) => R {
  const { kind = "step", captureArgs = true, captureResult = true, attributes } = options;
  return function (this: unknown, ...args: A): R {
    const parent = currentSpan();
    if (!parent?.recorder) return fn.apply(this, args);
    const span = parent.recorder.startSpan(kind, name, {
      parent,
      input: captureArgs ? (args.length === 1 ? args[0] : args) : undefined,
      attributes,
    });
    let result: R;
    try {
      result = runInSpan(span, () => fn.apply(this, args));
    } catch (e) {
      span.end({ error: e });
      throw e;
    }
    // Generators run their body on `next()`, not on the call: time them until they finish, and
    // run each `next()` inside the span so spans made by the body nest under it.
    if (isIterator(result)) return iterateInSpan(result, span, captureResult) as R;
    if (result instanceof Promise) {
      return result.then(
        (v) => {
          span.end({ output: captureResult ? v : undefined });
          return v;
        },
        (e) => {
          span.end({ error: e });
          throw e;
        },
      ) as R;
    }
    span.end({ output: captureResult ? result : undefined });
    return result;
  };
}

/** An iterator object (what a generator function returns), sync or async. */
type AnyIterator = (Iterator<unknown> | AsyncIterator<unknown>) & Record<symbol, unknown>;

/** `true` for iterator objects (generators, async generators); arrays and strings are not. */
function isIterator(v: unknown): v is AnyIterator {
  return typeof v === "object" && v !== null &&
    typeof (v as { next?: unknown }).next === "function" &&
    (Symbol.asyncIterator in v || Symbol.iterator in v);
}

/**
 * Wraps an iterator so the span lasts until it is exhausted, stopped or fails, with the number
 * of values it yielded as output. Sync iterators stay sync, async ones async.
 */
function iterateInSpan(it: AnyIterator, span: SpanHandle, captureResult: boolean): unknown {
  let yielded = 0;
  const finish = (r: IteratorResult<unknown>, stopped = false) => {
    if (r.done) {
      span.end({
        output: captureResult
          ? {
            yielded,
            ...(r.value !== undefined ? { returned: r.value } : {}),
            ...(stopped ? { stopped } : {}),
          }
          : undefined,
      });
    } else yielded++;
    return r;
  };
  const fail = (e: unknown): never => {
    span.end({ error: e });
    throw e;
  };
  if (Symbol.asyncIterator in it) {
    const a = it as AsyncIterator<unknown>;
    return {
      next: (v?: unknown) => runInSpan(span, () => a.next(v)).then((r) => finish(r), fail),
      return: async (v?: unknown) =>
        finish(await (a.return?.(v) ?? { done: true, value: v }), true),
      throw: (e?: unknown) =>
        a.throw ? runInSpan(span, () => a.throw!(e)).then((r) => finish(r), fail) : fail(e),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
  const s = it as Iterator<unknown>;
  const guard = (step: () => IteratorResult<unknown>, stopped = false) => {
    try {
      return finish(runInSpan(span, step), stopped);
    } catch (e) {
      return fail(e);
    }
  };
  return {
    next: (v?: unknown) => guard(() => s.next(v)),
    return: (v?: unknown) => guard(() => s.return?.(v) ?? { done: true, value: v }, true),
    throw: (e?: unknown) => guard(() => s.throw ? s.throw(e) : fail(e)),
    [Symbol.iterator]() {
      return this;
    },
  };
}

// A handle that records nothing, returned when no trace is current.
const detached = (kind: SpanKind, name: string) =>
  new SpanHandle(null, {
    id: "0000000000000000",
    parentId: null,
    kind,
    name,
    startTime: Date.now(),
    endTime: null,
    startOffset: 0,
    duration: null,
    status: "unset",
    attributes: {},
    tags: [],
    meta: {},
  });

/**
 * Starts a span under the current span. Make it current for nested work with `span.recorder
 * .withSpan` or `runInSpan`; end it with `span.end()`.
 *
 * @param kind Span kind.
 * @param name Span name.
 * @param options Input, attributes, tags, meta, explicit start time.
 * @returns The span, or a detached handle that records nothing when no trace is current.
 */
export function startSpan(
  kind: SpanKind,
  name: string,
  options: StartSpanOptions = {},
): SpanHandle {
  const parent = currentSpan();
  if (!parent?.recorder) return detached(kind, name);
  return parent.recorder.startSpan(kind, name, { parent, ...options });
}

/**
 * Records a finished LLM call under the current span (see `Recorder.recordLlm`).
 *
 * @param call Model, provider, messages, response, tokens, timing.
 * @returns The span, or a detached handle outside a trace.
 */
export function recordLlm(call: LlmCall): SpanHandle {
  const parent = currentSpan();
  if (!parent?.recorder) return detached("llm", `chat ${call.model}`);
  return parent.recorder.recordLlm({ parent, ...call });
}

/**
 * Records a finished tool call under the current span (see `Recorder.recordTool`).
 *
 * @param call Name, arguments, result, idempotency key, replayed flag, timing.
 * @returns The span, or a detached handle outside a trace.
 */
export function recordTool(call: ToolCall): SpanHandle {
  const parent = currentSpan();
  if (!parent?.recorder) return detached("tool", `execute_tool ${call.name}`);
  return parent.recorder.recordTool({ parent, ...call });
}

/**
 * Records a handled error under the current span (see `Recorder.recordError`).
 *
 * @param error What was thrown.
 * @param options Name, attributes.
 * @returns The span, or a detached handle outside a trace.
 */
export function recordError(error: unknown, options: RecordErrorOptions = {}): SpanHandle {
  const parent = currentSpan();
  if (!parent?.recorder) return detached("error", "error");
  return parent.recorder.recordError(error, { parent, ...options });
}

/**
 * Adds labels to the current span (searchable in the viewer). Does nothing outside a trace.
 *
 * @param labels Labels.
 */
export function tag(...labels: string[]): void {
  currentSpan()?.tag(...labels);
}

/**
 * Merges metadata into the current span. Does nothing outside a trace.
 *
 * @param values Key to value; captured safely.
 */
export function meta(values: Record<string, unknown>): void {
  currentSpan()?.meta(values);
}

/**
 * Sets an attribute on the current span. Does nothing outside a trace.
 *
 * @param key Attribute name.
 * @param value Attribute value.
 */
export function setAttribute(key: string, value: AttributeValue): void {
  currentSpan()?.setAttribute(key, value);
}

/**
 * Records which exit a loop step took, at the caller's source location, and passes `value`
 * through. Write `return recordExit("recur", recur(n - 1))` and
 * `return recordExit("return", result)`. Sets `loom.exit.kind` and `loom.exit.location` on the
 * current span when it is a `step` without an exit yet, else records an `event` span carrying
 * them. Outside a trace it only returns `value`.
 *
 * @param kind `recur` or `return`.
 * @param value The value the step returns.
 * @returns `value`.
 */
export function recordExit<T>(kind: ExitKind, value: T): T {
  const span = currentSpan();
  if (!span?.recorder) return value;
  // Frames: [0] "Error", [1] recordExit, [2] the step that called it.
  const location = stackLocation(new Error().stack ?? "", 2) ?? "unknown";
  const attrs = { [LOOM_EXIT_KIND]: kind, [LOOM_EXIT_LOCATION]: location };
  const free = span.data.kind === "step" && span.data.attributes[LOOM_EXIT_KIND] === undefined;
  if (free && !span.ended) span.setAttributes(attrs);
  else span.recorder.recordEvent(`exit ${kind}`, { parent: span, attributes: attrs });
  return value;
}

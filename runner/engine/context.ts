/**
 * The step context: `ctx.callTool` (idempotent tool calls), `ctx.waitForSignal` (durable waits),
 * `ctx.sleep` (durable timers) and `ctx.child` (durable child runs). Each is a *durable call*
 * keyed by the step and its position among equal calls, recorded in the store, and replayed from
 * the store when the step re-runs after a suspend, a failure or a crash.
 *
 * @module
 */
import type { Agent } from "./agent.ts";
import { type ErrorCategory, errorMessage, LoomError, ToolTimeoutError } from "../errors.ts";
import { encodeJson, sha256Hex, stableStringify, utf8Length } from "../json.ts";
import { notify, type RunObserver } from "./observer.ts";
import { handleFailedAttempt, resolveRetry, type RetryPolicy } from "./retry.ts";
import type { CallRecord, Store, StoredPolicy, WaitInfo } from "../store/store.ts";

/** What a `waitForSignal` with a timeout returns when the timeout passed first. */
export interface SignalTimeout {
  /** Always true. */
  readonly timedOut: true;
  /** The signal that did not arrive. */
  readonly name: string;
}

/** True when a `waitForSignal` result is a timeout. */
export function isSignalTimeout(value: unknown): value is SignalTimeout {
  return typeof value === "object" && value !== null &&
    (value as { timedOut?: unknown }).timedOut === true &&
    typeof (value as { name?: unknown }).name === "string" && Object.keys(value).length === 2;
}

/** What a tool function receives besides its arguments. */
export interface ToolCallContext {
  /** The idempotency key: stable across attempts and processes; hand it to external APIs. */
  key: string;
  /** Aborted when the run is cancelled, interrupted, loses its lease, or the tool times out. */
  abortSignal: AbortSignal;
  /** @deprecated Use `abortSignal` (a "signal" is a durable message sent to a run). */
  signal: AbortSignal;
  /** This attempt's number, from 1 (counting attempts in earlier processes too). */
  attempt: number;
  /**
   * True when an earlier process started this call and died before its result was recorded: the
   * side effect may already have happened. Ask the external system about `key` before repeating.
   */
  maybeRanBefore: boolean;
}

/**
 * @deprecated Use {@linkcode ToolCallContext} (the name also meant what an observer is told,
 * now `ToolCallEvent`).
 */
export type ToolCallInfo = ToolCallContext;

/** Options of `ctx.callTool`. */
export interface ToolCallOptions {
  /**
   * Retry policy for this tool call.
   * @default `{}`: 3 attempts, transient errors only (see `RetryPolicy`)
   */
  retry?: RetryPolicy;
  /**
   * Explicit idempotency key, scoped to the run. Reusing it with other arguments is an error.
   * @default the step, tool name, a hash of the arguments and their occurrence in the step
   */
  key?: string;
  /** Timeout of each attempt, ms; a timeout is a transient error. @default none */
  timeoutMs?: number;
}

/** A log sink for `ctx.log`; `data` is printed as JSON after the message. */
export interface StepLogger {
  /** Logs a line at level `info`. */
  info(message: string, data?: unknown): void;
  /** Logs a line at level `warn`. */
  warn(message: string, data?: unknown): void;
  /** Logs a line at level `error`. */
  error(message: string, data?: unknown): void;
}

/** What a step receives besides its state. */
export interface StepContext {
  /** The run this step belongs to. */
  readonly runId: string;
  /** This step's number, from 0 over the run's lineage (a fork continues its origin's). */
  readonly step: number;
  /** @deprecated Use `step`. */
  readonly stepIndex: number;
  /** This attempt's number of the step, from 1 (counting attempts in earlier processes too). */
  readonly attempt: number;
  /** Aborted when the run is cancelled, interrupted or loses its lease. */
  readonly abortSignal: AbortSignal;
  /** @deprecated Use `abortSignal` (a "signal" is a durable message sent to a run). */
  readonly signal: AbortSignal;
  /** Logger; lines also reach observers. */
  readonly log: StepLogger;
  /**
   * Idempotent tool call. A call already completed (in an earlier attempt or process) returns
   * its stored result without running `fn` again. See the README for the exact guarantee.
   */
  callTool<T>(
    name: string,
    args: unknown,
    // deno-lint-ignore no-explicit-any
    fn: (args: any, info: ToolCallContext) => T | Promise<T>,
    options?: ToolCallOptions,
  ): Promise<T>;
  /**
   * Durably waits for a named signal. Without one, the run is checkpointed as `waiting` and the
   * step stops; after `sendSignal` and a resume the step re-runs and this returns the payload.
   */
  waitForSignal<T = unknown>(
    name: string,
    options?: { timeoutMs?: number; validate?: (data: unknown) => T },
  ): Promise<T | SignalTimeout>;
  /** Durable timer: the wake-up time is stored, so a restart waits only for the remainder. */
  sleep(ms: number): Promise<void>;
  /** Starts or resumes a durable child run and returns its result. */
  // deno-lint-ignore no-explicit-any
  child<R2>(agent: Agent<any, R2, any>, options: { runId: string; input?: unknown }): Promise<R2>;
}

/** Describes what a waiting run waits for, in a few words. */
export function describeWait(w: WaitInfo): string {
  if (w.kind === "signal") return w.name;
  if (w.kind === "timer") return "timer";
  return `child:${w.childRunId}`;
}

/** Thrown inside a step to suspend the run; the engine catches it. */
export class Suspend extends Error {
  /** What the run waits for. */
  readonly waiting: WaitInfo;
  /** Creates the marker. */
  constructor(waiting: WaitInfo) {
    super(`run suspended (${waiting.kind}); do not catch this error in step code`);
    this.name = "LoomSuspend";
    this.waiting = waiting;
  }
}

/** Runs a child run; supplied by the engine (avoids an import cycle). */
export type ChildRunner = (
  // deno-lint-ignore no-explicit-any
  agent: Agent<any, any, any>,
  runId: string,
  input: unknown,
  parent: { runId: string; step: number },
) => Promise<
  {
    status: string;
    result?: unknown;
    error?: { message: string; category: string };
    waiting?: WaitInfo;
  }
>;

/** Everything a context needs from the engine. */
export interface ContextDeps {
  store: Store;
  runId: string;
  step: number;
  attempt: number;
  abortSignal: AbortSignal;
  log: StepLogger;
  observer?: RunObserver;
  policy: StoredPolicy;
  maxInProcessSleepMs: number;
  runChild: ChildRunner;
}

function delay(ms: number, abortSignal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abortSignal.aborted) return reject(abortSignal.reason);
    const t = setTimeout(() => {
      abortSignal.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortSignal.reason);
    };
    abortSignal.addEventListener("abort", onAbort, { once: true });
  });
}

export { delay as abortableDelay };

/** A tool call's keys and arguments. */
interface ToolKey {
  name: string;
  /** The arguments as given. */
  args: unknown;
  /** The call's key, unique within the run (`CallRecord.key`). */
  key: string;
  /** The idempotency key handed to the tool: stable, and unique beyond the run. */
  fnKey: string;
  argsJson: string;
  /** Stable hash of the arguments (key order does not matter). */
  argsHash: string;
}

/** One attempt of a tool call, as its outcome is recorded. */
interface ToolAttempt {
  row: CallRecord;
  call: ToolKey;
  /** Start on the `performance.now()` clock. */
  t0: number;
  startedAt: number;
  /** This attempt's number, counting attempts in earlier processes. */
  attempt: number;
  /** Attempts of this call made by this process. */
  attempts: number;
}

/**
 * `running`, or a `ToolTimeoutError` after `timeoutMs` (which also aborts the attempt). The
 * timer is handed out in `timeout` so the caller clears it when the attempt is over.
 */
function withTimeout<T>(
  running: Promise<T>,
  name: string,
  timeoutMs: number | undefined,
  ac: AbortController,
  timeout: { timer?: ReturnType<typeof setTimeout> },
): Promise<T> {
  if (timeoutMs === undefined) return running;
  return Promise.race([
    running,
    new Promise<never>((_, reject) => {
      timeout.timer = setTimeout(() => {
        const err = new ToolTimeoutError(name, timeoutMs);
        ac.abort(err);
        reject(err);
      }, timeoutMs);
    }),
  ]);
}

/** The `StepContext` implementation used by the engine. */
export class StepContextImpl implements StepContext {
  readonly runId: string;
  readonly step: number;
  readonly attempt: number;
  readonly abortSignal: AbortSignal;
  readonly log: StepLogger;
  /** Set when a suspension was thrown (even if step code swallowed it). */
  suspended: Suspend | undefined;
  #deps: ContextDeps;
  #seen: Map<string, number> | undefined;

  constructor(deps: ContextDeps) {
    this.#deps = deps;
    this.runId = deps.runId;
    this.step = deps.step;
    this.attempt = deps.attempt;
    this.abortSignal = deps.abortSignal;
    this.log = deps.log;
  }

  /** @deprecated Use `step`. */
  get stepIndex(): number {
    return this.step;
  }

  /** @deprecated Use `abortSignal`. */
  get signal(): AbortSignal {
    return this.abortSignal;
  }

  #occurrence(base: string): number {
    this.#seen ??= new Map();
    const n = this.#seen.get(base) ?? 0;
    this.#seen.set(base, n + 1);
    return n;
  }

  #suspend(waiting: WaitInfo): never {
    this.suspended = new Suspend(waiting);
    throw this.suspended;
  }

  #baseCall(key: string, kind: CallRecord["kind"], name: string): CallRecord {
    return {
      runId: this.runId,
      key,
      step: this.step,
      kind,
      name,
      args: null,
      argsHash: null,
      status: "started",
      result: null,
      resultBytes: null,
      resultHash: null,
      capped: false,
      error: null,
      errorCategory: null,
      attempts: 0,
      startedAt: Date.now(),
      durationMs: null,
      deadline: null,
    };
  }

  async callTool<T>(
    name: string,
    args: unknown,
    // deno-lint-ignore no-explicit-any
    fn: (args: any, info: ToolCallContext) => T | Promise<T>,
    options: ToolCallOptions = {},
  ): Promise<T> {
    const { store, observer } = this.#deps;
    const call = this.#toolKey(name, args, options.key);
    const existing = await store.getCall(this.runId, call.key);
    if (existing && existing.kind !== "tool") {
      throw new LoomError(`idempotency key ${options.key} is already used by a ${existing.kind}`, {
        category: "validation",
      });
    }
    if (existing?.status === "completed") return this.#replayTool(existing, call, options) as T;
    const retry = resolveRetry(options.retry);
    const maybeRanBefore = existing?.status === "started";
    const before = existing?.attempts ?? 0;
    const row: CallRecord = {
      ...this.#baseCall(call.key, "tool", name),
      args: call.argsJson.length > this.#deps.policy.maxInlineBytes ? null : call.argsJson,
      argsHash: call.argsHash,
      attempts: before,
      startedAt: existing?.startedAt ?? Date.now(),
    };
    await store.putCall(row);
    let attempt = before;
    for (;;) {
      attempt++;
      const t0 = performance.now();
      const startedAt = Date.now();
      const ac = new AbortController();
      const onAbort = () => ac.abort(this.abortSignal.reason);
      this.abortSignal.addEventListener("abort", onAbort, { once: true });
      const timeout: { timer?: ReturnType<typeof setTimeout> } = {};
      const done = { row, call, t0, startedAt, attempt, attempts: attempt - before };
      try {
        if (this.abortSignal.aborted) throw this.abortSignal.reason;
        const info: ToolCallContext = {
          key: call.fnKey,
          abortSignal: ac.signal,
          signal: ac.signal,
          attempt,
          maybeRanBefore: maybeRanBefore && attempt === before + 1,
        };
        const running = Promise.resolve().then(() => fn(args, info));
        const value = await withTimeout(running, name, options.timeoutMs, ac, timeout);
        await this.#toolSucceeded(done, value);
        return value as T;
      } catch (e) {
        if (this.abortSignal.aborted) throw this.abortSignal.reason ?? e;
        const durationMs = performance.now() - t0;
        const { category, wait } = await handleFailedAttempt(store, observer, retry, {
          runId: this.runId,
          step: this.step,
          scope: call.key,
          toolName: name,
          attempt,
          used: attempt - before,
          error: e,
          startedAt,
          durationMs,
        });
        if (wait !== null) {
          await delay(wait, this.abortSignal);
          continue;
        }
        await this.#toolFailed(done, e, category, durationMs);
        throw e;
      } finally {
        if (timeout.timer !== undefined) clearTimeout(timeout.timer);
        this.abortSignal.removeEventListener("abort", onAbort);
      }
    }
  }

  /**
   * The durable key of a tool call (`key:<k>` for an explicit key, else step, name, argument
   * hash and occurrence), the key handed to the tool, and the arguments as stored.
   */
  #toolKey(name: string, args: unknown, explicitKey: string | undefined): ToolKey {
    const argsJson = encodeJson(args === undefined ? null : args, `the arguments of tool ${name}`);
    const argsHash = sha256Hex(stableStringify(args ?? null)).slice(0, 16);
    if (explicitKey !== undefined) {
      return { name, args, key: `key:${explicitKey}`, fnKey: explicitKey, argsJson, argsHash };
    }
    const base = `${this.step}:${name}:${argsHash}`;
    const key = `${base}:${this.#occurrence(base)}`;
    return { name, args, key, fnKey: `${this.runId}:${key}`, argsJson, argsHash };
  }

  /** A completed call: its stored result, without running the tool again. */
  #replayTool(existing: CallRecord, call: ToolKey, options: ToolCallOptions): unknown {
    if (existing.argsHash !== call.argsHash) {
      throw new LoomError(
        `idempotency key ${options.key} was already used in run ${this.runId} with different arguments`,
        { category: "validation" },
      );
    }
    const value = JSON.parse(existing.result ?? "null");
    notify(this.#deps.observer, "onToolCall", {
      runId: this.runId,
      step: this.step,
      name: call.name,
      args: call.args,
      key: call.fnKey,
      replayed: true,
      result: value,
      attempts: 0,
      durationMs: 0,
      startedAt: Date.now(),
    });
    return value;
  }

  /** Records a tool's result (a capped stub when it is larger than the payload policy allows). */
  async #toolSucceeded(done: ToolAttempt, value: unknown): Promise<void> {
    const { row, call } = done;
    const json = encodeJson(value === undefined ? null : value, `the result of tool ${call.name}`);
    const bytes = utf8Length(json);
    const capped = bytes > this.#deps.policy.maxInlineBytes;
    const stored = capped
      ? JSON.stringify({
        $loomCapped: true,
        bytes,
        sha256: sha256Hex(json),
        preview: json.slice(0, 256),
      })
      : json;
    const durationMs = performance.now() - done.t0;
    await this.#deps.store.putCall({
      ...row,
      status: "completed",
      result: stored,
      resultBytes: bytes,
      resultHash: sha256Hex(stored).slice(0, 16),
      capped,
      error: null,
      errorCategory: null,
      attempts: done.attempt,
      durationMs,
    });
    this.#toolCalled(done, durationMs, { result: value });
  }

  /** Records a tool call that failed for good (no retry left). */
  async #toolFailed(
    done: ToolAttempt,
    e: unknown,
    category: ErrorCategory,
    durationMs: number,
  ): Promise<void> {
    await this.#deps.store.putCall({
      ...done.row,
      status: "failed",
      error: errorMessage(e),
      errorCategory: category,
      attempts: done.attempt,
      durationMs,
    });
    this.#toolCalled(done, durationMs, { error: errorMessage(e), errorCategory: category });
  }

  #toolCalled(
    done: ToolAttempt,
    durationMs: number,
    outcome: { result: unknown } | { error: string; errorCategory: ErrorCategory },
  ): void {
    notify(this.#deps.observer, "onToolCall", {
      runId: this.runId,
      step: this.step,
      name: done.call.name,
      args: done.call.args,
      key: done.call.fnKey,
      replayed: false,
      ...outcome,
      attempts: done.attempts,
      durationMs,
      startedAt: done.startedAt,
    });
  }

  async waitForSignal<T = unknown>(
    name: string,
    options: { timeoutMs?: number; validate?: (data: unknown) => T } = {},
  ): Promise<T | SignalTimeout> {
    const { store } = this.#deps;
    const base = `${this.step}:signal:${name}`;
    const key = `${base}:${this.#occurrence(base)}`;
    const existing = await store.getCall(this.runId, key);
    if (existing?.status === "completed") {
      const stored = JSON.parse(existing.result ?? "null") as { data?: unknown; timedOut?: true };
      if (stored.timedOut) return { timedOut: true, name };
      return options.validate ? options.validate(stored.data) : stored.data as T;
    }
    const deadline = existing?.deadline ??
      (options.timeoutMs === undefined ? null : Date.now() + options.timeoutMs);
    const row: CallRecord = {
      ...this.#baseCall(key, "signal", name),
      deadline,
      startedAt: existing?.startedAt ?? Date.now(),
    };
    if (!existing) await store.putCall(row);
    for (;;) {
      const sig = await store.nextSignal(this.runId, name);
      if (!sig) break;
      const data = JSON.parse(sig.data);
      let value: T;
      try {
        value = options.validate ? options.validate(data) : data as T;
      } catch (e) {
        const reason = errorMessage(e);
        await store.consumeSignal(this.runId, sig.seq, { rejected: reason });
        await store.addEvent(
          this.runId,
          "signal-rejected",
          `signal ${name} #${sig.seq} was rejected by the step's validator: ${reason}`,
        );
        this.log.warn(`signal ${name} #${sig.seq} rejected: ${reason}`);
        continue;
      }
      const result = JSON.stringify({ data });
      await store.consumeSignal(this.runId, sig.seq, {
        call: {
          ...row,
          status: "completed",
          result,
          resultBytes: utf8Length(result),
          resultHash: sha256Hex(result).slice(0, 16),
          attempts: 1,
          durationMs: Date.now() - row.startedAt,
        },
      });
      await store.addEvent(
        this.runId,
        "signal-received",
        `step ${this.step} received signal ${name} #${sig.seq}`,
      );
      return value;
    }
    if (deadline !== null && Date.now() >= deadline) {
      const result = JSON.stringify({ timedOut: true });
      await store.putCall({
        ...row,
        status: "completed",
        result,
        resultBytes: result.length,
        resultHash: sha256Hex(result).slice(0, 16),
        attempts: 1,
        durationMs: Date.now() - row.startedAt,
      });
      await store.addEvent(this.runId, "signal-timeout", `waiting for signal ${name} timed out`);
      return { timedOut: true, name };
    }
    this.#suspend({ kind: "signal", name, deadline, key });
  }

  async sleep(ms: number): Promise<void> {
    const { store, maxInProcessSleepMs } = this.#deps;
    const base = `${this.step}:timer`;
    const key = `${base}:${this.#occurrence(base)}`;
    const existing = await store.getCall(this.runId, key);
    if (existing?.status === "completed") return;
    const wakeAt = existing?.deadline ?? Date.now() + Math.max(0, ms);
    const row: CallRecord = {
      ...this.#baseCall(key, "timer", "sleep"),
      args: JSON.stringify({ ms }),
      deadline: wakeAt,
      startedAt: existing?.startedAt ?? Date.now(),
    };
    if (!existing) await store.putCall(row);
    const remaining = wakeAt - Date.now();
    if (remaining > maxInProcessSleepMs) this.#suspend({ kind: "timer", wakeAt, key });
    if (remaining > 0) await delay(remaining, this.abortSignal);
    await store.putCall({
      ...row,
      status: "completed",
      result: "null",
      attempts: 1,
      durationMs: Date.now() - row.startedAt,
    });
  }

  async child<R2>(
    // deno-lint-ignore no-explicit-any
    agent: Agent<any, R2, any>,
    options: { runId: string; input?: unknown },
  ): Promise<R2> {
    const { store } = this.#deps;
    const childId = options.runId;
    const key = `${this.step}:child:${childId}`;
    const existing = await store.getCall(this.runId, key);
    if (existing?.status === "completed") return JSON.parse(existing.result ?? "null") as R2;
    const row: CallRecord = {
      ...this.#baseCall(key, "child", childId),
      args: options.input === undefined
        ? null
        : encodeJson(options.input, `the input of child run ${childId}`),
      startedAt: existing?.startedAt ?? Date.now(),
    };
    if (!existing) await store.putCall(row);
    const out = await this.#deps.runChild(agent, childId, options.input, {
      runId: this.runId,
      step: this.step,
    });
    if (out.status === "completed") {
      const result = out.result === undefined ? "null" : JSON.stringify(out.result);
      await store.putCall({
        ...row,
        status: "completed",
        result,
        resultBytes: utf8Length(result),
        resultHash: sha256Hex(result).slice(0, 16),
        attempts: 1,
        durationMs: Date.now() - row.startedAt,
      });
      return out.result as R2;
    }
    if (out.status === "waiting") this.#suspend({ kind: "child", childRunId: childId, key });
    if (this.abortSignal.aborted) throw this.abortSignal.reason;
    if (out.status === "failed") {
      throw new LoomError(`child run ${childId} failed: ${out.error?.message ?? "unknown error"}`, {
        category: (out.error?.category ?? "unknown") as never,
      });
    }
    throw new LoomError(`child run ${childId} is ${out.status}`, { category: "business" });
  }
}

/**
 * Hooks that let tracing (xray), progress lines and tests watch a run without the engine knowing
 * about them. Every hook is optional and called synchronously; a hook that throws is ignored
 * (logged once) so observation can never break a run.
 *
 * @module
 */
import type { TailCall } from "@loom/tailcalls";
import type { ErrorCategory } from "../errors.ts";
import type { RunStatus, WaitInfo } from "../store/store.ts";

/** Facts about the run handed to `onRunStart`. */
export interface RunStartInfo {
  /** The run that starts or resumes. */
  runId: string;
  /** The agent advancing it. */
  agentName: string;
  /** The agent's version (its state shape). */
  agentVersion: number;
  /** True for a resume, false for a fresh start. */
  resumed: boolean;
  /** The step that runs next. */
  step: number;
  /** @deprecated Use `step`. */
  stepIndex: number;
  /** The parent run of a child run; null for a top-level run. */
  parentRunId: string | null;
  /** The state the next step receives (plain JSON form). */
  state: unknown;
}

/** A tool call as an observer is told of it: ran (successfully or not) or replayed. */
export interface ToolCallEvent {
  /** The run whose step made the call. */
  runId: string;
  /** The step that made the call. */
  step: number;
  /** @deprecated Use `step`. */
  stepIndex: number;
  /** The tool's name. */
  name: string;
  /** The arguments as given. */
  args: unknown;
  /** The idempotency key the tool received. */
  key: string;
  /** True when the result came from the store without running the tool. */
  replayed: boolean;
  /** The whole result, when it succeeded (even when the stored copy is capped). */
  result?: unknown;
  /** The error message, when it failed after all its attempts. */
  error?: string;
  /** Category of `error`. */
  errorCategory?: ErrorCategory;
  /** @deprecated Use `errorCategory`. */
  category?: ErrorCategory;
  /** Attempts made by this process (0 when replayed). */
  attempts: number;
  /** Wall time of the call in ms (0 when replayed). */
  durationMs: number;
  /** When the call (its last attempt) started, ms since epoch. */
  startedAt: number;
}

/** @deprecated Use {@linkcode ToolCallEvent}. */
export type ObservedToolCall = ToolCallEvent;

/**
 * Hooks called by the engine. Every hook that concerns a step gets its number as `step` (and,
 * deprecated, as `stepIndex`).
 */
export interface RunObserver {
  /** A run starts or resumes in this process. */
  onRunStart?(info: RunStartInfo): void;
  /** A step attempt starts; `startedAt` is ms since epoch. */
  onStepStart?(
    info: {
      runId: string;
      step: number;
      /** @deprecated Use `step`. */
      stepIndex: number;
      attempt: number;
      state: unknown;
      startedAt: number;
    },
  ): void;
  /** A step committed: `final` when it returned a result. */
  onStepEnd?(info: {
    runId: string;
    step: number;
    /** @deprecated Use `step`. */
    stepIndex: number;
    attempt: number;
    stateBefore: unknown;
    stateAfter: unknown;
    final: boolean;
    result?: unknown;
    /** The `recur` marker the step returned (trace mode looks up where it was made). */
    marker?: TailCall;
    durationMs: number;
  }): void;
  /** A tool call finished (ran or replayed). */
  onToolCall?(info: ToolCallEvent): void;
  /**
   * A step or tool attempt failed. `retryInMs` is set when another attempt follows; `message`
   * is the error's message.
   */
  onAttemptError?(info: {
    runId: string;
    step: number;
    /** @deprecated Use `step`. */
    stepIndex: number;
    attempt: number;
    scope: "step" | "tool";
    toolName?: string;
    error: unknown;
    message: string;
    errorCategory: ErrorCategory;
    /** @deprecated Use `errorCategory`. */
    category: ErrorCategory;
    retryInMs: number | null;
  }): void;
  /** The run suspended (signal wait, timer or child run). */
  onWaiting?(
    info: {
      runId: string;
      step: number;
      /** @deprecated Use `step`. */
      stepIndex: number;
      waiting: WaitInfo;
    },
  ): void;
  /** A log line from `ctx.log`. */
  onLog?(
    info: {
      runId: string;
      step: number;
      /** @deprecated Use `step`. */
      stepIndex: number;
      level: "info" | "warn" | "error";
      message: string;
      data?: unknown;
    },
  ): void;
  /** The run stopped in this process (any status); `steps` is the next step's number. */
  onRunEnd?(info: {
    runId: string;
    status: RunStatus;
    steps: number;
    result?: unknown;
    error?: { message: string; category: ErrorCategory };
  }): void;
}

/** What hook `K` receives. */
type HookInfo<K extends keyof RunObserver> = Parameters<NonNullable<RunObserver[K]>>[0];

/** The deprecated duplicates `notify` fills in: callers give only the current names. */
type DeprecatedNames = "stepIndex" | "category";

/**
 * Calls a hook, swallowing (and reporting once) errors thrown by observers. Fills in the
 * deprecated duplicates of `step` (`stepIndex`) and `errorCategory` (`category`), so observers
 * written against the old names keep working; this is the one place that knows them.
 */
export function notify<K extends keyof RunObserver>(
  observer: RunObserver | undefined,
  hook: K,
  info: Omit<HookInfo<K>, DeprecatedNames>,
): void {
  const fn = observer?.[hook] as ((i: unknown) => void) | undefined;
  if (!fn) return;
  const full = info as Record<string, unknown>;
  if ("step" in full) full.stepIndex = full.step;
  if ("errorCategory" in full) full.category = full.errorCategory;
  try {
    fn.call(observer, full);
  } catch (e) {
    if (!reported.has(observer!)) {
      reported.add(observer!);
      console.error(`warning: run observer ${hook} threw: ${(e as Error)?.message ?? e}`);
    }
  }
}
const reported = new WeakSet<object>();

/** Combines observers into one. */
export function combineObservers(...observers: (RunObserver | undefined)[]): RunObserver {
  const list = observers.filter((o): o is RunObserver => !!o);
  const out: RunObserver = {};
  const hooks: (keyof RunObserver)[] = [
    "onRunStart",
    "onStepStart",
    "onStepEnd",
    "onToolCall",
    "onAttemptError",
    "onWaiting",
    "onLog",
    "onRunEnd",
  ];
  for (const h of hooks) {
    if (list.some((o) => o[h])) {
      (out as Record<string, unknown>)[h] = (info: never) => {
        for (const o of list) notify(o, h, info);
      };
    }
  }
  return out;
}

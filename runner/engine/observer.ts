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
  /** Run id. */
  runId: string;
  /** Agent name. */
  agentName: string;
  /** Agent version. */
  agentVersion: number;
  /** True for a resume, false for a fresh start. */
  resumed: boolean;
  /** Index of the step that runs next. */
  stepIndex: number;
  /** Parent run id for child runs. */
  parentRunId: string | null;
  /** Current state (plain JSON form). */
  state: unknown;
}

/** One tool call as seen by observers. */
export interface ToolCallInfo {
  /** Run id. */
  runId: string;
  /** Step index. */
  stepIndex: number;
  /** Tool name. */
  name: string;
  /** Arguments. */
  args: unknown;
  /** The call's idempotency key. */
  key: string;
  /** True when the result came from the store without running the tool. */
  replayed: boolean;
  /** The result (whole) when it succeeded. */
  result?: unknown;
  /** The error message when it failed after all attempts. */
  error?: string;
  /** Category of that error. */
  category?: ErrorCategory;
  /** Attempts made (0 when replayed). */
  attempts: number;
  /** Wall time of the call in ms (0 when replayed). */
  durationMs: number;
  /** Start time, ms since epoch. */
  startedAt: number;
}

/** Hooks called by the engine. */
export interface RunObserver {
  /** A run starts or resumes in this process. */
  onRunStart?(info: RunStartInfo): void;
  /** A step attempt starts. */
  onStepStart?(
    info: { runId: string; stepIndex: number; attempt: number; state: unknown; startedAt: number },
  ): void;
  /** A step committed: `final` when it returned a result. */
  onStepEnd?(info: {
    runId: string;
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
  onToolCall?(info: ToolCallInfo): void;
  /** A step or tool attempt failed. `retryInMs` is set when another attempt follows. */
  onAttemptError?(info: {
    runId: string;
    stepIndex: number;
    attempt: number;
    scope: "step" | "tool";
    toolName?: string;
    error: unknown;
    message: string;
    category: ErrorCategory;
    retryInMs: number | null;
  }): void;
  /** The run suspended (signal, timer or child). */
  onWaiting?(info: { runId: string; stepIndex: number; waiting: WaitInfo }): void;
  /** A log line from `ctx.log`. */
  onLog?(
    info: {
      runId: string;
      stepIndex: number;
      level: "info" | "warn" | "error";
      message: string;
      data?: unknown;
    },
  ): void;
  /** The run stopped in this process (any status). */
  onRunEnd?(info: {
    runId: string;
    status: RunStatus;
    steps: number;
    result?: unknown;
    error?: { message: string; category: ErrorCategory };
  }): void;
}

/** Calls a hook, swallowing (and reporting once) errors thrown by observers. */
export function notify<K extends keyof RunObserver>(
  observer: RunObserver | undefined,
  hook: K,
  info: Parameters<NonNullable<RunObserver[K]>>[0],
): void {
  const fn = observer?.[hook] as ((i: unknown) => void) | undefined;
  if (!fn) return;
  try {
    fn.call(observer, info);
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

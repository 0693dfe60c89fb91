/**
 * `--trace FILE`: records the supervisor and all its sub-runs with `@loom/xray` — a span per run
 * and per step (sub-runs nest under the step that started them), every command as a tool span
 * with its idempotency key (replayed ones marked), failed attempts as errors, approval waits as
 * events — and writes one offline HTML file (JSON when the name does not end in `.html`).
 *
 * @module
 */
import type { RunObserver } from "@loom/runner";
import { Recorder, type SpanHandle, writeHtml, writeTrace } from "@loom/xray";

/** A trace being recorded. */
export interface Tracer {
  /** Observer handed to the runner. */
  observer: RunObserver;
  /** Writes the file. */
  finish(): Promise<void>;
}

/** Starts recording a trace that `finish()` writes to `path`. */
export function createTracer(path: string): Tracer {
  const recorder = new Recorder({ name: "loom-ops", meta: { app: "loom-ops" } });
  const runs = new Map<string, SpanHandle>();
  const steps = new Map<string, SpanHandle>();
  const parentOf = (runId: string): SpanHandle | null =>
    steps.get(runId) ?? runs.get(runId) ?? null;
  const observer: RunObserver = {
    onRunStart: (info) => {
      runs.set(
        info.runId,
        recorder.startSpan("run", info.runId, {
          parent: info.parentRunId ? parentOf(info.parentRunId) : null,
          attributes: {
            "loom.run.id": info.runId,
            "loom.agent.name": info.agentName,
            "loom.run.resumed": info.resumed,
          },
        }),
      );
    },
    onStepStart: (info) => {
      steps.set(
        info.runId,
        recorder.startSpan("step", `step ${info.stepIndex}`, {
          parent: runs.get(info.runId) ?? null,
          attributes: { "loom.step.index": info.stepIndex, "loom.step.attempt": info.attempt },
        }),
      );
    },
    onStepEnd: (info) => {
      steps.get(info.runId)?.end({ output: info.final ? info.result : undefined });
      steps.delete(info.runId);
    },
    onToolCall: (info) => {
      const args = info.args as { argv?: string[]; step?: string } | null;
      recorder.recordTool({
        parent: parentOf(info.runId),
        name: args?.argv ? `${info.name}: ${args.argv.join(" ")}` : info.name,
        args: info.args,
        result: info.result,
        key: info.key,
        replayed: info.replayed,
        error: info.error ? new Error(info.error) : undefined,
        startTime: info.startedAt,
        durationMs: info.durationMs,
      });
    },
    onAttemptError: (info) => {
      recorder.recordError(info.error, {
        parent: parentOf(info.runId),
        name: `${info.scope === "tool" ? info.toolName : "step"} attempt ${info.attempt} failed`,
        attributes: { "error.category": info.category },
      });
    },
    onWaiting: (info) => {
      recorder.recordEvent(
        `waiting: ${info.waiting.kind === "signal" ? info.waiting.name : info.waiting.kind}`,
        {
          parent: parentOf(info.runId),
        },
      );
    },
    onRunEnd: (info) => {
      const step = steps.get(info.runId);
      step?.end({ error: info.error ? new Error(info.error.message) : undefined });
      steps.delete(info.runId);
      runs.get(info.runId)?.end({
        output: info.result,
        error: info.error ? new Error(info.error.message) : undefined,
        attributes: { "loom.run.status": info.status, "loom.run.steps": info.steps },
      });
      runs.delete(info.runId);
    },
  };
  return {
    observer,
    async finish() {
      const trace = recorder.toJSON();
      if (path.endsWith(".html")) await writeHtml(trace, path);
      else await writeTrace(trace, path);
    },
  };
}

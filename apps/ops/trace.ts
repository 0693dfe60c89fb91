/**
 * `--trace FILE`: after the command, rebuilds the trace of the whole run from the store with the
 * runner's `traceRun` — every process that worked on it (before and after an approval or a
 * crash), the supervisor and all its sub-runs, failed attempts, signals — and writes one offline
 * `@loom/xray` HTML page (JSON when the name does not end in `.html`). Commands are drawn as tool
 * spans named after their argv, marked as errors when refused, timed out or non-zero.
 *
 * @module
 */
import type { CallRecord, Store } from "@loom/runner";
import { traceRun } from "@loom/runner/trace";
import { type Recorder, type SpanHandle, writeHtml, writeTrace } from "@loom/xray";
import type { ExecResult } from "./executor.ts";

function parse<T>(text: string | null): T | undefined {
  return text === null ? undefined : JSON.parse(text) as T;
}

/** Draws loom-ops command and verify calls; other calls get the runner's default drawing. */
export function drawCommand(call: CallRecord, parent: SpanHandle, recorder: Recorder): boolean {
  if (call.kind !== "tool" || (call.name !== "command" && call.name !== "verify")) return false;
  const args = parse<{ step: string; attempt: number; argv: string[] }>(call.args);
  const result = call.status === "completed" ? parse<ExecResult>(call.result) : undefined;
  const problem = call.status === "failed"
    ? call.error ?? "failed"
    : result?.refused
    ? `refused by ${result.refused.by}: ${result.refused.reason}`
    : result?.timedOut
    ? "timed out"
    : result && result.exitCode !== 0
    ? `exit code ${result.exitCode}`
    : call.status === "started"
    ? "no result recorded (the process stopped while it ran)"
    : undefined;
  recorder.recordTool({
    parent,
    startTime: call.startedAt,
    durationMs: call.durationMs ?? 0,
    name: `${call.name}: ${args?.argv.join(" ") ?? "?"}`,
    args,
    result,
    key: call.key,
    error: problem ? new Error(problem) : undefined,
    attributes: {
      "loom.ops.step": args?.step ?? "",
      "loom.ops.attempt": args?.attempt ?? 0,
      "loom.ops.exit_code": result?.exitCode ?? -1,
      "loom.tool.status": call.status,
    },
  });
  return true;
}

/** Writes the trace of `runId` (and its sub-runs) to `path`. */
export async function writeRunTrace(store: Store, runId: string, path: string): Promise<void> {
  const trace = await traceRun(store, runId, {
    recordCall: drawCommand,
    meta: { app: "loom-ops" },
  });
  if (path.endsWith(".html")) await writeHtml(trace, path);
  else await writeTrace(trace, path);
}

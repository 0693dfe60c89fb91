/**
 * Rebuilds a trace of a stored run (and its child runs) from the run store: a span per run and
 * step, an LLM span per durable LLM call (tokens and cost from the stored reply) and a tool span
 * per durable tool call. `serve` uses it for `GET /runs/:id/trace`, so any run has a trace, even
 * one started by another process.
 *
 * @module
 */
import type { Store } from "@loom/runner";
import { Recorder, type SpanHandle, type TraceData } from "@loom/xray";
import type { LlmReply } from "./llm/types.ts";

/** Builds the trace of `runId` and its descendants from the store. */
export async function traceFromStore(store: Store, runId: string): Promise<TraceData | undefined> {
  const root = await store.getRun(runId);
  if (!root) return undefined;
  const recorder = new Recorder({
    name: runId,
    startTime: root.createdAt,
    meta: { runId, source: store.location },
  });
  await addRun(store, recorder, runId, null);
  return recorder.toJSON();
}

async function addRun(
  store: Store,
  recorder: Recorder,
  runId: string,
  parent: SpanHandle | null,
): Promise<void> {
  const run = (await store.getRun(runId))!;
  const steps = await store.listSteps(runId);
  const calls = await store.listCalls(runId);
  const children = await store.listRuns({ parentRunId: runId });
  const end = Math.max(run.updatedAt, ...steps.map((s) => s.startedAt + s.durationMs));
  const span = recorder.startSpan("run", runId, {
    parent,
    startTime: run.createdAt,
    input: run.input ? JSON.parse(run.input) : undefined,
    attributes: {
      "loom.run.id": runId,
      "loom.agent.name": run.agentName,
      "loom.run.status": run.status,
    },
  });
  const addCalls = async (stepIndex: number, stepSpan: SpanHandle) => {
    for (const call of calls.filter((c) => c.step === stepIndex)) {
      const timing = {
        parent: stepSpan,
        startTime: call.startedAt,
        durationMs: call.durationMs ?? 0,
      };
      const result = call.result ? JSON.parse(call.result) : undefined;
      const error = call.status === "failed" ? new Error(call.error ?? "failed") : undefined;
      if (call.kind === "tool" && call.name === "llm" && result && typeof result === "object") {
        const reply = result as LlmReply;
        recorder.recordLlm({
          ...timing,
          model: reply.model ?? "unknown",
          response: { content: reply.content, tool_calls: reply.toolCalls },
          inputTokens: reply.usage?.promptTokens,
          outputTokens: reply.usage?.completionTokens,
          costUsd: reply.costUsd,
          finishReasons: reply.finishReason ? [reply.finishReason] : undefined,
          error,
        });
      } else if (call.kind === "tool") {
        recorder.recordTool({
          ...timing,
          name: call.name,
          args: call.args ? JSON.parse(call.args) : undefined,
          result,
          key: call.key,
          error,
        });
      } else if (call.kind === "child") {
        const child = children.find((c) => c.runId === call.name);
        if (child) await addRun(store, recorder, child.runId, stepSpan);
      }
    }
  };
  for (const step of steps) {
    const stepSpan = recorder.startSpan("step", `step ${step.step}`, {
      parent: span,
      startTime: step.startedAt,
      attributes: { "loom.step.index": step.step, "loom.step.attempt": step.attempt },
    });
    await addCalls(step.step, stepSpan);
    stepSpan.end({ endTime: step.startedAt + step.durationMs });
  }
  // Calls of a step that has not committed (the run was stopped inside it).
  const committed = new Set(steps.map((s) => s.step));
  for (const index of new Set(calls.map((c) => c.step))) {
    if (committed.has(index)) continue;
    const open = recorder.startSpan("step", `step ${index} (not committed)`, {
      parent: span,
      startTime: calls.find((c) => c.step === index)!.startedAt,
    });
    await addCalls(index, open);
    open.end({ status: "unset" });
  }
  // Children not reached through a step (e.g. the parent is still in its children step).
  const done = new Set(calls.filter((c) => c.kind === "child").map((c) => c.name));
  for (const child of children) {
    if (!done.has(child.runId)) await addRun(store, recorder, child.runId, span);
  }
  span.end({
    endTime: end,
    output: run.result ? JSON.parse(run.result) : undefined,
    error: run.status === "failed" ? new Error(run.error ?? "failed") : undefined,
    status: run.status === "failed" ? "error" : run.status === "completed" ? "ok" : "unset",
  });
}

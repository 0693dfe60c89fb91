/**
 * One tool call the model asked for, as a durable call of the run. Everything that can go wrong
 * becomes an error result the model reads (`{ ok: false, output: "error: ..." }`), stored like a
 * success so a resumed run replays it instead of running the tool again: arguments that are not
 * a JSON object, an unknown tool, arguments that break the tool's JSON Schema (checked before
 * `run`), and failures of the tool itself. Failures in a category the tool's retry policy names
 * (by default `transient`: timeouts, network errors, HTTP 429/5xx) are retried by the runner
 * first, each failed attempt recorded; the model sees the last one only when the attempts are
 * spent.
 *
 * @module
 */
import { classifyError, type StepContext, ToolTimeoutError } from "@loom/runner";
import type { ToolCall } from "../llm/types.ts";
import { schemaErrors } from "../tools/json_schema.ts";
import { type Tool, ToolError } from "../tools/types.ts";
import type { ChatEvent } from "./events.ts";

/** The outcome of one tool call as stored: errors are results the model sees, not failures. */
export interface ToolOutcome {
  /** False when `output` is an error the model is shown. */
  ok: boolean;
  /** What the model reads. */
  output: string;
}

/** Attempts of a tool call when its policy does not say. */
const DEFAULT_ATTEMPTS = 3;

/** Parses the model's arguments text: a JSON object, or the error outcome the model is shown. */
function parseArguments(
  call: ToolCall,
): { args: Record<string, unknown> } | { refused: ToolOutcome } {
  const text = call.function.arguments;
  try {
    const parsed = JSON.parse(text || "{}");
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return { args: parsed };
    }
  } catch {
    // reported below
  }
  return {
    refused: {
      ok: false,
      output: `error: the arguments of ${call.function.name} are not a JSON object: ${
        text.slice(0, 200)
      }`,
    },
  };
}

/** Why a call with parsed arguments cannot run (unknown tool, bad arguments), or undefined. */
function refusedCall(
  tools: ReadonlyMap<string, Tool>,
  name: string,
  args: Record<string, unknown>,
): ToolOutcome | undefined {
  const tool = tools.get(name);
  if (!tool) {
    return {
      ok: false,
      output: `error: there is no tool named '${name}'; available: ${[...tools.keys()].join(", ")}`,
    };
  }
  const problems = schemaErrors(tool.parameters, args);
  if (problems.length > 0) {
    return {
      ok: false,
      output: `error: invalid arguments for ${name}: ${
        problems.join("; ")
      }; call it again with arguments that match its schema`,
    };
  }
  return undefined;
}

/** Runs `run` with a time limit: past it, `controller` is aborted and a `ToolTimeoutError` thrown. */
async function withTimeout<T>(
  name: string,
  timeoutMs: number | undefined,
  controller: AbortController,
  run: () => Promise<T>,
): Promise<T> {
  if (timeoutMs === undefined) return await run();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new ToolTimeoutError(name, timeoutMs);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The message the model reads for a failed tool. */
function failureText(name: string, error: unknown): string {
  if (error instanceof ToolError) return `error: ${error.message}`;
  return `error: ${name} failed: ${(error as Error)?.message ?? error}`;
}

/**
 * Runs one tool call the model asked for as the durable call `key` of the step. A call stored
 * by an earlier process returns its stored outcome without running the tool.
 *
 * @param ctx The step's context.
 * @param tools The tools by name.
 * @param call The model's tool call.
 * @param key Idempotency key of the call in the run (`tool:<turn>:<call id>`).
 * @param emit Receives `tool_start`, `tool_end` and `warning` events.
 * @returns The outcome the model reads.
 */
export async function runToolCall(
  ctx: StepContext,
  tools: ReadonlyMap<string, Tool>,
  call: ToolCall,
  key: string,
  emit: (event: ChatEvent) => void,
): Promise<ToolOutcome> {
  const name = call.function.name;
  const tool = tools.get(name);
  const retry = tool?.retry ?? {};
  const maxAttempts = retry.maxAttempts ?? DEFAULT_ATTEMPTS;
  const retryOn = retry.retryOn ?? ["transient"];
  return await ctx.callTool<ToolOutcome>(
    name,
    { arguments: call.function.arguments, callId: call.id },
    async (_args, info) => {
      const startedAt = Date.now();
      const parsed = parseArguments(call);
      const args = "args" in parsed ? parsed.args : undefined;
      const event = {
        runId: ctx.runId,
        name,
        args: args ?? call.function.arguments,
        key,
        callId: call.id,
      };
      emit({ type: "tool_start", ...event });
      const end = (outcome: ToolOutcome) => {
        emit({
          type: "tool_end",
          ...event,
          ...outcome,
          startedAt,
          durationMs: Date.now() - startedAt,
        });
        return outcome;
      };
      const refused = "refused" in parsed ? parsed.refused : refusedCall(tools, name, args!);
      if (refused) return end(refused);
      const controller = new AbortController();
      const signal = AbortSignal.any([info.abortSignal, controller.signal]);
      try {
        const output = await withTimeout(
          name,
          tool!.timeoutMs,
          controller,
          () =>
            tool!.run(args!, {
              signal,
              runId: ctx.runId,
              key: info.key,
              callId: call.id,
              attempt: info.attempt,
              maybeRanBefore: info.maybeRanBefore,
              warn: (message) => emit({ type: "warning", runId: ctx.runId, message }),
            }),
        );
        return end({ ok: true, output });
      } catch (error) {
        if (info.abortSignal.aborted) throw error; // the run stops: not the tool's failure
        const category = classifyError(error, retry.classify);
        // The runner retries (and records) this attempt's failure; the model never sees it.
        if (retryOn.includes(category) && info.attempt < maxAttempts) throw error;
        return end({ ok: false, output: failureText(name, error) });
      }
    },
    { key, retry: { ...retry, maxAttempts } },
  );
}

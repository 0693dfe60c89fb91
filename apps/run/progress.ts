/**
 * Human-readable progress of a run: answer text streams to stdout as it arrives, tool calls and
 * other progress go to stderr (so `> answer.txt` keeps only the answer).
 *
 * @module
 */
import type { RunObserver } from "@loom/runner";
import type { UsageTotals } from "./agent/usage.ts";
import type { RunEvent } from "./agent/events.ts";

/** Where progress is written. */
export interface ProgressOutput {
  /** The answer text stream. */
  out(text: string): void;
  /** Progress lines. */
  err(line: string): void;
}

/** The process's own stdout and stderr. */
export const TERMINAL: ProgressOutput = {
  out: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
  err: (line) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n")),
};

function brief(value: unknown, max = 100): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const line = (text ?? "").replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Tokens and cost for a summary line: `681 tokens · $0.0004`. Calls whose endpoint sent no usage
 * (or whose model has no known price) make it `tokens unknown` / `cost unknown`, or a lower bound
 * (`≥ 681 tokens`) when only some calls are unknown: never a false zero.
 */
export function formatUsage(u: UsageTotals): string {
  const tokens = u.promptTokens + u.completionTokens;
  const noUsage = u.callsWithoutUsage ?? 0;
  const noCost = u.callsWithoutCost ?? 0;
  const tokenText = noUsage === 0
    ? `${tokens} tokens`
    : noUsage >= u.calls
    ? "tokens unknown"
    : `≥ ${tokens} tokens (${noUsage} of ${u.calls} LLM calls without usage)`;
  const costText = noCost === 0
    ? `$${u.costUsd.toFixed(4)}`
    : noCost >= u.calls
    ? "cost unknown"
    : `≥ $${u.costUsd.toFixed(4)} (cost of ${noCost} of ${u.calls} LLM calls unknown)`;
  return `${tokenText} · ${costText}`;
}

/** Prints the events and runner notifications of the run `mainRunId` (and its children). */
export class Progress {
  /** Text of `mainRunId` streamed so far (so the final answer is not printed twice). */
  streamed = "";
  readonly #main: string;
  readonly #io: ProgressOutput;
  #midLine = false;

  /**
   * @param mainRunId the run whose answer streams to stdout
   * @param io where to write
   */
  constructor(mainRunId: string, io: ProgressOutput = TERMINAL) {
    this.#main = mainRunId;
    this.#io = io;
  }

  #line(text: string): void {
    if (this.#midLine) {
      this.#io.out("\n");
      this.#midLine = false;
    }
    this.#io.err(text);
  }

  #tag(runId: string): string {
    return runId === this.#main || runId === "" ? "" : `[${runId}] `;
  }

  /** Handles one run event. */
  onEvent = (event: RunEvent): void => {
    switch (event.type) {
      case "delta":
        if (event.runId !== this.#main) return;
        this.#io.out(event.text);
        this.streamed += event.text;
        this.#midLine = !event.text.endsWith("\n");
        return;
      case "tool_start":
        this.#line(`  ${this.#tag(event.runId)}→ ${event.name} ${brief(event.args)}`);
        return;
      case "tool_end":
        this.#line(
          event.ok
            ? `  ${this.#tag(event.runId)}✓ ${event.name} (${event.durationMs} ms)`
            : `  ${this.#tag(event.runId)}✗ ${event.name}: ${brief(event.output, 160)}`,
        );
        return;
      case "plan":
        this.#line(`plan: ${event.tasks.length} sub-tasks`);
        event.tasks.forEach((t, i) => this.#line(`  ${i + 1}. ${t}`));
        return;
      case "child":
        if (event.status === "started") {
          this.#line(`child ${event.childRunId} started: ${brief(event.task, 80)}`);
        } else if (event.status === "completed") {
          this.#line(`child ${event.childRunId} completed: ${brief(event.answer, 100)}`);
        } else this.#line(`child ${event.childRunId} failed: ${brief(event.answer, 160)}`);
        return;
      case "answer":
        if (event.runId === this.#main && this.#midLine) {
          this.#io.out("\n");
          this.#midLine = false;
        }
        return;
      case "warning":
        this.#line(`${this.#tag(event.runId)}warning: ${event.message}`);
        return;
    }
  };

  /** Runner notifications: replayed calls, retries, waits. */
  observer: RunObserver = {
    onRunStart: (info) => {
      if (info.resumed) {
        this.#line(`${this.#tag(info.runId)}resuming ${info.runId} at step ${info.step}`);
      }
    },
    onToolCall: (info) => {
      if (info.replayed) {
        this.#line(
          `  ${this.#tag(info.runId)}↺ ${info.name} (finished before; result taken from the store)`,
        );
      }
    },
    onAttemptError: (info) => {
      const what = info.scope === "tool" ? info.toolName : "step";
      const retry = info.retryInMs === null ? "" : `; retrying in ${info.retryInMs} ms`;
      this.#line(
        `  ${this.#tag(info.runId)}! ${what} attempt ${info.attempt} failed: ${
          brief(info.message, 160)
        }${retry}`,
      );
    },
  };
}

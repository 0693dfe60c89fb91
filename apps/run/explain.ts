/**
 * `loom-run explain`: the runner's account of a run (steps, attempts, tool calls, replays) plus
 * the conversation read back from the run's state.
 *
 * @module
 */
import { explainRun, formatExplain } from "@loom/runner";
import type { ChatState } from "./agent/chat.ts";
import type { SupervisorState } from "./agent/supervisor.ts";
import type { Config } from "./config.ts";
import { UsageError } from "./errors.ts";
import type { ProgressOutput } from "./progress.ts";
import { latestState, openRunStore } from "./runs.ts";

/** One line of a conversation summary. */
export interface TranscriptLine {
  /** Who spoke: user, assistant, tool, or a supervisor phase. */
  role: string;
  /** What was said (shortened). */
  text: string;
}

function short(text: string, max = 160): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The conversation of a chat state, or the plan and children of a supervisor state. */
export function transcript(state: unknown): TranscriptLine[] {
  const chat = state as Partial<ChatState>;
  if (Array.isArray(chat?.messages)) {
    const lines: TranscriptLine[] = [];
    for (const m of chat.messages) {
      if (m.role === "system") continue;
      if (m.role === "user") lines.push({ role: "user", text: short(m.content) });
      else if (m.role === "tool") lines.push({ role: "tool", text: short(m.content, 120) });
      else {
        if (m.content) lines.push({ role: "assistant", text: short(m.content) });
        if (m.refusal) lines.push({ role: "refusal", text: short(m.refusal) });
        for (const c of m.tool_calls ?? []) {
          lines.push({
            role: "assistant",
            text: `calls ${c.function.name} ${short(c.function.arguments, 80)}`,
          });
        }
      }
    }
    return lines;
  }
  const sup = state as Partial<SupervisorState>;
  if (typeof sup?.goal === "string") {
    const lines: TranscriptLine[] = [{ role: "goal", text: sup.goal }, {
      role: "phase",
      text: String(sup.phase),
    }];
    (sup.tasks ?? []).forEach((t, i) => {
      const answer = sup.results?.[i]?.answer;
      lines.push({
        role: `task ${i + 1}`,
        text: short(t) + (answer ? ` → ${short(answer, 100)}` : ""),
      });
    });
    return lines;
  }
  return [];
}

/** Runs `explain`; returns the exit code. */
export async function explainCommand(config: Config, io: ProgressOutput): Promise<number> {
  const runId = config.runId!;
  const store = openRunStore(config.db);
  try {
    if (!(await store.getRun(runId))) {
      throw new UsageError(`there is no run '${runId}' in ${store.location}`);
    }
    const explanation = await explainRun(store, runId);
    const run = (await store.getRun(runId))!;
    const lines = transcript(await latestState(store, runId));
    // The final step keeps no state: the answer is in the run's result.
    if (run.result) {
      const result = JSON.parse(run.result) as {
        answer?: string;
        stoppedBy?: string;
        refusal?: string;
      };
      if (result?.stoppedBy === "refusal") {
        lines.push({ role: "refusal", text: short(result.refusal ?? "", 400) });
      } else if (typeof result?.answer === "string") {
        const cut = result.stoppedBy === "length" ? " [cut off at the output token limit]" : "";
        lines.push({ role: "answer", text: short(result.answer, 400) + cut });
      }
    }
    const children = await store.listRuns({ parentRunId: runId });
    if (config.json) {
      io.out(
        JSON.stringify({
          explain: explanation,
          transcript: lines,
          children: children.map((c) => ({ runId: c.runId, status: c.status })),
        }) + "\n",
      );
      return 0;
    }
    io.out(formatExplain(explanation) + "\n");
    if (lines.length > 0) {
      io.out("\nconversation:\n");
      for (const l of lines) io.out(`  ${l.role.padEnd(9)} ${l.text}\n`);
    }
    if (children.length > 0) {
      io.out("\nchild runs:\n");
      for (
        const c of [...children].sort((a, b) =>
          a.runId.localeCompare(b.runId, "en", { numeric: true })
        )
      ) io.out(`  ${c.runId.padEnd(20)} ${c.status}\n`);
    }
    return 0;
  } finally {
    store.close();
  }
}

/**
 * The prompts `loom-run` sends. The mock recognises the planning and synthesis prompts by their
 * markers, so real and mock LLMs get exactly the same requests.
 *
 * @module
 */

/** Marker of the supervisor's planning prompt. */
export const PLAN_MARKER = "Split the goal into sub-tasks";

/** Marker of the supervisor's synthesis prompt. */
export const SYNTHESIS_MARKER = "Combine the sub-task answers";

/** System prompt of the chat agent. */
export const CHAT_SYSTEM =
  "You are loom-run, an assistant that answers questions about a code repository. " +
  "Use the tools to read files, list and search the workspace and run its tests before you answer; " +
  "do not guess file contents. Paths are relative to the workspace. " +
  "When you know the answer, reply with it in plain text and call no tool.";

/** System prompt of the supervisor's planning call. */
export const PLAN_SYSTEM =
  `${PLAN_MARKER}: given a goal about a code repository, reply with a JSON array of 2 to 5 short, ` +
  "independent sub-task strings (one question each that a helper with file, search and test tools can answer). " +
  "Reply with the JSON array only.";

/** System prompt of the supervisor's synthesis call. */
export const SYNTHESIS_SYSTEM =
  `${SYNTHESIS_MARKER} into one final answer for the goal. Be concise; keep file names and line numbers.`;

/** The synthesis request's user message: the goal, then one `## N. task` section per answer. */
export function synthesisPrompt(goal: string, tasks: string[], answers: string[]): string {
  const sections = tasks.map((t, i) => `## ${i + 1}. ${t}\n${answers[i]}`);
  return `Goal: ${goal}\n\n${sections.join("\n\n")}\n`;
}

/** Parses the planner's reply into sub-tasks; falls back to the goal itself. */
export function parsePlan(reply: string, goal: string, max = 5): string[] {
  const match = reply.match(/\[[\s\S]*\]/);
  if (match) {
    try {
      const list = JSON.parse(match[0]);
      if (Array.isArray(list)) {
        const tasks = list.filter((t): t is string => typeof t === "string" && t.trim() !== "");
        if (tasks.length > 0) return tasks.slice(0, max);
      }
    } catch {
      // not JSON: fall through
    }
  }
  const lines = reply.split("\n").map((l) => l.replace(/^\s*(\d+[.)]|[-*])\s*/, "").trim()).filter(
    Boolean,
  );
  return lines.length > 1 ? lines.slice(0, max) : [goal];
}

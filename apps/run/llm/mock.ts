/**
 * The deterministic mock LLM, for CI and demos. It plans tool calls from the question and from
 * the results it has seen (list the files, run the tests, search what failed, read where it is),
 * then writes an answer from those results. Same conversation in, same reply out.
 *
 * @module
 */
import { PLAN_MARKER, SYNTHESIS_MARKER } from "./prompts.ts";
import {
  type ChatMessage,
  type ChatModel,
  estimateTokens,
  type LlmReply,
  type LlmRequest,
  type ToolCall,
  type ToolSpec,
} from "./types.ts";

/** A tool call the mock wants to make. */
interface Action {
  name: string;
  args: Record<string, unknown>;
}

/** A tool call made earlier in the conversation, with its result. */
interface Seen extends Action {
  result: string;
}

/** How many rounds of tool calls the mock makes before it answers. */
const MAX_ROUNDS = 4;

/** The deterministic mock provider; see the module doc. */
export class MockProvider implements ChatModel {
  /** Who serves it. */
  readonly provider = "mock";
  /** Model name reported in traces. */
  readonly model: string;

  /** @param model name to report */
  constructor(model = "loom-mock-1") {
    this.model = model;
  }

  /** Plans the next tool calls or writes the answer; streams answer text through `onDelta`. */
  complete(request: LlmRequest): Promise<LlmReply> {
    const system = request.messages.find((m) => m.role === "system")?.content ?? "";
    let content = "";
    let toolCalls: ToolCall[] = [];
    if (system.includes(PLAN_MARKER)) {
      content = JSON.stringify(planSubtasks(lastUser(request.messages)));
    } else if (system.includes(SYNTHESIS_MARKER)) {
      content = synthesize(lastUser(request.messages));
    } else {
      const { question, seen, rounds } = conversation(request.messages);
      const next = rounds < MAX_ROUNDS ? plan(question, seen, request.tools) : [];
      if (next.length > 0) {
        toolCalls = next.map((a, i) => ({
          id: `call_${rounds + 1}_${i + 1}`,
          type: "function",
          function: { name: a.name, arguments: JSON.stringify(a.args) },
        }));
      } else {
        content = answer(question, seen);
      }
    }
    // Stream the text word by word, as a real endpoint would.
    for (const piece of content.match(/\S+\s*|\s+/g) ?? []) request.onDelta?.(piece);
    const prompt = request.messages.reduce((n, m) => n + estimateTokens(m.content ?? ""), 0);
    return Promise.resolve({
      content,
      toolCalls,
      model: this.model,
      finishReason: toolCalls.length > 0 ? "tool_calls" : "stop",
      usage: {
        promptTokens: prompt,
        completionTokens: estimateTokens(content + JSON.stringify(toolCalls)),
      },
      costUsd: 0,
    });
  }
}

function lastUser(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role === "user") return m.content;
  }
  return "";
}

/** The last question, the tool calls answered since, and how many assistant rounds there were. */
function conversation(messages: ChatMessage[]): { question: string; seen: Seen[]; rounds: number } {
  let start = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === "user") {
      start = i;
      break;
    }
  }
  const question = (messages[start] as { content: string }).content ?? "";
  const seen: Seen[] = [];
  let rounds = 0;
  const results = new Map<string, string>();
  for (const m of messages.slice(start)) {
    if (m.role === "tool") results.set(m.tool_call_id, m.content);
  }
  for (const m of messages.slice(start)) {
    if (m.role !== "assistant") continue;
    rounds++;
    for (const call of m.tool_calls ?? []) {
      let args: Record<string, unknown> = {};
      try {
        args = JSON.parse(call.function.arguments);
      } catch {
        // a malformed call is still "seen"
      }
      seen.push({ name: call.function.name, args, result: results.get(call.id) ?? "" });
    }
  }
  return { question, seen, rounds };
}

/** The next tool calls: those suggested by the question and the results, not made yet. */
function plan(question: string, seen: Seen[], tools: ToolSpec[]): Action[] {
  const offered = new Set(tools.map((t) => t.name));
  const wanted: Action[] = [];
  // Explicit directives: `@tool_name {"json": "args"}` calls any offered tool (MCP tools too).
  for (const m of question.matchAll(/@([A-Za-z0-9_-]+)(\s+(\{[^\n]*?\}))?(?=\s|$)/g)) {
    let args = {};
    try {
      args = m[3] ? JSON.parse(m[3]) : {};
    } catch {
      // leave args empty: the tool will report what is missing
    }
    wanted.push({ name: m[1], args });
  }
  const directed = wanted.length > 0;
  if (!directed) {
    wanted.push({ name: "list_files", args: {} });
    if (/\b(tests?|fail\w*|bug\w*|broken|errors?|pass\w*|review)\b/i.test(question)) {
      wanted.push({ name: "run_tests", args: {} });
    }
    for (const m of question.matchAll(/[`"']([^`"']{2,60})[`"']/g)) {
      wanted.push({ name: "search", args: { query: m[1] } });
    }
    for (const tag of ["TODO", "FIXME"]) {
      if (new RegExp(`\\b${tag}\\b`, "i").test(question)) {
        wanted.push({ name: "search", args: { query: tag } });
      }
    }
    for (
      const m of question.matchAll(/(?:^|\s)((?:[\w-]+\/)*[\w-]+\.[A-Za-z]{1,5})(?=[\s?.,!]|$)/g)
    ) {
      wanted.push({ name: "read_file", args: { path: m[1] } });
    }
  }
  // Follow-ups from results: a failing check names a function -> find it; a search hit -> read it.
  for (const s of seen) {
    if (s.name === "run_tests") {
      for (const m of s.result.matchAll(/FAIL\w*:?\s+([A-Za-z_$][\w$]*)\s*\(/g)) {
        wanted.push({ name: "search", args: { query: `function ${m[1]}` } });
      }
    }
    if (s.name === "search") {
      const files = [...s.result.matchAll(/^([^\s:]+):(\d+):/gm)].map((m) => m[1]);
      for (const file of [...new Set(files)].slice(0, 2)) {
        wanted.push({ name: "read_file", args: { path: file } });
      }
    }
  }
  const done = new Set(seen.map((s) => key(s)));
  const out: Action[] = [];
  for (const a of wanted) {
    if (!offered.has(a.name) || done.has(key(a))) continue;
    done.add(key(a));
    out.push(a);
  }
  return out.slice(0, 5);
}

function key(a: Action): string {
  return `${a.name} ${JSON.stringify(a.args)}`;
}

/** Writes the answer from the results seen. */
function answer(question: string, seen: Seen[]): string {
  const parts: string[] = [];
  const tests = seen.find((s) => s.name === "run_tests");
  if (tests) {
    const failures = tests.result.split("\n").filter((l) => /\bFAIL/.test(l)).map((l) => l.trim());
    if (/^exit code 0\b/.test(tests.result)) parts.push("The tests pass (exit code 0).");
    else if (failures.length > 0) {
      parts.push(`The tests fail: \`${failures.slice(0, 3).join("`, `")}\`.`);
    } else {
      parts.push(
        `The test command did not pass: ${firstLine(tests.result.replace(/^note: .*\n/, ""))}.`,
      );
    }
    // run_tests explains failures that come from missing permissions in a first `note:` line.
    const note = tests.result.match(/^note: (.*)$/m);
    if (note) parts.push(`Note: ${note[1]}.`);
  }
  for (const s of seen.filter((s) => s.name === "search")) {
    const hits = [...s.result.matchAll(/^([^\s:]+):(\d+): (.*)$/gm)];
    if (hits.length === 0) {
      parts.push(`Searching for '${s.args.query}' found nothing.`);
      continue;
    }
    const [, file, line] = hits[0];
    const read = seen.find((r) => r.name === "read_file" && r.args.path === file);
    const excerpt = read ? linesAround(read.result, Number(line)) : hits[0][3];
    parts.push(
      `'${s.args.query}' is at ${file}:${line}` +
        (hits.length > 1 ? ` (${hits.length} matches)` : "") +
        `:\n\`\`\`\n${excerpt}\n\`\`\``,
    );
  }
  const listing = seen.find((s) => s.name === "list_files");
  if (listing) {
    const files = listing.result.split("\n").filter((l) => l && !l.startsWith("["));
    parts.push(
      `The workspace has ${files.length} file${files.length === 1 ? "" : "s"}: ${
        files.slice(0, 8).join(", ")
      }${files.length > 8 ? ", ..." : ""}.`,
    );
  }
  const known = new Set(["run_tests", "search", "list_files", "read_file"]);
  for (const s of seen.filter((s) => !known.has(s.name))) {
    parts.push(`${s.name} returned: ${s.result.slice(0, 300)}`);
  }
  if (parts.length === 0) parts.push(`I have no tool results to answer "${question}" from.`);
  const files = new Set(seen.filter((s) => s.name === "read_file").map((s) => String(s.args.path)));
  parts.push(
    `(mock answer from ${seen.length} tool call${seen.length === 1 ? "" : "s"}${
      files.size ? `; read ${[...files].join(", ")}` : ""
    })`,
  );
  return parts.join("\n");
}

/** Lines `line`..`line+2` of a numbered `read_file` result. */
function linesAround(numbered: string, line: number): string {
  const rows = numbered.split("\n").slice(1);
  return rows.slice(line - 1, line + 2).join("\n");
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

/** The mock's plan for `supervise`: three sub-tasks that between them review a repository. */
function planSubtasks(_goal: string): string[] {
  return [
    "List the project's files and describe its layout.",
    "Run the tests and explain any failure.",
    "Search for TODO and FIXME notes.",
  ];
}

/** The mock's synthesis: one line per sub-task with the first line of its answer. */
function synthesize(prompt: string): string {
  const sections = [...prompt.matchAll(/^## (\d+)\. (.*)\n([\s\S]*?)(?=^## |\s*$(?![\s\S]))/gm)];
  const lines = sections.map((m) =>
    `${m[1]}. ${m[2].replace(/\.$/, "")}: ${firstLine(m[3].trim())}`
  );
  return `Review summary (${sections.length} sub-tasks):\n${lines.join("\n")}`;
}

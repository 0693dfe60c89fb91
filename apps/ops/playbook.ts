/**
 * Markdown playbooks: numbered steps in prose, read by the planner. A step's command is its first
 * inline code span (split into argv, never given to a shell); `[approve: alice, bob]` marks a
 * destructive step that needs one of those people; `[parallel]` lets a step run alongside the one
 * before it; `expect "text"` adds an output check. A `Keywords:` line helps the planner match
 * incidents to playbooks.
 *
 * @module
 */
import { DEFAULT_TIMEOUT_MS, type Plan, type PlanStep } from "./plan.ts";

/** One numbered step of a playbook. */
export interface PlaybookStep {
  /** The step number as written. */
  number: number;
  /** The prose of the step (markers included). */
  text: string;
  /** 1-based line where the step starts. */
  line: number;
  /** The command, when the step has one. */
  argv?: string[];
  /** Approvers named by `[approve: ...]` (`["*"]` for a bare `[approve]`). */
  approvers?: string[];
  /** Whether the step may run alongside the previous one. */
  parallel: boolean;
  /** Text the output must contain (`expect "..."`). */
  expect?: string;
}

/** A parsed playbook. */
export interface Playbook {
  /** The first `#` heading, or the file name. */
  title: string;
  /** The file it came from. */
  file: string;
  /** Words from `Keywords:` lines. */
  keywords: string[];
  /** Numbered steps in order. */
  steps: PlaybookStep[];
}

/** Splits a command line into argv, honouring single and double quotes; never interprets it. */
export function splitArgv(command: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let has = false;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = "";
      has = false;
    } else cur += ch;
  }
  if (quote) throw new Error(`unterminated quote in command: ${command}`);
  if (has || cur) out.push(cur);
  return out;
}

/** Reads a Markdown playbook. */
export function parsePlaybook(markdown: string, file: string): Playbook {
  const lines = markdown.split(/\r?\n/);
  let title = file.replace(/^.*\//, "").replace(/\.md$/, "");
  const keywords: string[] = [];
  const steps: PlaybookStep[] = [];
  let current: PlaybookStep | undefined;
  let titled = false;
  lines.forEach((raw, i) => {
    const heading = /^#\s+(.+)$/.exec(raw);
    if (heading && !titled) {
      title = heading[1].trim();
      titled = true;
      return;
    }
    const kw = /^\s*keywords?\s*:\s*(.+)$/i.exec(raw);
    if (kw) {
      keywords.push(...kw[1].split(/[,\s]+/).map((w) => w.toLowerCase()).filter(Boolean));
      return;
    }
    const item = /^\s{0,3}(\d+)[.)]\s+(.+)$/.exec(raw);
    if (item) {
      current = {
        number: Number(item[1]),
        text: item[2].trim(),
        line: i + 1,
        parallel: false,
      };
      steps.push(current);
    } else if (current && /^\s+\S/.test(raw)) current.text += " " + raw.trim();
    else if (raw.trim() === "" || /^#/.test(raw)) current = undefined;
  });
  for (const step of steps) {
    const code = /`([^`]+)`/.exec(step.text);
    if (code) {
      try {
        step.argv = splitArgv(code[1]);
      } catch (e) {
        throw new Error(`${file}:${step.line}: ${(e as Error).message}`);
      }
    }
    const gate = /\[approve(?:\s*:\s*([^\]]*))?\]/i.exec(step.text);
    if (gate) {
      const names = (gate[1] ?? "").split(/[,\s]+/).filter(Boolean);
      step.approvers = names.length ? names : ["*"];
    }
    step.parallel = /\[parallel\]/i.test(step.text);
    const expect = /expect\s+"([^"]+)"/i.exec(step.text);
    if (expect) step.expect = expect[1];
  }
  return { title, file, keywords, steps };
}

/** Filler words left out of step ids, so an id keeps the words that say what the step does. */
const FILLER = new Set(
  ("a an the that this these those is are be been it its of to in on at by for from with and or " +
    "as all any up back now current recent currently please then").split(" "),
);

/**
 * The id of a playbook step: its number and up to four words of the prose before its command,
 * without filler words and `[markers]` (`1-check-service` for "Check that the service is up").
 * Ids depend only on the step's own line, so they stay the same when other steps change.
 */
export function stepIdOf(step: Pick<PlaybookStep, "number" | "text">): string {
  const unmarked = step.text.replace(/\[[^\]]*\]/g, " ").toLowerCase();
  // The prose before the command says what the step does; `expect "…"` after it does not.
  const before = unmarked.split("`")[0].match(/[a-z0-9]+/g);
  const words = before ??
    unmarked.replace(/`[^`]*`|expect\s+"[^"]*"/g, " ").match(/[a-z0-9]+/g) ?? [];
  return [String(step.number), ...words.filter((w) => !FILLER.has(w)).slice(0, 4)].join("-");
}

/**
 * Turns a playbook into a plan: steps run in order (each needs the previous command step) unless
 * marked `[parallel]`; prose-only steps are left out and listed in the description.
 */
export function playbookToPlan(book: Playbook, allowlist?: string[][]): Plan {
  const steps: PlanStep[] = [];
  const manual: string[] = [];
  // Consecutive [parallel] steps form a group; the next ordinary step needs the whole group.
  let groupNeeds: string[] = [];
  let group: string[] = [];
  for (const s of book.steps) {
    if (!s.argv || s.argv.length === 0) {
      manual.push(`${s.number}. ${s.text}`);
      continue;
    }
    const id = stepIdOf(s);
    if (!s.parallel || group.length === 0) {
      groupNeeds = group;
      group = [];
    }
    group.push(id);
    steps.push({
      id,
      description: s.text.replace(/\s*\[[^\]]*\]\s*/g, " ").trim(),
      run: s.argv,
      needs: groupNeeds,
      approve: s.approvers
        ? { by: s.approvers, reason: "marked for approval in the playbook" }
        : undefined,
      verify: s.expect ? { outputContains: s.expect } : undefined,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      retry: { attempts: 2, delayMs: 0 },
      onFailure: "stop",
    });
  }
  return {
    name: book.title,
    source: book.file,
    description: manual.length ? `manual steps not automated: ${manual.join(" | ")}` : undefined,
    inputs: {},
    allowlist,
    steps,
    rollback: [],
  };
}

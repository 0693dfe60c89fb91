/**
 * Structured YAML runbooks: parsed with `npm:yaml` and validated against the plan model, every
 * problem reported as `file:line:col: message` so a malformed runbook is fixed in one pass.
 *
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node, Pair, YAMLMap } from "yaml";
import {
  DEFAULT_TIMEOUT_MS,
  type InputSpec,
  type OnFailure,
  placeholdersIn,
  type Plan,
  type PlanStep,
  type VerifySpec,
} from "./plan.ts";

/** One validation problem at a position in the file (1-based line and column). */
export interface RunbookIssue {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** What is wrong, in one sentence. */
  message: string;
}

/** A runbook that could not be parsed or validated; `issues` lists every problem found. */
export class RunbookError extends Error {
  /** The file name used in messages. */
  readonly file: string;
  /** All problems, in file order. */
  readonly issues: RunbookIssue[];
  constructor(file: string, issues: RunbookIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
    super(
      sorted.map((i) => `${file}:${i.line}:${i.col}: ${i.message}`).join("\n"),
    );
    this.name = "RunbookError";
    this.file = file;
    this.issues = sorted;
  }
}

const TOP_KEYS = [
  "name",
  "description",
  "inputs",
  "allowlist",
  "writes",
  "network",
  "steps",
  "rollback",
];
const STEP_KEYS = [
  "id",
  "description",
  "run",
  "needs",
  "approve",
  "verify",
  "timeout",
  "retry",
  "on_failure",
  "writes",
  "network",
];
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parses a duration: a number of seconds, or `500ms`, `30s`, `2m`, `1h`. Returns ms or undefined. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number" && value > 0 && Number.isFinite(value)) return value * 1000;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return n > 0 ? n * unit : undefined;
}

/** Parses and validates a YAML runbook; throws {@link RunbookError} listing every problem. */
export function parseRunbookYaml(text: string, file: string): Plan {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: RunbookIssue[] = [];
  const pos = (offset: number | undefined) => lc.linePos(offset ?? 0);
  const report = (node: Node | Pair | null | undefined, message: string) => {
    const offset = node && "range" in node && node.range ? node.range[0] : undefined;
    const keyOffset = node && "key" in node && (node.key as Node | null)?.range
      ? (node.key as Node).range![0]
      : undefined;
    const p = pos(offset ?? keyOffset);
    issues.push({ line: p.line, col: p.col, message });
  };
  const add: Add = report;
  for (const e of doc.errors) {
    const p = e.linePos?.[0] ?? pos(e.pos[0]);
    issues.push({ line: p.line, col: p.col, message: firstLine(e.message) });
  }
  if (issues.length) throw new RunbookError(file, issues);

  const root = doc.contents;
  if (!isMap(root)) {
    add(root as Node | null, "a runbook must be a mapping with name and steps");
    throw new RunbookError(file, issues);
  }
  checkKeys(root, TOP_KEYS, "runbook", add);

  const name = scalarString(root.get("name", true) as Node | undefined);
  if (!name) add(root.get("name", true) as Node ?? root, "runbook needs a string `name`");

  const inputs = parseInputs(root.get("inputs", true) as Node | undefined, add);
  const allowlist = parseAllowlist(root.get("allowlist", true) as Node | undefined, add);

  const stepsNode = root.get("steps", true) as Node | undefined;
  const steps = parseSteps(stepsNode, "steps", add, inputs, true);
  if (stepsNode === undefined) add(root, "runbook needs a non-empty `steps` list");
  const rollbackNode = root.get("rollback", true) as Node | undefined;
  const rollback = rollbackNode === undefined
    ? []
    : parseSteps(rollbackNode, "rollback", add, inputs, false);

  const access = parseAccess(root, "runbook", add, inputs);

  checkStepGraph(steps, rollback, add);
  if (issues.length) throw new RunbookError(file, issues);
  return {
    name: name!,
    source: file,
    description: scalarString(root.get("description", true) as Node | undefined),
    inputs,
    allowlist,
    steps: steps.map((s) => withAccess(s.step, access)),
    rollback: rollback.map((s) => withAccess(s.step, access)),
  };
}

/** A runbook's or a step's sandbox access: `writes` (paths) and `network` (true or false). */
interface Access {
  writes?: string[];
  network?: boolean;
}

/** Reads `writes` and `network` from a runbook or a step. */
function parseAccess(
  map: YAMLMap,
  label: string,
  add: Add,
  inputs: Record<string, InputSpec>,
): Access {
  const access: Access = {};
  const writesNode = map.get("writes", true) as Node | undefined;
  if (writesNode !== undefined) {
    const items = isSeq(writesNode) ? writesNode.items as Node[] : undefined;
    const paths = items?.map((i) => isScalar(i) && typeof i.value === "string" ? i.value : "");
    if (!paths || paths.some((p) => !p)) {
      add(writesNode, `${label}: writes must be a list of paths such as [/var/log/app, out]`);
    } else {
      checkPlaceholders(paths, writesNode, label, add, inputs);
      access.writes = paths;
    }
  }
  const networkNode = map.get("network", true) as Node | undefined;
  if (networkNode !== undefined) {
    if (isScalar(networkNode) && typeof networkNode.value === "boolean") {
      access.network = networkNode.value;
    } else add(networkNode, `${label}: network must be true or false`);
  }
  return access;
}

/** A step with the runbook's access added to its own (a step's `network` wins over the runbook's). */
function withAccess(step: PlanStep, runbook: Access): PlanStep {
  const writes = [...new Set([...(runbook.writes ?? []), ...(step.writes ?? [])])];
  const network = step.network ?? runbook.network ?? false;
  const { writes: _w, network: _n, ...rest } = step;
  return { ...rest, ...(writes.length ? { writes } : {}), ...(network ? { network } : {}) };
}

/** Reports a problem at a node. */
type Add = (node: Node | Pair | null | undefined, message: string) => void;

/** A parsed step with its node (for positions in later, cross-step messages). */
type ParsedStep = { step: PlanStep; node: Node };

/** The runbook's own `allowlist` (argv prefixes), or undefined when it has none. */
function parseAllowlist(node: Node | undefined, add: Add): string[][] | undefined {
  if (node === undefined) return undefined;
  const allowlist: string[][] = [];
  if (!isSeq(node)) {
    add(node, "`allowlist` must be a list of argv prefixes such as [svcctl, status]");
  } else {
    for (const item of node.items as Node[]) {
      const argv = argvOf(item, "allowlist entry", add);
      if (argv) allowlist.push(argv);
    }
  }
  return allowlist;
}

/**
 * Checks what involves several steps: ids unique across both lists, `needs` naming steps of the
 * normal flow, no dependency cycle, and a `rollback` list for `on_failure: rollback`.
 */
function checkStepGraph(steps: ParsedStep[], rollback: ParsedStep[], add: Add): void {
  const seen = new Map<string, Node>();
  for (const { step, node } of [...steps, ...rollback]) {
    if (seen.has(step.id)) add(node, `step id "${step.id}" is used twice`);
    else seen.set(step.id, node);
  }
  const flowIds = new Set(steps.map((s) => s.step.id));
  for (const { step, node } of steps) {
    for (const dep of step.needs) {
      if (!flowIds.has(dep)) add(node, `step "${step.id}" needs "${dep}", which is not a step`);
      if (dep === step.id) add(node, `step "${step.id}" needs itself`);
    }
  }
  const cycle = findCycle(steps.map((s) => s.step));
  if (cycle) {
    const node = steps.find((s) => s.step.id === cycle[0])!.node;
    add(node, `steps form a dependency cycle: ${cycle.join(" -> ")}`);
  }
  if (steps.some((s) => s.step.onFailure === "rollback") && rollback.length === 0) {
    const node = steps.find((s) => s.step.onFailure === "rollback")!.node;
    add(node, "on_failure: rollback needs a top-level `rollback` list of steps");
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
}

function scalarString(node: Node | undefined): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  return typeof v === "string" || typeof v === "number" ? String(v) : undefined;
}

function checkKeys(map: YAMLMap, allowed: string[], what: string, add: Add): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined || !allowed.includes(key)) {
      const hint = key ? suggest(key, allowed) : "";
      add(pair.key as Node, `unknown key "${key}" in ${what}${hint}`);
    }
  }
}

function suggest(key: string, allowed: string[]): string {
  const close = allowed.find((k) => editDistance(k, key) <= 2);
  return close ? ` (did you mean "${close}"?)` : ` (allowed: ${allowed.join(", ")})`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}

function argvOf(node: Node | undefined, what: string, add: Add): string[] | undefined {
  if (isScalar(node) && typeof node.value === "string") {
    add(
      node,
      `${what} must be an argv list such as [${
        node.value.split(/\s+/).filter(Boolean).join(", ")
      }], not a shell string`,
    );
    return undefined;
  }
  if (!isSeq(node) || node.items.length === 0) {
    add(node, `${what} must be a non-empty argv list such as [svcctl, status, api]`);
    return undefined;
  }
  const argv: string[] = [];
  for (const item of node.items as Node[]) {
    if (!isScalar(item) || !["string", "number"].includes(typeof item.value)) {
      add(item, `${what} items must be strings`);
      return undefined;
    }
    argv.push(String(item.value));
  }
  if (argv[0] === "") {
    add(node, `${what} must start with an executable name`);
    return undefined;
  }
  return argv;
}

function parseInputs(node: Node | undefined, add: Add): Record<string, InputSpec> {
  const inputs: Record<string, InputSpec> = {};
  if (node === undefined) return inputs;
  if (!isMap(node)) {
    add(node, "`inputs` must be a mapping of input names");
    return inputs;
  }
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      add(pair.key as Node, `input name "${key}" must be an identifier`);
      continue;
    }
    const value = pair.value as Node | null;
    if (value === null || isScalar(value)) {
      const v = isScalar(value) ? value.value : null;
      inputs[key] = v === null ? { required: true } : { default: String(v), required: false };
    } else if (isMap(value)) {
      checkKeys(value, ["description", "default", "required"], `input "${key}"`, add);
      const def = value.get("default");
      const required = value.get("required");
      if (required !== undefined && typeof required !== "boolean") {
        add(value.get("required", true) as Node, `input "${key}": required must be true or false`);
      }
      inputs[key] = {
        description: scalarString(value.get("description", true) as Node | undefined),
        default: def === undefined || def === null ? undefined : String(def),
        required: required === true || def === undefined || def === null,
      };
    } else add(value, `input "${key}" must be a default value or a mapping`);
  }
  return inputs;
}

function parseSteps(
  node: Node | undefined,
  what: string,
  add: Add,
  inputs: Record<string, InputSpec>,
  needNonEmpty: boolean,
): ParsedStep[] {
  const out: ParsedStep[] = [];
  if (node === undefined) return out;
  if (!isSeq(node) || (needNonEmpty && node.items.length === 0)) {
    add(node, `\`${what}\` must be a non-empty list of steps`);
    return out;
  }
  (node.items as Node[]).forEach((item, index) => {
    const step = parseStep(item, `${what}[${index}]`, add, inputs);
    if (step) out.push({ step, node: item });
  });
  return out;
}

function parseStep(
  node: Node,
  where: string,
  add: Add,
  inputs: Record<string, InputSpec>,
): PlanStep | undefined {
  if (!isMap(node)) {
    add(node, `${where} must be a mapping with id and run`);
    return undefined;
  }
  checkKeys(node, STEP_KEYS, `step ${where}`, add);
  const idNode = node.get("id", true) as Node | undefined;
  const id = scalarString(idNode);
  if (!id || !ID_RE.test(id)) {
    add(idNode ?? node, `${where} needs an \`id\` made of letters, digits, "-", "_" or "."`);
  }
  const label = id ? `step "${id}"` : where;
  const runNode = node.get("run", true) as Node | undefined;
  const run = runNode === undefined
    ? (add(node, `${label} needs \`run\`, an argv list`), undefined)
    : argvOf(runNode, `${label}: run`, add);
  if (run) checkPlaceholders(run, runNode!, label, add, inputs);

  const field = (key: string) => node.get(key, true) as Node | undefined;
  const needs = parseNeeds(field("needs"), label, add);
  const approve = parseApprove(field("approve"), label, add);
  const verify = parseVerify(field("verify"), label, add, inputs);
  const timeoutMs = parseTimeout(field("timeout"), label, add);
  const retry = parseRetry(field("retry"), label, add);
  const onFailure = parseOnFailure(field("on_failure"), label, add);
  const access = parseAccess(node, label, add, inputs);
  // A step with other problems is still returned (the whole file is rejected anyway) so that
  // cross-step checks such as `needs` and cycles can report on it too.
  if (!id || !ID_RE.test(id) || !run) return undefined;
  return {
    id,
    description: scalarString(node.get("description", true) as Node | undefined),
    run,
    needs,
    approve,
    verify,
    timeoutMs,
    retry,
    onFailure,
    ...access,
  };
}

/** A step's `needs`: one step id or a list of them. */
function parseNeeds(node: Node | undefined, label: string, add: Add): string[] {
  let needs: string[] = [];
  if (node !== undefined) {
    if (isScalar(node)) needs = [String(node.value)];
    else if (isSeq(node) && node.items.every((i) => isScalar(i))) {
      needs = (node.items as Node[]).map((i) => String((i as { value: unknown }).value));
    } else add(node, `${label}: needs must be a step id or a list of step ids`);
  }
  return needs;
}

/** A step's `approve` gate: a name, a list of names, or `{ by, reason }`. */
function parseApprove(node: Node | undefined, label: string, add: Add): PlanStep["approve"] {
  let approve: PlanStep["approve"];
  if (node !== undefined) {
    if (isScalar(node) && typeof node.value === "string") {
      approve = { by: [node.value] };
    } else if (isSeq(node)) {
      approve = { by: (node.items as Node[]).map((i) => scalarString(i) ?? "") };
    } else if (isMap(node)) {
      checkKeys(node, ["by", "reason"], `${label} approve`, add);
      const by = node.get("by", true) as Node | undefined;
      const names = isSeq(by)
        ? (by.items as Node[]).map((i) => scalarString(i) ?? "")
        : isScalar(by)
        ? [String(by.value)]
        : [];
      approve = {
        by: names,
        reason: scalarString(node.get("reason", true) as Node | undefined),
      };
    }
    if (!approve || approve.by.length === 0 || approve.by.some((n) => !n)) {
      add(
        node,
        `${label}: approve must name who may approve, e.g. approve: { by: [alice] }`,
      );
    }
  }
  return approve;
}

/** A step's `timeout` in ms (default {@link DEFAULT_TIMEOUT_MS}). */
function parseTimeout(node: Node | undefined, label: string, add: Add): number {
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (node !== undefined) {
    const t = parseDuration(isScalar(node) ? node.value : undefined);
    if (t === undefined) {
      add(node, `${label}: timeout must be a duration such as 30s, 2m or 500ms`);
    } else timeoutMs = t;
  }
  return timeoutMs;
}

/** A step's `retry`: a count of extra attempts, or `{ attempts, delay }`. */
function parseRetry(node: Node | undefined, label: string, add: Add): PlanStep["retry"] {
  const retry = { attempts: 1, delayMs: 0 };
  if (node !== undefined) {
    if (isScalar(node) && Number.isInteger(node.value)) {
      retry.attempts = 1 + (node.value as number);
    } else if (isMap(node)) {
      checkKeys(node, ["attempts", "delay"], `${label} retry`, add);
      const attempts = node.get("attempts");
      if (attempts !== undefined) retry.attempts = attempts as number;
      const delay = node.get("delay", true) as Node | undefined;
      if (delay !== undefined) {
        const d = parseDuration(isScalar(delay) ? delay.value : undefined);
        if (d === undefined) add(delay, `${label}: retry delay must be a duration such as 2s`);
        else retry.delayMs = d;
      }
    } else retry.attempts = NaN;
    if (!Number.isInteger(retry.attempts) || retry.attempts < 1 || retry.attempts > 20) {
      add(
        node,
        `${label}: retry must be a count of extra attempts (0-19) or { attempts, delay }`,
      );
    }
  }
  return retry;
}

/** A step's `on_failure` policy (default `stop`). */
function parseOnFailure(node: Node | undefined, label: string, add: Add): OnFailure {
  let onFailure: OnFailure = "stop";
  if (node !== undefined) {
    const v = scalarString(node);
    if (v === "stop" || v === "continue" || v === "rollback") onFailure = v;
    else add(node, `${label}: on_failure must be stop, continue or rollback`);
  }
  return onFailure;
}

function checkPlaceholders(
  argv: string[],
  node: Node,
  label: string,
  add: Add,
  inputs: Record<string, InputSpec>,
): void {
  for (const arg of argv) {
    for (const name of placeholdersIn(arg)) {
      if (!(name in inputs)) add(node, `${label}: {{ ${name} }} is not a declared input`);
    }
  }
}

function parseVerify(
  node: Node | undefined,
  label: string,
  add: Add,
  inputs: Record<string, InputSpec>,
): VerifySpec | undefined {
  if (node === undefined) return undefined;
  if (!isMap(node)) {
    add(
      node,
      `${label}: verify must be a mapping (run, exit_code, output_contains, output_matches)`,
    );
    return undefined;
  }
  checkKeys(
    node,
    ["run", "exit_code", "output_contains", "output_matches"],
    `${label} verify`,
    add,
  );
  const spec: VerifySpec = {};
  const runNode = node.get("run", true) as Node | undefined;
  if (runNode !== undefined) {
    spec.run = argvOf(runNode, `${label}: verify run`, add);
    if (spec.run) checkPlaceholders(spec.run, runNode, label, add, inputs);
  }
  const exit = node.get("exit_code", true) as Node | undefined;
  if (exit !== undefined) {
    if (isScalar(exit) && Number.isInteger(exit.value)) spec.exitCode = exit.value as number;
    else add(exit, `${label}: verify exit_code must be an integer`);
  }
  const contains = node.get("output_contains", true) as Node | undefined;
  if (contains !== undefined) {
    spec.outputContains = scalarString(contains);
    if (spec.outputContains === undefined) {
      add(contains, `${label}: output_contains must be a string`);
    }
  }
  const matches = node.get("output_matches", true) as Node | undefined;
  if (matches !== undefined) {
    spec.outputMatches = scalarString(matches);
    try {
      new RegExp(spec.outputMatches ?? "(");
    } catch {
      add(matches, `${label}: output_matches is not a valid regular expression`);
    }
  }
  return spec;
}

function findCycle(steps: PlanStep[]): string[] | undefined {
  const byId = new Map<string, PlanStep>();
  for (const s of steps) if (!byId.has(s.id)) byId.set(s.id, s);
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "visiting");
    path.push(id);
    for (const dep of byId.get(id)?.needs ?? []) {
      if (!byId.has(dep)) continue;
      const c = visit(dep);
      if (c) return c;
    }
    path.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const s of steps) {
    const c = visit(s.id);
    if (c) return c;
  }
  return undefined;
}

/**
 * The plan model shared by YAML runbooks, Markdown playbooks and the planner: a named list of
 * steps, each an argv command with dependencies, an optional approval gate, a verification and a
 * failure policy. Plans are plain JSON so they can live in a durable run's state.
 *
 * @module
 */

/** What happens to the run when a step fails for good (after its retries). */
export type OnFailure = "stop" | "continue" | "rollback";

/** Who may approve a gated step. */
export interface ApprovalGate {
  /** User names allowed to approve or deny; `["*"]` means anyone. */
  by: string[];
  /** Why the gate exists, shown in the approval request. */
  reason?: string;
}

/** How a step's result is checked. */
export interface VerifySpec {
  /** A check command (argv); when present, the expectations apply to its result. */
  run?: string[];
  /** Expected exit code (default 0). */
  exitCode?: number;
  /** Text the output must contain. */
  outputContains?: string;
  /** Regular expression the output must match. */
  outputMatches?: string;
}

/** Retry policy of one step: how many extra attempts the verifier may ask for. */
export interface StepRetry {
  /** Total attempts including the first (>= 1). */
  attempts: number;
  /** Pause before a retry, in milliseconds. */
  delayMs: number;
}

/** One step of a plan. */
export interface PlanStep {
  /** Unique id within the plan, used on the command line (`--step restart`). */
  id: string;
  /** Human description. */
  description?: string;
  /** The command as an argv list (never a shell string). */
  run: string[];
  /** Ids of steps that must succeed first. */
  needs: string[];
  /** Approval gate; absent means the step runs without a human. */
  approve?: ApprovalGate;
  /** Verification of the result; absent means "exit code 0". */
  verify?: VerifySpec;
  /** Command timeout in milliseconds. */
  timeoutMs: number;
  /** Retry policy. */
  retry: StepRetry;
  /** What a final failure does to the run. */
  onFailure: OnFailure;
  /**
   * Paths the command may write inside the OS sandbox besides the state directory (absolute,
   * or relative to the workspace): the step's own `writes` and the runbook's. Absent: none.
   */
  writes?: string[];
  /** Whether the command may use the network (the step's or the runbook's `network: true`). */
  network?: boolean;
}

/** Declared input of a runbook, substituted into argv elements as `{{ name }}`. */
export interface InputSpec {
  /** Description for `--help`-like listings. */
  description?: string;
  /** Value used when none is given. */
  default?: string;
  /** Whether a value must be given when there is no default. */
  required: boolean;
}

/** A complete plan. */
export interface Plan {
  /** Plan or runbook name. */
  name: string;
  /** Where it came from: a file path, or `planner` for a generated plan. */
  source: string;
  /** Free description (for a generated plan: the planner's rationale). */
  description?: string;
  /** Declared inputs. */
  inputs: Record<string, InputSpec>;
  /** The runbook's own allowlist of argv prefixes, if it declares one. */
  allowlist?: string[][];
  /** Steps of the normal flow. */
  steps: PlanStep[];
  /** Steps run in order when a step with `onFailure: "rollback"` fails. */
  rollback: PlanStep[];
  /** For a plan an LLM made: the model and the tokens it used (recorded in the audit trail). */
  usage?: PlannerUsage;
}

/** What making a plan cost an LLM planner. */
export interface PlannerUsage {
  /** The model that answered. */
  model: string;
  /** Tokens used; null when the server did not say (unknown, which is not zero). */
  tokens: { promptTokens: number; completionTokens: number } | null;
}

/** Default command timeout: 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Replaces `{{ name }}` placeholders in each argv element with input values. */
export function substituteInputs(argv: string[], values: Record<string, string>): string[] {
  return argv.map((arg) =>
    arg.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, name: string) => {
      if (!(name in values)) throw new Error(`input "${name}" has no value`);
      return values[name];
    })
  );
}

/** Names of the `{{ name }}` placeholders used in an argv element. */
export function placeholdersIn(arg: string): string[] {
  return [...arg.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1]);
}

/**
 * Resolves a plan's inputs from the given values and defaults, returning the plan with every
 * argv placeholder substituted. Throws an Error naming the first missing or unknown input.
 */
export function bindInputs(plan: Plan, given: Record<string, string>): Plan {
  for (const name of Object.keys(given)) {
    if (!(name in plan.inputs)) {
      throw new Error(`"${name}" is not an input of runbook "${plan.name}"`);
    }
  }
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(plan.inputs)) {
    const value = given[name] ?? spec.default;
    if (value === undefined) {
      throw new Error(`runbook "${plan.name}" needs input "${name}" (pass --input ${name}=VALUE)`);
    }
    values[name] = value;
  }
  const bindStep = (s: PlanStep): PlanStep => ({
    ...s,
    run: substituteInputs(s.run, values),
    ...(s.writes ? { writes: substituteInputs(s.writes, values) } : {}),
    verify: s.verify?.run ? { ...s.verify, run: substituteInputs(s.verify.run, values) } : s.verify,
  });
  return { ...plan, steps: plan.steps.map(bindStep), rollback: plan.rollback.map(bindStep) };
}

/**
 * The plan with no step granted extra sandbox access (`writes`, `network`): what a planner
 * proposes gets the narrowest sandbox, whatever its answer said; only a runbook file grants more.
 */
export function confine(plan: Plan): Plan {
  const strip = ({ writes: _w, network: _n, ...s }: PlanStep): PlanStep => s;
  return { ...plan, steps: plan.steps.map(strip), rollback: plan.rollback.map(strip) };
}

/** Steps whose dependencies are all in `done` and that are not in `started`, in plan order. */
export function readySteps(plan: Plan, done: Set<string>, started: Set<string>): PlanStep[] {
  return plan.steps.filter((s) => !started.has(s.id) && s.needs.every((n) => done.has(n)));
}

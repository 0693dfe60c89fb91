// An agent-style loop on @loom/tailcalls: each step asks a (scripted, offline) model what to do
// next, runs the tool it picks, and returns `recur(nextState)`, until the model answers.
// The loop runs with a step budget and an `onStep` hook; when the budget runs out the error
// carries the state, and the demo resumes from it. Ctrl-C stops it cleanly between two steps.
//
// Run: deno run -A examples/agent_loop.ts [--budget 3] [--think-ms 150] [--json]
import { parseArgs } from "node:util";
import {
  LoopAbortedError,
  recur,
  StepBudgetExceededError,
  type StepEvent,
  type TailCall,
  tailrec,
} from "@loom/tailcalls";

/** Everything the agent knows; each step returns the next version of it. */
interface AgentState {
  goal: string;
  notes: string[];
  toolCalls: number;
}

type Action =
  | { kind: "search"; query: string }
  | { kind: "calculate"; expression: [number, "*" | "+", number] }
  | { kind: "answer"; text: string };

// --- the "world": a tiny document store and a calculator (deterministic, no network) --------

const DOCS: Record<string, string> = {
  "tailrec": "tailrec runs a loop of 1,000,000 steps in constant stack and memory",
  "budget": "maxSteps stops a loop after N steps with an error that carries the state",
  "runner": "the runner checkpoints every recur(...) to SQLite before the next step",
};

function search(query: string): string[] {
  return Object.entries(DOCS).filter(([key, text]) => query.includes(key) || text.includes(query))
    .map(([, text]) => text);
}

// --- a scripted stand-in for the LLM: reads the state, picks the next action ---------------

async function decide(state: AgentState): Promise<Action> {
  await think();
  const heard = (word: string) => state.notes.some((note) => note.includes(word));
  if (!heard("tailrec runs")) return { kind: "search", query: "tailrec" };
  if (!heard("maxSteps")) return { kind: "search", query: "budget" };
  if (!heard("checkpoints")) return { kind: "search", query: "runner" };
  if (!heard("= ")) return { kind: "calculate", expression: [1_000, "*", 1_000] };
  return {
    kind: "answer",
    text: "A tailrec loop can run 1000000 steps (and more) in constant memory; a budget " +
      "(maxSteps) stops it with its state so it can resume, and the runner makes each step durable.",
  };
}

/** The "model" takes a moment (`--think-ms`); Ctrl-C cuts it short, then the loop stops. */
function think(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      controller.signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, thinkMs);
    controller.signal.addEventListener("abort", done);
  });
}

// --- the loop -------------------------------------------------------------------------------

/** One step: ask the model, act, and either finish or bounce with the new state. */
async function agentStep(state: AgentState) {
  const action = await decide(state);
  switch (action.kind) {
    case "answer":
      return action.text;
    case "search": {
      const hits = search(action.query);
      return recur({
        ...state,
        notes: [...state.notes, ...hits.map((hit) => `search(${action.query}): ${hit}`)],
        toolCalls: state.toolCalls + 1,
      });
    }
    case "calculate": {
      const [a, op, b] = action.expression;
      const value = op === "*" ? a * b : a + b;
      return recur({
        ...state,
        notes: [...state.notes, `calculate(${a} ${op} ${b}) = ${value}`],
        toolCalls: state.toolCalls + 1,
      });
    }
  }
}

// --- running it -----------------------------------------------------------------------------

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    budget: { type: "string", default: "3" },
    "think-ms": { type: "string", default: "150" },
    json: { type: "boolean", default: false },
  },
});
const budget = Number(flags.budget);
if (!Number.isInteger(budget) || budget < 1) {
  console.error(`--budget must be a positive whole number of steps, got "${flags.budget}"`);
  Deno.exit(2);
}
const thinkMs = Number(flags["think-ms"]);
if (!Number.isInteger(thinkMs) || thinkMs < 0) {
  console.error(`--think-ms must be a whole number of milliseconds, got "${flags["think-ms"]}"`);
  Deno.exit(2);
}
const say = (line: string) => flags.json || console.log(line);

// Ctrl-C aborts the signal; the loop stops before its next step with a LoopAbortedError.
const controller = new AbortController();
const onInterrupt = () => controller.abort();
Deno.addSignalListener("SIGINT", onInterrupt);

const started = performance.now();
let stepsRun = 0;
let stepStarted = 0;
let latest: AgentState; // the newest state, seen by the hook after each step
/** The hook, called before and after each step: times the step and prints what it did. */
function progress(event: StepEvent): void {
  if (event.phase === "before") {
    stepStarted = performance.now();
    return;
  }
  stepsRun++;
  const ms = Math.round(performance.now() - stepStarted);
  if (!event.done) latest = (event.result as TailCall<[AgentState]>).args[0];
  const did = event.done ? "answered" : latest.notes.at(-1) ?? "";
  const shown = did.length > 70 ? `${did.slice(0, 67)}...` : did;
  say(`  step ${String(stepsRun).padStart(2)}  ${String(ms).padStart(4)} ms  ${shown}`);
}

const agent = tailrec(agentStep, {
  maxSteps: budget,
  onStep: progress,
  signal: controller.signal,
  name: "agent",
});

say("Loom demo: an agent loop on @loom/tailcalls");
say("  each step asks a scripted model what to do, runs a tool, and returns recur(nextState)");
say(`  budget: ${budget} steps per call (maxSteps); progress lines come from the onStep hook`);
say("  press Ctrl-C to stop it between two steps (AbortSignal)");
say("");

let state: AgentState = { goal: "How long can a tailrec loop run?", notes: [], toolCalls: 0 };
latest = state;
let resumes = 0;
let answer: string | undefined;
let exitCode = 0;
say(`goal: ${state.goal}`);
while (answer === undefined) {
  try {
    answer = await agent(state);
  } catch (error) {
    if (error instanceof StepBudgetExceededError) {
      // The error holds the arguments of the step that would have run next: resume from them.
      [state] = error.args as [AgentState];
      resumes++;
      say(`  -- budget of ${error.maxSteps} steps used up; resuming from the saved state`);
      continue;
    }
    if (error instanceof LoopAbortedError) {
      console.error(`stopped by Ctrl-C after ${stepsRun} steps; the state was kept`);
      exitCode = 1;
      break;
    }
    throw error;
  }
}
Deno.removeSignalListener("SIGINT", onInterrupt);

const ms = Math.round(performance.now() - started);
if (flags.json) {
  console.log(
    JSON.stringify({ answer, steps: stepsRun, resumes, toolCalls: latest.toolCalls, ms }),
  );
} else if (answer !== undefined) {
  say("");
  say(`answer: ${answer}`);
  say(
    `${stepsRun} steps, ${latest.toolCalls} tool calls, resumed ${resumes} time(s) after the ` +
      `budget ran out, ${ms} ms`,
  );
}
Deno.exit(exitCode);

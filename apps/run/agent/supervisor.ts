/**
 * The supervisor: plans sub-tasks with one LLM call, runs each as a child chat run
 * (`<id>/1`, `<id>/2`, ...) with a concurrency limit, then writes the final answer from theirs.
 * Children are durable runs of their own: resuming a killed supervisor resumes only the children
 * that had not finished, and takes the finished ones' answers from the store.
 *
 * @module
 */
import { type Agent, defineAgent, recur, type StepContext, type TailCall } from "@loom/runner";
import type { RunSettings } from "../config.ts";
import type { ChatModel } from "../llm/types.ts";
import { parsePlan, PLAN_SYSTEM, SYNTHESIS_SYSTEM, synthesisPrompt } from "../llm/prompts.ts";
import { type ChatAgent, type ChatInput, type ChatResult, stopReason } from "./chat.ts";
import { callModel } from "./model_call.ts";
import type { Runtimes } from "./runtime.ts";
import { addUsage, NO_USAGE, sumUsage, type UsageTotals } from "./usage.ts";

/** What a supervisor run starts from. */
export interface SupervisorInput {
  /** The goal, e.g. "review this repo". */
  goal: string;
  /** Settings stored with the run (and handed to the children). */
  settings: RunSettings;
}

/** The state of a supervisor run. */
export interface SupervisorState {
  /** The goal. */
  goal: string;
  /** Settings. */
  settings: RunSettings;
  /** `plan`, then `children`, then `synthesize`. */
  phase: "plan" | "children" | "synthesize";
  /** Sub-tasks, once planned. */
  tasks: string[];
  /** The children's results, once gathered. */
  results: ChatResult[];
  /** Usage of the supervisor's own LLM calls. */
  usage: UsageTotals;
}

/** The supervisor's result. */
export interface SupervisorResult {
  /** The final answer (empty after a refusal, incomplete when cut). */
  answer: string;
  /** Set when the final answer is missing or incomplete: `refusal` or `length` (cut). */
  stoppedBy?: "refusal" | "length";
  /** The model's refusal message, when `stoppedBy` is `refusal`. */
  refusal?: string;
  /** Sub-tasks with their child run ids and answers. */
  children: { runId: string; task: string; answer: string; stoppedBy: string }[];
  /** LLM usage of the supervisor and its children together. */
  usage: UsageTotals;
}

/** Name of the supervisor agent in the run store. */
export const SUPERVISOR_AGENT = "loom-run.supervisor";

/** Runs `fns` with at most `limit` running at once; results in input order. */
export async function withLimit<T>(limit: number, fns: (() => Promise<T>)[]): Promise<T[]> {
  const results = new Array<T>(fns.length);
  let next = 0;
  const worker = async () => {
    while (next < fns.length) {
      const i = next++;
      results[i] = await fns[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, fns.length) }, worker));
  return results;
}

/** A child's answer as the synthesis reads it: refusals and cut answers are said to be so. */
function childAnswer(result: ChatResult): string {
  if (result.stoppedBy === "refusal") return `(the model refused: ${result.refusal ?? ""})`;
  if (result.stoppedBy === "length") return `${result.answer} (cut off: incomplete)`;
  return result.answer;
}

/**
 * Builds the supervisor agent around the chat agent it starts as children. Its own two LLM calls
 * (plan, synthesis) are the library's durable `callModel`.
 */
export function supervisorAgent(
  runtimes: Runtimes,
  chat: ChatAgent<RunSettings>,
): Agent<SupervisorState, SupervisorResult, SupervisorInput> {
  const emit = (event: Parameters<typeof runtimes.events.emit>[0]) => runtimes.events.emit(event);
  const team: Team = { runtimes, chat, emit };
  return defineAgent<SupervisorState, SupervisorResult, SupervisorInput>({
    name: SUPERVISOR_AGENT,
    version: 1,
    retry: { maxAttempts: 1 },
    initialState: (input) => ({
      goal: input.goal,
      settings: input.settings,
      phase: "plan",
      tasks: [],
      results: [],
      usage: NO_USAGE,
    }),
    async step(state, ctx) {
      const runtime = await runtimes.get(state.settings);
      if (state.phase === "plan") return await planStep(team, runtime.llm, state, ctx);
      if (state.phase === "children") return await childrenStep(team, state, ctx);
      return await synthesizeStep(team, runtime.llm, state, ctx);
    },
  });
}

/** What the supervisor's phases share: the runtimes, the child agent, the event sink. */
interface Team {
  runtimes: Runtimes;
  chat: ChatAgent<RunSettings>;
  emit: (event: Parameters<Runtimes["events"]["emit"]>[0]) => void;
}

/** Plans the sub-tasks with one LLM call. */
async function planStep(
  team: Team,
  llm: ChatModel,
  state: SupervisorState,
  ctx: StepContext,
): Promise<TailCall<[SupervisorState]>> {
  const { reply } = await callModel(ctx, llm, {
    key: "llm:plan",
    purpose: "plan",
    turn: 1,
    messages: [{ role: "system", content: PLAN_SYSTEM }, {
      role: "user",
      content: state.goal,
    }],
    stream: false,
    onEvent: team.emit,
  });
  const tasks = parsePlan(reply.content, state.goal);
  team.runtimes.events.emit({ type: "plan", runId: ctx.runId, tasks });
  return recur({ ...state, phase: "children", tasks, usage: addUsage(state.usage, reply) });
}

/** Runs each sub-task as a child chat run, `concurrency` at a time. */
async function childrenStep(
  team: Team,
  state: SupervisorState,
  ctx: StepContext,
): Promise<TailCall<[SupervisorState]>> {
  const results = await withLimit(
    state.settings.concurrency,
    state.tasks.map((task, i) => () => runChild(team, state, ctx, task, `${ctx.runId}/${i + 1}`)),
  );
  return recur({ ...state, phase: "synthesize", results });
}

/** One child run, with `child` events when it starts and when it completes or fails. */
async function runChild(
  { runtimes, chat }: Team,
  state: SupervisorState,
  ctx: StepContext,
  task: string,
  childRunId: string,
): Promise<ChatResult> {
  runtimes.events.emit({
    type: "child",
    runId: ctx.runId,
    childRunId,
    task,
    status: "started",
  });
  try {
    const result = await ctx.child(chat, {
      runId: childRunId,
      input: { question: task, settings: state.settings } satisfies ChatInput<RunSettings>,
    });
    runtimes.events.emit({
      type: "child",
      runId: ctx.runId,
      childRunId,
      task,
      status: "completed",
      answer: result.answer,
    });
    return result;
  } catch (error) {
    runtimes.events.emit({
      type: "child",
      runId: ctx.runId,
      childRunId,
      task,
      status: "failed",
      answer: (error as Error).message,
    });
    throw error;
  }
}

/** Writes the final answer from the children's with one LLM call. */
async function synthesizeStep(
  team: Team,
  llm: ChatModel,
  state: SupervisorState,
  ctx: StepContext,
): Promise<SupervisorResult> {
  const { reply } = await callModel(ctx, llm, {
    key: "llm:synthesize",
    purpose: "synthesize",
    turn: 2,
    messages: [
      { role: "system", content: SYNTHESIS_SYSTEM },
      {
        role: "user",
        content: synthesisPrompt(state.goal, state.tasks, state.results.map(childAnswer)),
      },
    ],
    onEvent: team.emit,
  });
  const stoppedBy = stopReason(reply);
  team.runtimes.events.emit({
    type: "answer",
    runId: ctx.runId,
    text: reply.content,
    stoppedBy,
    refusal: reply.refusal,
  });
  return {
    answer: reply.content,
    ...(stoppedBy === "answer" ? {} : { stoppedBy }),
    ...(reply.refusal ? { refusal: reply.refusal } : {}),
    children: state.tasks.map((task, i) => ({
      runId: `${ctx.runId}/${i + 1}`,
      task,
      answer: state.results[i].answer,
      stoppedBy: state.results[i].stoppedBy,
    })),
    usage: sumUsage(addUsage(state.usage, reply), ...state.results.map((r) => r.usage)),
  };
}

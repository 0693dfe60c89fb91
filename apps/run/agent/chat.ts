/**
 * `chatAgent`: the model + tools loop as a durable agent. One step is one LLM turn plus the tool
 * calls it asked for; the conversation is the run's state. The LLM call and every tool call are
 * durable calls (`ctx.callTool`), so a run killed at any point resumes without asking the model
 * again for a turn it answered or running a finished tool again. Budgets stop it cleanly, tool
 * arguments are checked against their JSON Schema before a tool runs, and refusals and cut
 * answers are results of their own (`stoppedBy`), never passed off as answers.
 *
 * @module
 */
import {
  type Agent,
  defineAgent,
  recur,
  type RetryPolicy,
  type StepContext,
  type TailCall,
} from "@loom/runner";
import { resolve } from "node:path";
import { workspaceRoot } from "../mcp/client.ts";
import type { McpServer } from "../mcp/server.ts";
import type { ChatMessage, ChatModel, LlmReply, ToolSpec } from "../llm/types.ts";
import { addMcpTools, type McpTools, startMcpTools } from "../tools/registry.ts";
import { TOOL_NAME } from "../tools/tool.ts";
import type { Tool } from "../tools/types.ts";
import type { ChatEvent } from "./events.ts";
import { callModel, LLM_RETRY } from "./model_call.ts";
import { runToolCall, type ToolOutcome } from "./tool_call.ts";
import { addUsage, NO_USAGE, type UsageTotals } from "./usage.ts";

/**
 * What a chat run starts from: the question, and the run's settings when the agent reads its
 * model, tools or limits from them (`S`). Settings are stored with the run, so a resumed run
 * rebuilds the same model and tools without being told again.
 */
export type ChatInput<S = undefined> =
  & {
    /** The user's question. */
    question: string;
    /** Keep the conversation open after answering: wait for a `message` signal (a chat UI). */
    followUps?: boolean;
  }
  & (undefined extends S ? {
      /** The run's settings (see `ChatAgentOptions`). */
      settings?: S;
    }
    : {
      /** The run's settings (see `ChatAgentOptions`). */
      settings: S;
    });

/** The state of a chat run: the conversation and the budgets spent. Plain JSON. */
export interface ChatState<S = undefined> {
  /** The run's settings, when given. */
  settings: S;
  /** The conversation in Chat Completions format. */
  messages: ChatMessage[];
  /** LLM turns since the last user message. */
  turns: number;
  /** Tool calls since the last user message. */
  toolCalls: number;
  /** Total LLM turns of the run (names the durable LLM calls `llm:<n>`). */
  totalTurns: number;
  /** True once `maxToolCalls` is reached: the model is offered no more tools. */
  toolsExhausted: boolean;
  /** Keep the conversation open after answering. */
  followUps: boolean;
  /** LLM usage so far. */
  usage: UsageTotals;
  /** The last answer, when the run waits for a follow-up. */
  answer?: string;
}

/**
 * Why a chat run stopped: `answer` (a complete answer); `refusal` (the model declined, see
 * `ChatResult.refusal`); `length` (the answer was cut at the model's output limit,
 * `finish_reason: "length"`); `max-turns`, `max-tokens`, `max-cost` (a budget of `ChatLimits`
 * ran out before an answer). Anything but `answer` means there is no complete answer.
 */
export type StoppedBy = "answer" | "refusal" | "length" | "max-turns" | "max-tokens" | "max-cost";

/** How a chat run ended. */
export interface ChatResult {
  /**
   * The answer: complete for `answer`, cut for `length`, empty after a refusal, and after a
   * budget stop the last text the model wrote (or a sentence saying there is none).
   */
  answer: string;
  /** Why the run stopped. */
  stoppedBy: StoppedBy;
  /** The model's refusal message, when `stoppedBy` is `refusal`. */
  refusal?: string;
  /** LLM turns taken for the last question. */
  turns: number;
  /** Tool calls made for the last question. */
  toolCalls: number;
  /** LLM usage of the run. */
  usage: UsageTotals;
}

/** Budgets of a chat run. Each one stops the run cleanly, with a result that says which. */
export interface ChatLimits {
  /** LLM turns per question; then the run stops with `max-turns`. @default 12 */
  maxTurns?: number;
  /**
   * Tool calls per question; then calls are answered "budget spent" and the model is offered no
   * more tools, so its next turn answers. @default 30
   */
  maxToolCalls?: number;
  /**
   * Tokens (prompt + completion) of the whole run; checked before each LLM turn, so the turn
   * that crosses it completes, and the run stops with `max-tokens`. @default no limit
   */
  maxTokens?: number;
  /**
   * Cost in US dollars of the whole run, from the calls whose cost is known; checked before
   * each LLM turn like `maxTokens`, stopping with `max-cost`. @default no limit
   */
  maxCostUsd?: number;
}

/** A value, or a function of the run's settings giving it (sync or async). */
export type PerRun<S, T> = T | ((settings: S) => T | Promise<T>);

/** What `chatAgent` takes. `S` is the type of the run's settings (none by default). */
export interface ChatAgentOptions<S = undefined> {
  /** Agent name, recorded with each run; a run is resumed by an agent of the same name. */
  name: string;
  /** Version of the state shape. @default 1 */
  version?: number;
  /** The chat model, or a function of the run's settings that picks it. */
  model: PerRun<S, ChatModel>;
  /** System prompt, the conversation's first message. @default none */
  system?: string;
  /** Tools the model may call (made with `tool()`), or a function of the settings. @default [] */
  tools?: PerRun<S, readonly Tool[]>;
  /**
   * MCP servers (made with `mcpServer()`) whose tools are offered as `<server>__<tool>`. Started
   * on the agent's first step in a process and kept for later runs; `close()` stops them. A
   * server that fails to start fails the step (the run can be retried). @default []
   */
  mcp?: readonly McpServer[];
  /** Budgets, or a function of the settings. @default `{ maxTurns: 12, maxToolCalls: 30 }` */
  limits?: PerRun<S, ChatLimits>;
  /** Receives the run's events (streamed text, LLM and tool calls, answers). Must not throw. */
  onEvent?: (event: ChatEvent) => void;
  /** Stream answer text to `onEvent` as `delta` events. @default true */
  stream?: boolean;
  /** Retries of LLM calls. @default LLM_RETRY: transient failures, 4 attempts */
  llmRetry?: RetryPolicy;
  /** URL of the module that defines the agent. @default the caller of `chatAgent` */
  moduleUrl?: string;
}

/** A chat agent: a runner agent (`startRun`, `resumeRun`, `ctx.child`) that can stop its MCP servers. */
export interface ChatAgent<S = undefined> extends Agent<ChatState<S>, ChatResult, ChatInput<S>> {
  /** Stops the MCP servers this agent started (they start again on its next step). */
  close(): Promise<void>;
  /** `close()`, for `await using agent = chatAgent(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Signal name a chat run in follow-up mode waits for; its payload is `{ message: string }`. */
export const MESSAGE_SIGNAL = "message";

/** Budgets used where `limits` leaves one out. */
const DEFAULT_LIMITS = { maxTurns: 12, maxToolCalls: 30 };

/** What a step works with, built from the options and the run's settings. */
interface Runtime {
  model: ChatModel;
  tools: Map<string, Tool>;
  specs: ToolSpec[];
  limits: Required<Pick<ChatLimits, "maxTurns" | "maxToolCalls">> & ChatLimits;
}

/** `Cannot create chat agent 'x' as ...: current value is ...`. */
function problem(agent: string, what: string, value: unknown): string {
  let shown: string;
  try {
    shown = typeof value === "function" ? "a function" : JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return `Cannot create chat agent '${agent}' as ${what}: current value is ${shown}`;
}

function checkModel(agent: string, model: unknown): ChatModel {
  const m = model as Partial<ChatModel> | null;
  if (typeof m !== "object" || m === null || typeof m.complete !== "function") {
    throw new TypeError(
      problem(
        agent,
        "'model' must be a chat model (openAiCompatible(), scriptedModel()...)",
        model,
      ),
    );
  }
  return m as ChatModel;
}

function checkTools(agent: string, tools: unknown): readonly Tool[] {
  if (!Array.isArray(tools)) throw new TypeError(problem(agent, "'tools' must be an array", tools));
  const names = new Set<string>();
  for (const t of tools as Partial<Tool>[]) {
    if (
      typeof t !== "object" || t === null || typeof t.run !== "function" ||
      typeof t.name !== "string" || !TOOL_NAME.test(t.name) || typeof t.parameters !== "object"
    ) {
      throw new TypeError(problem(agent, "every tool must be made with tool()", t?.name ?? t));
    }
    if (t.name === "llm") {
      throw new TypeError(
        problem(agent, "no tool may be named 'llm' (the agent's LLM calls are)", t.name),
      );
    }
    if (names.has(t.name)) {
      throw new TypeError(
        problem(agent, `tool names must be unique ('${t.name}' is given twice)`, t.name),
      );
    }
    names.add(t.name);
  }
  return tools as readonly Tool[];
}

function checkLimits(agent: string, limits: unknown): Runtime["limits"] {
  if (typeof limits !== "object" || limits === null) {
    throw new TypeError(problem(agent, "'limits' must be an object", limits));
  }
  const l = { ...DEFAULT_LIMITS, ...limits as ChatLimits };
  for (const key of ["maxTurns", "maxToolCalls", "maxTokens"] as const) {
    const v = l[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new RangeError(problem(agent, `'limits.${key}' must be a positive integer`, v));
    }
  }
  if (l.maxCostUsd !== undefined && !(Number.isFinite(l.maxCostUsd) && l.maxCostUsd > 0)) {
    throw new RangeError(
      problem(agent, "'limits.maxCostUsd' must be a positive number", l.maxCostUsd),
    );
  }
  return l;
}

/** Checks the options that are given as values; those given as functions are checked per run. */
function checkOptions<S>(options: ChatAgentOptions<S>): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot create a chat agent as its options must be an object: got ${options}`,
    );
  }
  const { name } = options;
  if (typeof name !== "string" || name.trim() === "") {
    throw new TypeError(
      `Cannot create a chat agent as 'name' must be a non-empty string: current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  if (options.model === undefined) {
    throw new TypeError(problem(name, "'model' is required", undefined));
  }
  if (typeof options.model !== "function") checkModel(name, options.model);
  if (options.tools !== undefined && typeof options.tools !== "function") {
    checkTools(name, options.tools);
  }
  if (options.limits !== undefined && typeof options.limits !== "function") {
    checkLimits(name, options.limits);
  }
  if (options.system !== undefined && typeof options.system !== "string") {
    throw new TypeError(problem(name, "'system' must be a string", options.system));
  }
  if (options.mcp !== undefined) {
    const names = new Set<string>();
    for (const server of Array.isArray(options.mcp) ? options.mcp : [options.mcp]) {
      if (typeof server?.name !== "string" || typeof server?.config?.command !== "string") {
        throw new TypeError(problem(name, "'mcp' must list servers made with mcpServer()", server));
      }
      if (names.has(server.name)) {
        throw new TypeError(
          problem(name, `MCP server names must be unique ('${server.name}')`, server.name),
        );
      }
      names.add(server.name);
    }
  }
}

/** The first module in the call stack that is not this one: where the agent is defined. */
function callerModuleUrl(): string | undefined {
  const here = import.meta.url;
  for (const m of (new Error().stack ?? "").matchAll(/((?:file|https?):\/\/[^\s()]+?):\d+:\d+/g)) {
    if (m[1] !== here) return m[1];
  }
  return undefined;
}

/** Resolves a `PerRun` value for a run's settings. */
async function perRun<S, T>(value: PerRun<S, T>, settings: S): Promise<T> {
  return typeof value === "function"
    ? await (value as (settings: S) => T | Promise<T>)(settings)
    : value;
}

/** The agent's MCP servers, started once per process. */
type McpPool = ReturnType<typeof mcpPool>;

/** Starts the agent's MCP servers once per process; `close` stops them. */
function mcpPool(servers: readonly McpServer[], emit: (event: ChatEvent) => void) {
  let started: Promise<McpTools[]> | undefined;
  const start = async (): Promise<McpTools[]> => {
    const outcomes = await Promise.allSettled(
      servers.map((server) =>
        startMcpTools(server.name, server.config, {
          roots: server.roots?.map((path) => workspaceRoot(resolve(path))),
          unref: true,
        })
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    const sets = outcomes.flatMap((o) => o.status === "fulfilled" ? [o.value] : []);
    if (failed) {
      await Promise.allSettled(sets.map((s) => s.client.close()));
      throw failed.reason;
    }
    for (const set of sets) {
      for (const message of set.warnings) emit({ type: "warning", runId: "", message });
    }
    return sets;
  };
  return {
    get(): Promise<McpTools[]> {
      if (servers.length === 0) return Promise.resolve([]);
      if (!started) {
        started = start();
        // A failed start is not kept: the next step tries again.
        started.catch(() => started = undefined);
      }
      return started;
    },
    async close(): Promise<void> {
      const running = started;
      started = undefined;
      const sets = await running?.catch(() => []) ?? [];
      await Promise.allSettled(sets.map((s) => s.client.close()));
    },
  };
}

/** The last text the model wrote, for a run stopped by a budget. */
function lastText(messages: ChatMessage[]): string | undefined {
  const last = [...messages].reverse().find((m) => m.role === "assistant" && m.content);
  return (last?.content as string | undefined) ?? undefined;
}

/** Why a reply without tool calls ends the turn: an answer, a refusal, or a cut answer. */
export function stopReason(reply: LlmReply): "answer" | "refusal" | "length" {
  if (reply.refusal) return "refusal";
  return reply.finishReason === "length" ? "length" : "answer";
}

/** The assistant message of a reply, as the conversation keeps it (refusals included). */
function assistantMessage(reply: LlmReply): ChatMessage {
  if (reply.toolCalls.length > 0) {
    return { role: "assistant", content: reply.content || null, tool_calls: reply.toolCalls };
  }
  if (reply.refusal) {
    return { role: "assistant", content: reply.content || null, refusal: reply.refusal };
  }
  return { role: "assistant", content: reply.content };
}

/** The budget that is spent before the next LLM turn, with its sentence; undefined if none. */
function spentBudget<S>(
  state: ChatState<S>,
  limits: Runtime["limits"],
): { stoppedBy: StoppedBy; text: string } | undefined {
  if (state.turns >= limits.maxTurns) {
    return {
      stoppedBy: "max-turns",
      text: `No final answer within ${limits.maxTurns} LLM turns.`,
    };
  }
  const tokens = state.usage.promptTokens + state.usage.completionTokens;
  if (limits.maxTokens !== undefined && tokens >= limits.maxTokens) {
    return {
      stoppedBy: "max-tokens",
      text: `No final answer within the budget of ${limits.maxTokens} tokens (${tokens} used).`,
    };
  }
  if (limits.maxCostUsd !== undefined && state.usage.costUsd >= limits.maxCostUsd) {
    return {
      stoppedBy: "max-cost",
      text: `No final answer within the budget of $${limits.maxCostUsd} ($${
        state.usage.costUsd.toFixed(4)
      } spent).`,
    };
  }
  return undefined;
}

/**
 * Defines a chat agent: a durable LLM agent that answers a question with tools. Run it with the
 * runner (`startRun`, `resumeRun`, a worker, `ctx.child`); its state is the conversation.
 *
 * - Every LLM turn is a durable call (`llm:<turn>`) and every tool call one too
 *   (`tool:<turn>:<call id>`): a killed run resumes without asking the model again for a turn
 *   it answered or running a finished tool again.
 * - Tool arguments are checked against the tool's JSON Schema before it runs; bad ones, an
 *   unknown tool and a tool's failure go back to the model as an error result (stored, so a
 *   resume replays it). Failures the tool's `retry` names (default: transient) are retried first.
 * - LLM failures are retried when transient (429, 5xx, network, timeout); a failure that stays
 *   fails the run, which `retryRun` continues from its last turn.
 * - Budgets (`limits`) stop the run with a result that names the budget (`stoppedBy`).
 *
 * @param options Name, model, system prompt, tools, MCP servers, limits, events.
 * @returns The agent; `close()` stops the MCP servers it started.
 * @throws {TypeError} When the name is empty, or the model, tools, MCP servers or system prompt
 *   given as values are malformed.
 * @throws {RangeError} When a limit given as a value is not positive.
 *
 * @example
 * ```ts
 * import { openStore, startRun } from "@loom/runner";
 * import { chatAgent, scriptedModel, tool } from "@loom/run";
 *
 * const forecast = tool({
 *   name: "forecast",
 *   description: "Tomorrow's weather for a city.",
 *   parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 *   run: ({ city }) => `${city}: sunny, 21 °C`,
 * });
 * const agent = chatAgent({
 *   name: "weather",
 *   model: scriptedModel([
 *     { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
 *     "Sunny, 21 °C.",
 *   ]),
 *   system: "Answer with the tools.",
 *   tools: [forecast],
 *   limits: { maxTurns: 5 },
 * });
 * const store = openStore(":memory:");
 * const run = await startRun(agent, { store, runId: "w1", input: { question: "Oslo tomorrow?" } });
 * console.log(run.result?.answer, run.result?.stoppedBy); // "Sunny, 21 °C." "answer"
 * store.close();
 * ```
 */
export function chatAgent<S = undefined>(options: ChatAgentOptions<S>): ChatAgent<S> {
  checkOptions(options);
  const { name, system, stream = true, llmRetry = LLM_RETRY } = options;
  const emit = observer(options);
  const mcp = mcpPool(options.mcp ?? [], emit);
  const loop: Loop<S> = { stream, llmRetry, emit, runtime: runtimeFor(options, mcp) };
  const agent = defineAgent<ChatState<S>, ChatResult, ChatInput<S>>({
    name,
    version: options.version ?? 1,
    moduleUrl: options.moduleUrl ?? callerModuleUrl(),
    // LLM and tool calls retry on their own; a step that still fails should stop the run.
    retry: { maxAttempts: 1 },
    // A step never mutates the state it receives (it copies the conversation array before adding
    // to it), so its checkpoint costs about the turn's new messages, not the whole conversation.
    immutableState: true,
    initialState: (input) => initialChatState(name, system, input),
    step: (state, ctx) => chatStep(loop, state, ctx),
  });
  return Object.freeze({
    ...agent,
    close: () => mcp.close(),
    [Symbol.asyncDispose]: () => mcp.close(),
  });
}

/** What a step returns: the result, or the next state to checkpoint. */
type Next<S> = ChatResult | TailCall<[ChatState<S>]>;

/** What the steps of one chat agent share: streaming, LLM retries, events, the runtime. */
interface Loop<S> {
  stream: boolean;
  llmRetry: RetryPolicy;
  emit: (event: ChatEvent) => void;
  runtime: (settings: S) => Promise<Runtime>;
}

/** `options.onEvent`, guarded: an observer that throws is ignored. */
function observer<S>(options: ChatAgentOptions<S>): (event: ChatEvent) => void {
  return (event: ChatEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // an observer must never break a run
    }
  };
}

/** Builds a step's model, tools and limits from the options and the run's settings. */
function runtimeFor<S>(
  options: ChatAgentOptions<S>,
  mcp: McpPool,
): (settings: S) => Promise<Runtime> {
  const { name } = options;
  return async (settings: S): Promise<Runtime> => {
    const [model, tools, limits, servers] = await Promise.all([
      perRun(options.model, settings),
      perRun(options.tools ?? [], settings),
      perRun(options.limits ?? {}, settings),
      mcp.get(),
    ]);
    const byName = toolTable(name, tools, servers);
    const specs = [...byName.values()].map(({ name, description, parameters }) => ({
      name,
      description,
      parameters,
    }));
    return {
      model: checkModel(name, model),
      tools: byName,
      specs,
      limits: checkLimits(name, limits),
    };
  };
}

/** The agent's own tools and its MCP servers' tools, by name. */
function toolTable(agent: string, tools: unknown, servers: McpTools[]): Map<string, Tool> {
  const byName = new Map<string, Tool>();
  for (const t of checkTools(agent, tools)) byName.set(t.name, t);
  const warnings: string[] = [];
  for (const set of servers) addMcpTools(byName, set, warnings);
  return byName;
}

/** The first state of a run: the system prompt and the question. */
function initialChatState<S>(
  name: string,
  system: string | undefined,
  input: ChatInput<S>,
): ChatState<S> {
  if (typeof input?.question !== "string" || input.question.trim() === "") {
    throw new TypeError(
      `Cannot start a run of chat agent '${name}' as 'question' must be a non-empty string: current value is ${
        JSON.stringify(input?.question)
      }`,
    );
  }
  const messages: ChatMessage[] = system === undefined ? [] : [{ role: "system", content: system }];
  messages.push({ role: "user", content: input.question });
  const state = {
    settings: input.settings,
    messages,
    turns: 0,
    toolCalls: 0,
    totalTurns: 0,
    toolsExhausted: false,
    followUps: input.followUps ?? false,
    usage: NO_USAGE,
  } as ChatState<S>;
  if (input.settings === undefined) delete (state as { settings?: S }).settings;
  return state;
}

/** One step: a budget check, one LLM turn, then the answer or the tool calls it asked for. */
async function chatStep<S>(loop: Loop<S>, state: ChatState<S>, ctx: StepContext): Promise<Next<S>> {
  const { model, tools, specs, limits } = await loop.runtime(state.settings);
  const spent = spentBudget(state, limits);
  if (spent) return budgetResult(state, spent);
  const turn = state.totalTurns + 1;
  const { reply, fresh } = await callModel(ctx, model, {
    key: `llm:${turn}`,
    purpose: "chat",
    turn,
    messages: state.messages,
    tools: state.toolsExhausted ? [] : specs,
    stream: loop.stream,
    onEvent: loop.emit,
    retry: loop.llmRetry,
  });
  const next: ChatState<S> = {
    ...state,
    messages: [...state.messages, assistantMessage(reply)],
    usage: addUsage(state.usage, reply),
    turns: state.turns + 1,
    totalTurns: turn,
  };
  if (reply.toolCalls.length === 0) return await finish(loop, state, next, reply, fresh, ctx);
  return recur(await answerToolCalls(loop, ctx, { tools, limits }, turn, reply, next));
}

/** The result of a run stopped by a spent budget. */
function budgetResult<S>(
  state: ChatState<S>,
  spent: { stoppedBy: StoppedBy; text: string },
): ChatResult {
  return {
    answer: lastText(state.messages) ?? spent.text,
    stoppedBy: spent.stoppedBy,
    turns: state.turns,
    toolCalls: state.toolCalls,
    usage: state.usage,
  } satisfies ChatResult;
}

/** Runs the tool calls of a reply (or answers "budget spent") and adds their results. */
async function answerToolCalls<S>(
  loop: Loop<S>,
  ctx: StepContext,
  { tools, limits }: Pick<Runtime, "tools" | "limits">,
  turn: number,
  reply: LlmReply,
  next: ChatState<S>,
): Promise<ChatState<S>> {
  const messages = next.messages;
  let toolCalls = next.toolCalls;
  let toolsExhausted = next.toolsExhausted;
  for (const call of reply.toolCalls) {
    let outcome: ToolOutcome;
    if (toolCalls >= limits.maxToolCalls) {
      toolsExhausted = true;
      outcome = {
        ok: false,
        output:
          `error: the tool-call budget of this run is spent (${limits.maxToolCalls} calls); answer with what you have`,
      };
    } else {
      toolCalls++;
      outcome = await runToolCall(ctx, tools, call, `tool:${turn}:${call.id}`, loop.emit);
    }
    messages.push({ role: "tool", tool_call_id: call.id, content: outcome.output });
  }
  if (toolCalls >= limits.maxToolCalls) toolsExhausted = true;
  return { ...next, messages, toolCalls, toolsExhausted };
}

/** The model answered (or refused, or was cut): the result, or a wait for the next message. */
async function finish<S>(
  loop: Loop<S>,
  state: ChatState<S>,
  next: ChatState<S>,
  reply: LlmReply,
  fresh: boolean,
  ctx: StepContext,
): Promise<Next<S>> {
  const stoppedBy = stopReason(reply);
  // A replayed answer was already shown by the process that got it.
  if (fresh) {
    loop.emit({
      type: "answer",
      runId: ctx.runId,
      text: reply.content,
      stoppedBy,
      refusal: reply.refusal,
    });
  }
  const result: ChatResult = {
    answer: reply.content,
    stoppedBy,
    turns: next.turns,
    toolCalls: state.toolCalls,
    usage: next.usage,
  };
  if (reply.refusal) result.refusal = reply.refusal;
  if (!state.followUps) return result;
  // Follow-up mode: the run stays open until the next user message arrives as a signal.
  const message = await nextMessage(ctx);
  if (message === undefined) return result;
  return recur({
    ...next,
    answer: reply.content,
    messages: [...next.messages, { role: "user", content: message }],
    turns: 0,
    toolCalls: 0,
    toolsExhausted: false,
  });
}

/** Waits for the next user message (a `message` signal); undefined if none comes. */
async function nextMessage(ctx: StepContext): Promise<string | undefined> {
  const payload = await ctx.waitForSignal<{ message: string }>(MESSAGE_SIGNAL, {
    validate: (data) => {
      const message = (data as { message?: unknown })?.message;
      if (typeof message !== "string" || message.trim() === "") {
        throw new Error("a follow-up needs a non-empty message");
      }
      return { message };
    },
  });
  return "message" in payload ? payload.message : undefined;
}

/**
 * `@loom/run`: a durable LLM agent in a few lines, and `loom-run`, the repository chat agent
 * built with it.
 *
 * As a library: `chatAgent` is the model + tools loop as a runner agent. Every LLM turn and every
 * tool call is a durable call, so a killed run resumes without asking the model again or running
 * a finished tool again; budgets stop it cleanly; tool arguments are checked against their JSON
 * Schema before a tool runs; refusals and cut answers are results of their own. Models:
 * `openAiCompatible` (OpenAI, Ollama, vLLM, llama.cpp, a cassette) and `scriptedModel` (tests).
 * Tools: `tool` and `mcpServer`. Traces: `chatTracer` (live) and `traceChatRun` (from the store).
 *
 * As a program (`deno run -A jsr:@loom/run chat "why does the test fail?" --mock-llm`), this
 * module runs the `loom-run` CLI; see the README for its commands.
 *
 * @example
 * ```ts
 * import { openStore, startRun } from "@loom/runner";
 * import { chatAgent, scriptedModel, tool } from "@loom/run";
 *
 * const agent = chatAgent({
 *   name: "weather",
 *   model: scriptedModel([
 *     { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
 *     "Sunny, 21 °C.",
 *   ]),
 *   system: "Answer with the tools.",
 *   tools: [tool({
 *     name: "forecast",
 *     description: "Tomorrow's weather for a city.",
 *     parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 *     run: ({ city }) => ({ city, sky: "sunny", high: 21 }),
 *   })],
 * });
 * const store = openStore(":memory:");
 * const run = await startRun(agent, { store, runId: "w1", input: { question: "Oslo?" } });
 * console.log(run.result?.answer); // "Sunny, 21 °C."
 * store.close();
 * ```
 *
 * @module
 */
export {
  type ChatAgent,
  chatAgent,
  type ChatAgentOptions,
  type ChatInput,
  type ChatLimits,
  type ChatResult,
  type ChatState,
  MESSAGE_SIGNAL,
  type PerRun,
  type StoppedBy,
} from "./agent/chat.ts";
export type { ChatEvent } from "./agent/events.ts";
export { callModel, LLM_RETRY, type ModelCall } from "./agent/model_call.ts";
export { addUsage, NO_USAGE, sumUsage, type UsageTotals } from "./agent/usage.ts";
export { openAiCompatible, type OpenAiCompatibleOptions } from "./llm/openai.ts";
export {
  scriptedModel,
  type ScriptedModelOptions,
  type ScriptedToolCall,
  type ScriptedTurn,
} from "./llm/scripted.ts";
export {
  type ChatMessage,
  type ChatModel,
  LlmError,
  type LlmErrorCategory,
  type LlmReply,
  type LlmRequest,
  type ToolCall,
  type ToolSpec,
  type Usage,
} from "./llm/types.ts";
export type { McpServerConfig } from "./mcp/client.ts";
export { type McpServer, mcpServer, type McpServerOptions } from "./mcp/server.ts";
export type { JsonSchema, JsonType } from "./tools/json_schema.ts";
export {
  type SchemaObjectValue,
  type SchemaTypeValue,
  type SchemaValue,
  tool,
  type ToolContext,
  type ToolDefinition,
} from "./tools/tool.ts";
export { type Tool, ToolError, type ToolRunOptions } from "./tools/types.ts";
export { type ChatTracer, chatTracer } from "./trace.ts";
export { traceChatRun } from "./store_trace.ts";
// The runner, xray and tailcalls types this API names (and the types those name), re-exported
// as types so `@loom/run` documents, and `deno doc --lint`s, on its own. The values
// (`startRun`, `openStore`, `new Recorder()`…) come from those packages. `AttemptRecord`,
// `ObservedToolCall` and `ToolCallInfo` are the runner's deprecated names, kept for users.
export type {
  Agent,
  AGENT_BRAND,
  AgentDefinition,
  AttemptRecord,
  CallKind,
  CallRecord,
  CheckpointPolicy,
  ErrorCategory,
  EventRecord,
  FailedAttemptRecord,
  LeaseState,
  MaybePromise,
  ObservedToolCall,
  Page,
  PayloadPolicy,
  RetryPolicy,
  RunFilter,
  RunObserver,
  RunPatch,
  RunRecord,
  RunStartInfo,
  RunStatus,
  SignalRecord,
  SignalTimeout,
  StepContext,
  StepLogger,
  StepRecord,
  StepStats,
  Store,
  TAIL_CALL,
  TailCall,
  ToolCallContext,
  ToolCallEvent,
  ToolCallInfo,
  ToolCallOptions,
  WaitInfo,
} from "@loom/runner";
export type {
  AttributeValue,
  EndSpanOptions,
  ExitKind,
  ExitSite,
  LlmCall,
  ModelPrice,
  ParentRef,
  PriceTable,
  RecordedTiming,
  Recorder,
  RecordErrorOptions,
  Span,
  SpanError,
  SpanHandle,
  SpanKind,
  SpanStatus,
  StartSpanOptions,
  ToolCall as RecordedToolCall,
  TraceData,
} from "@loom/xray";

if (import.meta.main) {
  // The CLI (and its HTTP server) is loaded only when this module is the program.
  const { main } = await import("./cli.ts");
  Deno.exit(await main(Deno.args));
}

/**
 * Attribute names used on spans. OpenTelemetry GenAI semantic-convention names where one exists,
 * so a trace exported with `toOtlpJson` is understood by any GenAI-aware backend; `loom.*` names
 * for what the conventions do not cover (cost, idempotency, replay, loop exits).
 *
 * @module
 */

/** `gen_ai.operation.name`: `chat` for LLM calls, `execute_tool` for tool calls. */
export const GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
/** `gen_ai.provider.name`: who serves the model (`openai`, `anthropic`, `ollama`, ...). */
export const GEN_AI_PROVIDER_NAME = "gen_ai.provider.name";
/** `gen_ai.system`: the older name of `gen_ai.provider.name`, kept for older backends. */
export const GEN_AI_SYSTEM = "gen_ai.system";
/** `gen_ai.request.model`: the model asked for. */
export const GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
/** `gen_ai.response.model`: the model that answered, when the provider reports it. */
export const GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
/** `gen_ai.response.id`: the provider's id of the completion. */
export const GEN_AI_RESPONSE_ID = "gen_ai.response.id";
/** `gen_ai.response.finish_reasons`: why the model stopped, one per choice. */
export const GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons";
/** `gen_ai.request.temperature`. */
export const GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature";
/** `gen_ai.request.max_tokens`. */
export const GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens";
/** `gen_ai.usage.input_tokens`: prompt tokens (counted on `llm` spans only). */
export const GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
/** `gen_ai.usage.output_tokens`: completion tokens (counted on `llm` spans only). */
export const GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
/** `gen_ai.usage.cache_read.input_tokens`: input tokens served from the provider's cache. */
export const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens";
/** `gen_ai.conversation.id`: groups the calls of one conversation or session. */
export const GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id";
/** `gen_ai.tool.name`: the tool executed. */
export const GEN_AI_TOOL_NAME = "gen_ai.tool.name";
/** `gen_ai.tool.call.id`: links a model's tool request to the tool execution. */
export const GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id";

/** Cost of an `llm` span in US dollars; absent when the model has no known price. */
export const LOOM_COST_USD = "loom.cost.usd";
/** A tool call's idempotency key. */
export const LOOM_TOOL_IDEMPOTENCY_KEY = "loom.tool.idempotency_key";
/** `true` when a tool result was replayed from the store instead of executed. */
export const LOOM_TOOL_REPLAYED = "loom.tool.replayed";
/** Which loop exit a step took: `recur` or `return`. */
export const LOOM_EXIT_KIND = "loom.exit.kind";
/** Where that exit is in the source, `file:line:col`. */
export const LOOM_EXIT_LOCATION = "loom.exit.location";
/**
 * Set on a span that ended with an error a descendant span failed with first (the same error
 * object, or one in its `cause` chain): the id of that descendant, the root cause. Such a span
 * propagates the error; it is not another error.
 */
export const LOOM_ERROR_PROPAGATED_FROM = "loom.error.propagated_from";
/** Attempt number of a retried step or call, starting at 1. */
export const LOOM_ATTEMPT = "loom.attempt";

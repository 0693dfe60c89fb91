/**
 * LLM usage totals of a run: calls, tokens and cost, with the calls whose tokens or cost are
 * unknown counted apart, so a summary can say "unknown" instead of a false zero.
 *
 * @module
 */
import type { LlmReply, Usage } from "../llm/types.ts";

/**
 * Totals of LLM usage. Tokens and cost count only the calls that reported them; the calls that
 * did not are counted apart, so a summary can say "unknown" instead of a false zero.
 */
export interface UsageTotals extends Usage {
  /** LLM calls made. */
  calls: number;
  /** Cost in USD of the calls whose price is known. */
  costUsd: number;
  /** LLM calls whose endpoint reported no token usage (absent when none). */
  callsWithoutUsage?: number;
  /** LLM calls whose cost is unknown: no usage, or no known price (absent when none). */
  callsWithoutCost?: number;
}

/** Usage totals of nothing. */
export const NO_USAGE: UsageTotals = { calls: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };

/** Usage totals with the unknown counts set only when there are any (stored states stay small). */
function usageTotals(
  base: Usage & { calls: number; costUsd: number },
  callsWithoutUsage: number,
  callsWithoutCost: number,
): UsageTotals {
  const totals: UsageTotals = { ...base };
  if (callsWithoutUsage > 0) totals.callsWithoutUsage = callsWithoutUsage;
  if (callsWithoutCost > 0) totals.callsWithoutCost = callsWithoutCost;
  return totals;
}

/**
 * Sums usage totals (a supervisor's own calls and its children's).
 *
 * @param all The totals.
 * @returns Their sum.
 *
 * @example
 * ```ts
 * import { NO_USAGE, sumUsage } from "@loom/run";
 *
 * const one = { calls: 1, promptTokens: 10, completionTokens: 2, costUsd: 0.001 };
 * console.log(sumUsage(one, one, NO_USAGE).promptTokens); // 20
 * ```
 */
export function sumUsage(...all: UsageTotals[]): UsageTotals {
  return all.reduce((a, b) =>
    usageTotals(
      {
        calls: a.calls + b.calls,
        promptTokens: a.promptTokens + b.promptTokens,
        completionTokens: a.completionTokens + b.completionTokens,
        costUsd: a.costUsd + b.costUsd,
      },
      (a.callsWithoutUsage ?? 0) + (b.callsWithoutUsage ?? 0),
      (a.callsWithoutCost ?? 0) + (b.callsWithoutCost ?? 0),
    ), NO_USAGE);
}

/**
 * Adds one reply's usage to the totals (a reply without usage or cost counts as unknown).
 *
 * @param total The totals so far.
 * @param reply The reply of one more LLM call.
 * @returns The new totals.
 *
 * @example
 * ```ts
 * import { addUsage, NO_USAGE } from "@loom/run";
 *
 * const reply = { content: "hi", toolCalls: [], model: "m", finishReason: "stop" };
 * console.log(addUsage(NO_USAGE, reply).callsWithoutUsage); // 1: the endpoint sent no usage
 * ```
 */
export function addUsage(total: UsageTotals, reply: LlmReply): UsageTotals {
  return usageTotals(
    {
      calls: total.calls + 1,
      promptTokens: total.promptTokens + (reply.usage?.promptTokens ?? 0),
      completionTokens: total.completionTokens + (reply.usage?.completionTokens ?? 0),
      costUsd: total.costUsd + (reply.costUsd ?? 0),
    },
    (total.callsWithoutUsage ?? 0) + (reply.usage ? 0 : 1),
    (total.callsWithoutCost ?? 0) + (reply.costUsd === undefined ? 1 : 0),
  );
}

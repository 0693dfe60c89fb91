/**
 * Cost of LLM calls from a price table. A model that is not in the table gets no cost at all
 * (its tokens are still counted): a missing number is honest, a guessed one is not. So model
 * names are matched exactly (case-insensitive, an optional `provider/` prefix removed), never by
 * prefix: `gpt-4o-2024-05-13` was priced differently from `gpt-4o`, and a prefix match would
 * silently report the wrong figure.
 *
 * @module
 */

/** Prices of one model in US dollars per one million tokens. */
export interface ModelPrice {
  /** Input (prompt) tokens. */
  input: number;
  /** Output (completion) tokens. */
  output: number;
  /** Input tokens served from the provider's cache; when absent they cost `input`. */
  cachedInput?: number;
}

/** Model name (lower case) to price. */
export type PriceTable = Record<string, ModelPrice>;

/**
 * List prices (USD per 1M tokens) of common models, as published by their providers in 2025.
 * Check them against your provider before relying on them for billing; extend or override with
 * `withPrices` or the `prices` option of `Recorder`.
 */
export const DEFAULT_PRICES: Readonly<PriceTable> = Object.freeze({
  "gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "gpt-4o-2024-08-06": { input: 2.5, output: 10, cachedInput: 1.25 },
  "gpt-4o-2024-11-20": { input: 2.5, output: 10, cachedInput: 1.25 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "gpt-4o-mini-2024-07-18": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6, cachedInput: 0.1 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4, cachedInput: 0.025 },
  "o3-mini": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "o4-mini": { input: 1.1, output: 4.4, cachedInput: 0.275 },
  "gpt-5": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5-mini": { input: 0.25, output: 2, cachedInput: 0.025 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cachedInput: 0.005 },
  "claude-3-5-haiku-20241022": { input: 0.8, output: 4, cachedInput: 0.08 },
  "claude-3-5-haiku-latest": { input: 0.8, output: 4, cachedInput: 0.08 },
  "claude-3-5-sonnet-20241022": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-3-5-sonnet-latest": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-3-7-sonnet-20250219": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-3-7-sonnet-latest": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-sonnet-4-20250514": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-sonnet-4-0": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-opus-4-20250514": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-opus-4-0": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-3-haiku-20240307": { input: 0.25, output: 1.25, cachedInput: 0.03 },
  "gemini-2.0-flash": { input: 0.1, output: 0.4, cachedInput: 0.025 },
  "gemini-2.5-flash": { input: 0.3, output: 2.5, cachedInput: 0.075 },
});

/**
 * A price table with extra or overriding entries. Keys are matched case-insensitively.
 *
 * @param extra Prices to add (e.g. `{ "llama3.1:8b": { input: 0, output: 0 } }` for a local model).
 * @param base The table to extend. @default DEFAULT_PRICES
 * @returns A new table; neither argument is changed.
 */
export function withPrices(
  extra: PriceTable,
  base: Readonly<PriceTable> = DEFAULT_PRICES,
): PriceTable {
  const out: PriceTable = {};
  for (const [k, v] of Object.entries(base)) out[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (!(Number.isFinite(v.input) && Number.isFinite(v.output) && v.input >= 0 && v.output >= 0)) {
      throw new RangeError(
        `Cannot use the price of "${k}": input and output must be non-negative numbers, got ${
          JSON.stringify(v)
        }`,
      );
    }
    out[k.toLowerCase()] = v;
  }
  return out;
}

/**
 * Looks up a model's price: exact name, case-insensitive, with an optional `provider/` prefix
 * removed (`openai/gpt-4o` → `gpt-4o`).
 *
 * @param model The model name as sent to the provider.
 * @param table Prices. @default DEFAULT_PRICES
 * @returns The price, or `undefined` for an unknown model.
 */
export function priceFor(
  model: string,
  table: Readonly<PriceTable> = DEFAULT_PRICES,
): ModelPrice | undefined {
  const name = model.trim().toLowerCase();
  const lookup = (k: string) => Object.hasOwn(table, k) ? table[k] : findInsensitive(table, k);
  return lookup(name) ??
    (name.includes("/") ? lookup(name.slice(name.lastIndexOf("/") + 1)) : undefined);
}

/** Finds a key that differs only in case (tables written by hand may use capitals). */
function findInsensitive(table: Readonly<PriceTable>, lower: string): ModelPrice | undefined {
  for (const [k, v] of Object.entries(table)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Token usage of one call. */
export interface TokenUsage {
  /** The model. */
  model: string;
  /** Input tokens (including cached ones, as OpenTelemetry counts them). */
  inputTokens: number;
  /** Output tokens. */
  outputTokens: number;
  /** Of the input tokens, those read from the provider's cache. */
  cachedInputTokens?: number;
}

/**
 * The cost of one call in USD.
 *
 * @param usage Model and token counts.
 * @param table Prices. @default DEFAULT_PRICES
 * @returns The cost, or `undefined` when the model has no price (never a guess).
 *
 * @example
 * ```ts
 * import { costOf } from "@loom/xray";
 * costOf({ model: "gpt-4o-mini", inputTokens: 1_000_000, outputTokens: 0 }); // 0.15
 * costOf({ model: "my-local-model", inputTokens: 10, outputTokens: 10 }); // undefined
 * ```
 */
export function costOf(
  usage: TokenUsage,
  table: Readonly<PriceTable> = DEFAULT_PRICES,
): number | undefined {
  const price = priceFor(usage.model, table);
  if (!price) return undefined;
  const cached = Math.min(Math.max(usage.cachedInputTokens ?? 0, 0), usage.inputTokens);
  const fresh = usage.inputTokens - cached;
  const cents = fresh * price.input + cached * (price.cachedInput ?? price.input) +
    usage.outputTokens * price.output;
  return cents / 1_000_000;
}

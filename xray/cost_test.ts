import { equal, throws } from "node:assert/strict";
import { costOf, DEFAULT_PRICES, priceFor, withPrices } from "./cost.ts";

Deno.test("cost uses per-1M-token prices for input and output", () => {
  equal(costOf({ model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 1_000_000 }), 12.5);
  equal(
    costOf({ model: "gpt-4o-mini", inputTokens: 2000, outputTokens: 1000 }),
    (2000 * 0.15 + 1000 * 0.6) / 1e6,
  );
});

Deno.test("cached input tokens are priced at the cached rate", () => {
  const full = costOf({ model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0 })!;
  const cached = costOf({
    model: "gpt-4o",
    inputTokens: 1_000_000,
    outputTokens: 0,
    cachedInputTokens: 1_000_000,
  })!;
  equal(full, 2.5);
  equal(cached, 1.25);
});

Deno.test("unknown models have no cost, and names are never matched by prefix", () => {
  equal(costOf({ model: "llama3.1:8b", inputTokens: 100, outputTokens: 100 }), undefined);
  // An older snapshot with a different price must not borrow gpt-4o's.
  equal(priceFor("gpt-4o-2024-05-13"), undefined);
  equal(priceFor("gpt-4o-mini-extra"), undefined);
});

Deno.test("lookup ignores case and a provider prefix", () => {
  equal(priceFor("GPT-4o"), DEFAULT_PRICES["gpt-4o"]);
  equal(priceFor("openai/gpt-4o-mini"), DEFAULT_PRICES["gpt-4o-mini"]);
});

Deno.test("users extend and override the table without changing the default", () => {
  const table = withPrices({
    "llama3.1:8b": { input: 0, output: 0 },
    "GPT-4o": { input: 1, output: 1 },
  });
  equal(costOf({ model: "llama3.1:8b", inputTokens: 100, outputTokens: 100 }, table), 0);
  equal(costOf({ model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0 }, table), 1);
  equal(costOf({ model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0 }), 2.5);
  throws(() => withPrices({ bad: { input: -1, output: 1 } }), RangeError);
});

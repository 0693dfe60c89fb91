/**
 * Attribute readers shared by the phases of `summarize`: a missing or malformed attribute reads
 * as nothing, never as a crash or a `NaN` in a total.
 *
 * @module
 */

import { LOOM_COST_USD } from "./attributes.ts";
import type { Span } from "./model.ts";

/**
 * Reads a numeric attribute.
 *
 * @param span The span.
 * @param key The attribute name.
 * @returns The value, or `0` when absent or not a finite number.
 */
export function numberAttr(span: Span, key: string): number {
  const v = span.attributes[key];
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/**
 * Reads a string attribute.
 *
 * @param span The span.
 * @param key The attribute name.
 * @returns The value, or `undefined` when absent or not a string.
 */
export function stringAttr(span: Span, key: string): string | undefined {
  const v = span.attributes[key];
  return typeof v === "string" ? v : undefined;
}

/**
 * The cost of an `llm` span.
 *
 * @param span The span.
 * @returns Its cost in USD, or `null` for another kind of span or one that carries none.
 */
export function costOfSpan(span: Span): number | null {
  const v = span.attributes[LOOM_COST_USD];
  return span.kind === "llm" && typeof v === "number" && Number.isFinite(v) ? v : null;
}

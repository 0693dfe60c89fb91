/**
 * Trace and span ids in the shapes OTLP requires (32 and 16 lowercase hex characters, never all
 * zeros). Span ids are derived from the trace id and a per-trace counter, so they are unique
 * within a trace and reproducible for a given trace id (the Python viewer used process-global
 * counters, so the same program gave different ids depending on what ran before it).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A fresh random trace id: 32 hex characters. */
export function newTraceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[15] |= 1; // never all zeros
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `true` when `id` is a valid OTLP trace id. */
export function isTraceId(id: string): boolean {
  return /^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id);
}

/**
 * The `n`-th span id of a trace: the trace id's first 8 hex characters, then `n` in 8 hex.
 *
 * @param traceId The trace's id.
 * @param n The span's sequence number, starting at 1.
 * @returns 16 hex characters.
 */
export function spanIdFor(traceId: string, n: number): string {
  return traceId.slice(0, 8) + (n >>> 0).toString(16).padStart(8, "0");
}

/**
 * A trace id derived from a stable string (e.g. a run id), so rebuilding the trace of the same
 * run gives the same trace and span ids (and stable deep links into its page).
 *
 * @param seed Any string.
 * @returns 32 hex characters: the first half of the seed's SHA-256, never all zeros.
 */
export function traceIdFor(seed: string): string {
  const hex = createHash("sha256").update(seed, "utf8").digest("hex").slice(0, 32);
  return /^0+$/.test(hex) ? hex.slice(0, 31) + "1" : hex;
}

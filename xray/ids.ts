/**
 * Trace and span ids in the shapes OTLP requires (32 and 16 lowercase hex characters, never all
 * zeros). Span ids are derived from the trace id and a per-trace counter, so they are unique
 * within a trace and reproducible for a given trace id (the Python viewer used process-global
 * counters, so the same program gave different ids depending on what ran before it).
 *
 * @module
 */

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

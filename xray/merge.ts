/**
 * Merging several traces into one (e.g. the runs of a multi-agent supervisor, or the parts of a
 * resumed run), each under its own root, on one time axis.
 *
 * @module
 */

import { newTraceId, spanIdFor } from "./ids.ts";
import type { Span, TraceData } from "./model.ts";

/** Options for `mergeTraces`. */
export interface MergeOptions {
  /** Name of the merged trace. @default the names joined with " + " */
  name?: string;
  /** Trace id of the merged trace. @default a random one */
  traceId?: string;
}

/**
 * Merges traces. Span ids are reassigned (ids of different traces may collide), parents
 * remapped, times rebased on the earliest start; the spans of each input keep their own roots.
 * `meta.merged` lists the inputs; their possible loop exits are concatenated in `meta.exits`.
 *
 * @param traces At least one trace.
 * @param options Name and id of the result.
 * @returns A new trace.
 * @throws {RangeError} When `traces` is empty.
 */
export function mergeTraces(traces: TraceData[], options: MergeOptions = {}): TraceData {
  if (traces.length === 0) throw new RangeError("Cannot merge zero traces: give at least one");
  const traceId = options.traceId ?? newTraceId();
  const startTime = Math.min(...traces.map((t) => t.startTime));
  const spans: Span[] = [];
  const exits: unknown[] = [];
  let n = 0;
  for (const t of traces) {
    const ids = new Map<string, string>();
    for (const s of t.spans) ids.set(s.id, spanIdFor(traceId, ++n));
    const shift = t.startTime - startTime;
    for (const s of t.spans) {
      spans.push({
        ...structuredClone(s),
        id: ids.get(s.id)!,
        parentId: s.parentId !== null ? ids.get(s.parentId) ?? null : null,
        startOffset: s.startOffset + shift,
        meta: {
          ...structuredClone(s.meta),
          ...(s.parentId === null ? { "loom.source_trace": t.traceId } : {}),
        },
      });
    }
    if (Array.isArray(t.meta.exits)) exits.push(...t.meta.exits);
  }
  return {
    format: "loom-trace/1",
    traceId,
    name: options.name ?? traces.map((t) => t.name).join(" + "),
    startTime,
    spans,
    redactions: traces.reduce((sum, t) => sum + t.redactions, 0),
    meta: {
      merged: traces.map((t) => ({
        traceId: t.traceId,
        name: t.name,
        startTime: t.startTime,
        meta: t.meta,
      })),
      ...(exits.length > 0 ? { exits } : {}),
    },
  };
}

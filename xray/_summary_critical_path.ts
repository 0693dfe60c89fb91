/**
 * The critical-path phase of `summarize`: the chain of work that determined how long the trace
 * took.
 *
 * @module
 */

import type { Span } from "./model.ts";
import type { Interval } from "./_summary_spans.ts";
import type { CriticalPath, CriticalPathSegment } from "./summary.ts";
import type { SpanTree } from "./tree.ts";

const NO_KIDS: Span[] = [];

/**
 * Walks back from the end of the trace: at each moment the path is in the child that finished
 * last before the current cursor, else in the span itself. Each millisecond is attributed to
 * exactly one span, so the segments add up to at most the wall time.
 *
 * @param tree The trace's span tree.
 * @param interval Each span's interval, from `timeline`.
 * @returns The path, its segments in time order.
 */
export function criticalPath(tree: SpanTree, interval: Map<string, Interval>): CriticalPath {
  const segments: CriticalPathSegment[] = []; // built backwards, reversed at the end
  const push = (s: Span | null, ms: number) => {
    if (s === null || ms <= 0) return;
    const last = segments[segments.length - 1];
    if (last && last.spanId === s.id) last.ms += ms;
    else segments.push({ spanId: s.id, name: s.name, kind: s.kind, ms });
  };
  // Children in order of decreasing end: the first one that starts before the cursor is the one
  // that finished last before it (later ones in this order end earlier), and one skipped because
  // it starts after the cursor stays skipped as the cursor only moves back. O(k log k) per span.
  const walk = (span: Span | null, kids: Span[], start: number, end: number) => {
    if (kids.length === 0) return push(span, end - start); // a leaf: all of it is its own
    let cursor = end;
    const byEnd = kids.slice().sort((x, y) => interval.get(y.id)![1] - interval.get(x.id)![1]);
    for (const child of byEnd) {
      if (cursor <= start) break;
      const [a, b] = interval.get(child.id)!;
      if (b <= start) break; // this one and all after it ended before the window
      if (a >= cursor) continue;
      const childEnd = Math.min(b, cursor);
      push(span, cursor - childEnd);
      const childStart = Math.max(a, start);
      walk(child, tree.childrenOf.get(child.id) ?? NO_KIDS, childStart, childEnd);
      cursor = childStart;
    }
    push(span, cursor - start);
  };
  if (tree.roots.length > 0) {
    let start = Infinity;
    let end = -Infinity;
    for (const r of tree.roots) {
      const [a, b] = interval.get(r.id)!;
      start = Math.min(start, a);
      end = Math.max(end, b);
    }
    walk(null, tree.roots, start, end);
  }
  segments.reverse();
  return { ms: segments.reduce((n, s) => n + s.ms, 0), segments };
}

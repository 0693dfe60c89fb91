/**
 * Tree helpers over the flat span list.
 *
 * @module
 */

import type { Span } from "./model.ts";

/** Groups spans under their parent's id, keeping the given order; `null` collects the roots. */
function groupByParent(
  spans: Span[],
  parentOf: (span: Span) => string | null,
): Map<string | null, Span[]> {
  const kids = new Map<string | null, Span[]>();
  for (const s of spans) {
    const p = parentOf(s);
    const list = kids.get(p) ?? [];
    list.push(s);
    kids.set(p, list);
  }
  return kids;
}

/**
 * Depth-first walk from `roots`, each parent before its children, siblings in list order. Each
 * span is visited once: with repeated ids (two spans sharing an id share a child list) or a
 * parent cycle, a span already walked is not walked again, so the walk always ends.
 */
function preOrder(
  roots: Span[],
  kids: Map<string | null, Span[]>,
): { order: Span[]; depths: number[] } {
  const order: Span[] = [];
  const depths: number[] = [];
  const seen = new Set<Span>();
  const stack: Array<[Span, number]> = roots.slice().reverse().map((r) => [r, 0]);
  while (stack.length > 0) {
    const [s, d] = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    order.push(s);
    depths.push(d);
    const c = kids.get(s.id);
    if (c) { for (let i = c.length - 1; i >= 0; i--) stack.push([c[i], d + 1]); }
  }
  return { order, depths };
}

/**
 * Orders spans so each parent comes before its children, keeping the given order among
 * siblings. Spans whose parent is missing are treated as roots.
 *
 * @param spans Spans in any order.
 * @returns A new array.
 */
export function parentsFirst(spans: Span[]): Span[] {
  const ids = new Set(spans.map((s) => s.id));
  const kids = groupByParent(
    spans,
    (s) => s.parentId !== null && ids.has(s.parentId) ? s.parentId : null,
  );
  const { order: out } = preOrder(kids.get(null) ?? [], kids);
  // Spans in a parent cycle (only possible with hand-made ids) are kept, at the end.
  if (out.length < spans.length) {
    const seen = new Set(out);
    for (const s of spans) if (!seen.has(s)) out.push(s);
  }
  return out;
}

/** The spans of a trace as a tree, built by `spanTree`. */
export interface SpanTree {
  /** Every span by id (when ids repeat, the last span with the id). */
  byId: Map<string, Span>;
  /** Spans with no parent in the trace (none, a missing one, or themselves), in start order. */
  roots: Span[];
  /** Direct children by parent id, in start order; a span without children has no entry. */
  childrenOf: Map<string, Span[]>;
  /**
   * The spans reachable from the roots, depth first, each parent before its children. Spans in
   * a parent cycle (only possible with hand-made ids) are not reachable and are left out, and so
   * is a span whose id a later span repeats.
   */
  order: Span[];
  /** Depth of each span of `order`: 0 for a root. */
  depthOf: Map<string, number>;
}

/**
 * Builds the span tree: roots and children sorted by start (ties keep the given order), and a
 * depth-first walk with depths.
 *
 * @param spans The spans of a trace, in any order.
 * @returns The tree; the spans themselves are not copied.
 */
export function spanTree(spans: Span[]): SpanTree {
  const byId = new Map<string, Span>();
  for (const s of spans) byId.set(s.id, s);
  // A span whose id a later span repeats cannot have figures of its own (they are kept by id):
  // it is left out, as spans in a parent cycle are.
  const owners = byId.size === spans.length ? spans : spans.filter((s) => byId.get(s.id) === s);
  const kids = groupByParent(
    owners,
    (s) => s.parentId !== null && byId.has(s.parentId) && s.parentId !== s.id ? s.parentId : null,
  );
  const roots = kids.get(null) ?? [];
  kids.delete(null);
  const byStart = (a: Span, b: Span) => a.startOffset - b.startOffset;
  roots.sort(byStart);
  for (const list of kids.values()) list.sort(byStart);
  const { order, depths } = preOrder(roots, kids);
  const depthOf = new Map<string, number>();
  order.forEach((s, i) => depthOf.set(s.id, depths[i]));
  return { byId, roots, childrenOf: kids as Map<string, Span[]>, order, depthOf };
}

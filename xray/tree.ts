/**
 * Tree helpers over the flat span list.
 *
 * @module
 */

import type { Span } from "./model.ts";

/**
 * Orders spans so each parent comes before its children, keeping the given order among
 * siblings. Spans whose parent is missing are treated as roots.
 *
 * @param spans Spans in any order.
 * @returns A new array.
 */
export function parentsFirst(spans: Span[]): Span[] {
  const ids = new Set(spans.map((s) => s.id));
  const kids = new Map<string | null, Span[]>();
  for (const s of spans) {
    const p = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    const list = kids.get(p) ?? [];
    list.push(s);
    kids.set(p, list);
  }
  const out: Span[] = [];
  const stack = (kids.get(null) ?? []).slice().reverse();
  while (stack.length > 0) {
    const s = stack.pop()!;
    out.push(s);
    const c = kids.get(s.id);
    if (c) { for (let i = c.length - 1; i >= 0; i--) stack.push(c[i]); }
  }
  // Spans in a parent cycle (only possible with hand-made ids) are kept, at the end.
  if (out.length < spans.length) {
    const seen = new Set(out);
    for (const s of spans) if (!seen.has(s)) out.push(s);
  }
  return out;
}

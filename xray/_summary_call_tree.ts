/**
 * The call-tree phase of `summarize`: spans merged by call path (the kinds and grouped names from
 * the root down), as a flame graph and the call graph draw them.
 *
 * A node's width (`inclusiveMs`) is its spans' self time plus its children's widths, so a child
 * is never wider than its parent and no time is counted twice; concurrent children add up (the
 * width is work done, which can exceed wall time).
 *
 * @module
 */

import { LOOM_EXIT_KIND, LOOM_EXIT_LOCATION } from "./attributes.ts";
import { groupName } from "./_summary_aggregates.ts";
import type { CallTreeNode, SpanSummary } from "./summary.ts";
import type { SpanTree } from "./tree.ts";
import type { Span } from "./model.ts";

/**
 * Most nodes a call tree keeps. Past it, spans that would open a new node are merged into one
 * `…` node per parent, so a trace of unique names still gives a drawable tree.
 */
export const MAX_CALL_TREE_NODES = 20_000;

/** The loop exit a step took, as `recur file:line:col`, or `null`. */
function exitOf(s: Span): string | null {
  const kind = s.attributes[LOOM_EXIT_KIND];
  const location = s.attributes[LOOM_EXIT_LOCATION];
  if ((kind !== "recur" && kind !== "return") || typeof location !== "string") return null;
  return `${kind} ${location}`;
}

/** What the call tree is: the nodes, and each reachable span's node. */
export interface CallTree {
  /** The nodes, each parent before its children. */
  nodes: CallTreeNode[];
  /** Node index of each reachable span, by span id. */
  nodeOf: Map<string, number>;
}

/**
 * Merges the reachable spans by call path.
 *
 * @param tree The trace's span tree.
 * @param perSpan Per-span times, from `spanFigures`; each span's `callNode` is set here.
 * @param isError Whether a span failed (status or kind error).
 * @returns The nodes, parents first, children in order of first appearance.
 */
export function callTree(
  tree: SpanTree,
  perSpan: Record<string, SpanSummary>,
  isError: (s: Span) => boolean,
): CallTree {
  const nodes: CallTreeNode[] = [];
  const byKey = new Map<string, number>();
  const nodeOf = new Map<string, number>();
  const groups = new Map<string, string>(); // name -> group name, computed once per name
  const nodeFor = (parent: number, s: Span): number => {
    let label = groups.get(s.name);
    if (label === undefined) groups.set(s.name, label = groupName(s.name));
    let key = `${parent}\u0000${s.kind}\u0000${label}`;
    let id = byKey.get(key);
    if (id !== undefined) return id;
    const full = nodes.length >= MAX_CALL_TREE_NODES;
    if (full) {
      key = `${parent}\u0000…`;
      id = byKey.get(key);
      if (id !== undefined) return id;
    }
    id = nodes.length;
    byKey.set(key, id);
    nodes.push({
      parent,
      kind: s.kind,
      name: full ? "…" : label,
      depth: parent >= 0 ? nodes[parent].depth + 1 : 0,
      count: 0,
      selfMs: 0,
      totalMs: 0,
      inclusiveMs: 0,
      errorSpans: 0,
      firstSpanId: s.id,
      exits: [],
    });
    return id;
  };
  for (const s of tree.order) {
    const parent = s.parentId !== null && s.parentId !== s.id ? nodeOf.get(s.parentId) : undefined;
    const id = nodeFor(parent ?? -1, s);
    nodeOf.set(s.id, id);
    const n = nodes[id];
    const fig = perSpan[s.id];
    fig.callNode = id;
    n.count++;
    n.selfMs += fig.selfMs;
    n.totalMs += fig.totalMs;
    if (isError(s)) n.errorSpans++;
    const exit = exitOf(s);
    if (exit !== null && !n.exits.includes(exit)) n.exits.push(exit);
  }
  // Widths, children before parents (a child's index is always after its parent's).
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    n.inclusiveMs += n.selfMs;
    if (n.parent >= 0) nodes[n.parent].inclusiveMs += n.inclusiveMs;
  }
  return { nodes, nodeOf };
}

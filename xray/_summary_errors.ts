/**
 * The errors phase of `summarize`: one error is counted once, at its root cause (the deepest
 * span that failed with it); ancestors that ended with the same error only propagated it.
 *
 * @module
 */

import { LOOM_ERROR_PROPAGATED_FROM } from "./attributes.ts";
import type { Span } from "./model.ts";
import type { ErrorAnalysis, RootCauseError } from "./summary.ts";
import type { SpanTree } from "./tree.ts";

/**
 * Whether a span records a failure.
 *
 * @param span The span.
 * @returns `true` for status `error` or kind `error`.
 */
export function isErrorSpan(span: Span): boolean {
  return span.status === "error" || span.kind === "error";
}

/** The identity used to recognise the same error on a parent: class name and message. */
function errorKey(span: Span): string {
  return `${span.error?.type ?? "Error"}\u0000${span.error?.message ?? ""}`;
}

/**
 * Failing spans that propagate an error: they say so, or a descendant failed with the same
 * error. Walks children before parents, collecting the errors failed in each subtree.
 */
function propagatingSpans(tree: SpanTree): Set<string> {
  // span id -> error keys failed in its subtree; only subtrees where something failed have one
  const failedBelow = new Map<string, Set<string>>();
  const propagates = new Set<string>();
  for (let i = tree.order.length - 1; i >= 0; i--) {
    const s = tree.order[i];
    let keys: Set<string> | undefined;
    for (const c of tree.childrenOf.get(s.id) ?? NONE) {
      const below = failedBelow.get(c.id);
      if (!below) continue;
      keys ??= new Set();
      for (const k of below) keys.add(k);
    }
    if (isErrorSpan(s)) {
      const marked = typeof s.attributes[LOOM_ERROR_PROPAGATED_FROM] === "string";
      if (marked || keys?.has(errorKey(s))) propagates.add(s.id);
      (keys ??= new Set()).add(errorKey(s));
    }
    if (keys) failedBelow.set(s.id, keys);
  }
  return propagates;
}
const NONE: Span[] = [];

/**
 * Describes the error of root-cause span `s`: its path from the root, the ancestors that ended
 * with the same error (innermost first) and whether one above them caught it.
 */
function rootCause(s: Span, byId: Map<string, Span>): RootCauseError {
  const path: string[] = [];
  const through: string[] = [];
  let chainOpen = true;
  let cur: Span | undefined = s;
  let top: Span = s;
  const seen = new Set<Span>(); // a parent cycle (hand-made ids) ends the walk, not the process
  while (cur && !seen.has(cur)) {
    seen.add(cur);
    path.unshift(cur.name);
    top = cur;
    const parent: Span | undefined = cur.parentId !== null && cur.parentId !== cur.id
      ? byId.get(cur.parentId)
      : undefined;
    if (parent && chainOpen) {
      const same = errorKey(parent) === errorKey(s) ||
        parent.attributes[LOOM_ERROR_PROPAGATED_FROM] === s.id;
      if (isErrorSpan(parent) && same) through.push(parent.id);
      else chainOpen = false;
    }
    cur = parent;
  }
  const handled = !(top.id === s.id || through.includes(top.id));
  return {
    spanId: s.id,
    type: s.error?.type ?? "Error",
    message: s.error?.message ?? "",
    path,
    propagatedThrough: through,
    handled,
  };
}

/** What the errors phase finds. */
export interface FoundErrors {
  /** The errors part of the summary. */
  analysis: ErrorAnalysis;
  /** Ids of the root-cause spans, for the per-span subtree counts. */
  rootCauseIds: Set<string>;
}

/**
 * Finds the distinct errors of a trace, each at its root cause, in trace order.
 *
 * @param tree The trace's span tree.
 * @returns The analysis and the ids of the root-cause spans.
 */
export function findErrors(tree: SpanTree): FoundErrors {
  const propagates = propagatingSpans(tree);
  const rootCauses: RootCauseError[] = [];
  const rootCauseIds = new Set<string>();
  let errorSpans = 0;
  for (const s of tree.order) {
    if (!isErrorSpan(s)) continue;
    errorSpans++;
    if (propagates.has(s.id)) continue;
    rootCauseIds.add(s.id);
    rootCauses.push(rootCause(s, tree.byId));
  }
  return { analysis: { count: rootCauses.length, errorSpans, rootCauses }, rootCauseIds };
}

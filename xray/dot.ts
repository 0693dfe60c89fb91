/**
 * Graphviz export of the span tree: one node per span (kind, name, duration, tokens, cost,
 * status), one edge per parent → child. Render with `dot -Tsvg trace.dot -o trace.svg`.
 *
 * @module
 */

import type { TraceData } from "./model.ts";
import { summarize } from "./summary.ts";

const FILL: Record<string, string> = {
  run: "#e8eaf6",
  step: "#e3f2fd",
  llm: "#f3e5f5",
  tool: "#e8f5e9",
  branch: "#fff8e1",
  error: "#ffebee",
  event: "#eceff1",
};

/** A DOT double-quoted string: quotes and backslashes escaped, newlines as `\n`. */
function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}

/** Milliseconds for a label. */
function ms(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(1)} ms`;
}

/** Options for `toDot`. */
export interface DotOptions {
  /** Longest span name shown before it is cut. @default 60 */
  maxLabel?: number;
}

/**
 * Converts a trace to a Graphviz digraph of its span tree. Failed spans are drawn red, spans
 * that never ended dashed; each label shows total and self time, and tokens/cost for LLM calls.
 *
 * @param trace The trace.
 * @param options Label length.
 * @returns DOT source text.
 */
export function toDot(trace: TraceData, options: DotOptions = {}): string {
  const { maxLabel = 60 } = options;
  const summary = summarize(trace);
  const ids = new Set(trace.spans.map((s) => s.id));
  const lines = [
    `digraph ${quote(trace.name)} {`,
    "  rankdir=LR;",
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
  ];
  for (const s of trace.spans) {
    const p = summary.spans[s.id];
    const name = s.name.length > maxLabel ? `${s.name.slice(0, maxLabel - 1)}…` : s.name;
    const parts = [`${s.kind}: ${name}`];
    if (p) parts.push(`${ms(p.totalMs)} (self ${ms(p.selfMs)})${p.open ? " open" : ""}`);
    if (s.kind === "llm") {
      const t = p?.subtree;
      if (t) {
        parts.push(
          `${t.inputTokens}+${t.outputTokens} tok${
            t.costUsd > 0 ? ` $${t.costUsd.toFixed(4)}` : ""
          }`,
        );
      }
    }
    if (s.error) parts.push(`${s.error.type}: ${s.error.message.slice(0, maxLabel)}`);
    const style = s.duration === null ? ', style="rounded,filled,dashed"' : "";
    const color = s.status === "error" || s.kind === "error" ? ', color="#c62828", penwidth=2' : "";
    lines.push(
      `  ${quote(s.id)} [label=${quote(parts.join("\n"))}, fillcolor=${
        quote(FILL[s.kind] ?? "#ffffff")
      }${style}${color}];`,
    );
  }
  for (const s of trace.spans) {
    if (s.parentId !== null && ids.has(s.parentId)) {
      lines.push(`  ${quote(s.parentId)} -> ${quote(s.id)};`);
    }
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

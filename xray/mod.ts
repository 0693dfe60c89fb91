/**
 * `@loom/xray`: record what a program did (runs, steps, LLM calls, tool calls, errors, tokens,
 * cost) as a trace of spans, and look at it: one offline HTML file, an OpenTelemetry (OTLP/JSON)
 * export, Graphviz, terminal totals, and a step-by-step diff that gates CI.
 *
 * The optional trace server lives in `@loom/xray/serve`: a plain `(Request) => Response` handler
 * that `Deno.serve` runs and a Hono app mounts. xray imports no package.
 *
 * @example
 * ```ts
 * import { recordTool, summarize, trace, traced } from "@loom/xray";
 * const read = traced("read", (path: string) => {
 *   recordTool({ name: "read_file", args: { path }, result: "hello" });
 *   return "hello";
 * });
 * let data;
 * await trace((rec) => {
 *   read("a.txt");
 *   data = rec.toJSON();
 * }, { name: "demo" });
 * console.log(summarize(data!).totals.toolCalls); // 1
 * ```
 *
 * @module
 */

export type * from "./model.ts";
export * from "./attributes.ts";
export * from "./capture.ts";
export * from "./cost.ts";
export { isTraceId, newTraceId, spanIdFor, traceIdFor } from "./ids.ts";
export { currentSpan, runInSpan } from "./context.ts";
export * from "./recorder.ts";
export * from "./trace.ts";
export * from "./exits.ts";
export * from "./summary.ts";
export * from "./load.ts";
export * from "./otlp.ts";
export * from "./diff.ts";
export * from "./dot.ts";
export * from "./merge.ts";
export { embedJson, escapeHtml } from "./escape.ts";
export { type HtmlOptions, toHtml, writeHtml } from "./html.ts";

/**
 * `loom-xray`: look at traces from the terminal.
 *
 * ```
 * loom-xray html trace.json [-o trace.html] [--compare other.json]
 * loom-xray otlp trace.json [-o otlp.json | --endpoint URL] [--service-name NAME]
 * loom-xray merge a.json b.json ... [-o merged.json] [--name NAME]
 * loom-xray summary trace.json [--json]
 * loom-xray dot trace.json [-o trace.dot]
 * loom-xray diff a.json b.json [--ignore PATTERN]... [--max-cost-increase X] [--max-token-increase X]
 *                              [--json] [--html diff.html]
 * loom-xray serve DIR [--port 8787]
 * ```
 *
 * Exit codes: 0 ok (for `diff`: same within tolerances), 1 `diff` found differences beyond the
 * tolerances, 2 usage or input error (one sentence on stderr, no stack trace).
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { type DiffOptions, diffTraces, formatDiff, parseTolerance } from "./diff.ts";
import { toDot } from "./dot.ts";
import { type HtmlOptions, writeHtml } from "./html.ts";
import { loadTrace, TraceFormatError } from "./load.ts";
import { mergeTraces } from "./merge.ts";
import type { TraceData } from "./model.ts";
import { postOtlp, toOtlpJson } from "./otlp.ts";
import { summarize, type TraceSummary } from "./summary.ts";

/** A mistake in the command line or its input files; exit code 2. */
export class UsageError extends Error {
  /**
   * Makes the error.
   *
   * @param message One sentence saying what is wrong and how to fix it.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const USAGE = `loom-xray: look at Loom traces

usage:
  loom-xray html TRACE.json [-o OUT.html] [--compare OTHER.json]
  loom-xray otlp TRACE.json [-o OUT.json | --endpoint URL] [--service-name NAME]
  loom-xray merge A.json B.json ... [-o OUT.json] [--name NAME]
  loom-xray summary TRACE.json [--json]
  loom-xray dot TRACE.json [-o OUT.dot]
  loom-xray diff A.json B.json [--ignore PATTERN]... [--max-cost-increase X]
                 [--max-token-increase X] [--json] [--html OUT.html]
  loom-xray serve DIR [--port 8787]     (trace files in DIR, on http://127.0.0.1)

tolerances: a number is absolute (tokens, or USD for cost), "10%" is relative to A.
exit codes: 0 ok, 1 diff found differences beyond tolerances, 2 usage or input error.
`;

/** Writes text to a file, or to stdout when no path is given. */
async function output(text: string, path: string | undefined): Promise<void> {
  if (path === undefined) {
    await Deno.stdout.write(new TextEncoder().encode(text));
    return;
  }
  try {
    await Deno.writeTextFile(path, text);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Streams an HTML page to a file (a 1,000,000-span page is never one string in memory). */
async function outputHtml(trace: TraceData, path: string, options: HtmlOptions): Promise<void> {
  try {
    await writeHtml(trace, path, options);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Parses flags for one command; unknown flags are usage errors. */
function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
}

/** Exactly `n` positional trace paths (or at least `n` when `atLeast`). */
function needFiles(positionals: string[], n: number, command: string, atLeast = false): void {
  if (atLeast ? positionals.length < n : positionals.length !== n) {
    const what = atLeast ? `at least ${n}` : `${n}`;
    throw new UsageError(
      `${command} needs ${what} trace file(s), got ${positionals.length} (see loom-xray --help)`,
    );
  }
}

/** `1.23 s` or `45.6 ms`. */
function ms(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(1)} ms`;
}

/** The trace's name, totals and root-cause errors. */
function totalsLines(trace: TraceData, s: TraceSummary): string[] {
  const t = s.totals;
  const lines: string[] = [];
  lines.push(`trace "${trace.name}" ${trace.traceId}`);
  lines.push(
    `  ${t.spans} spans (${
      Object.entries(t.byKind).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ")
    })` +
      `, wall ${ms(t.wallMs)}${t.openSpans > 0 ? `, ${t.openSpans} still open` : ""}`,
  );
  lines.push(
    `  llm calls ${t.llmCalls}, tool calls ${t.toolCalls}${
      t.replayedToolCalls ? ` (${t.replayedToolCalls} replayed)` : ""
    }`,
  );
  const unpriced = t.unpricedLlmCalls > 0
    ? ` (+ ${t.unpricedLlmCalls} call(s) with no known price)`
    : "";
  lines.push(
    `  tokens ${t.inputTokens} in / ${t.outputTokens} out, cost $${
      t.costUsd.toFixed(6)
    }${unpriced}`,
  );
  lines.push(
    `  errors ${t.errors}${
      s.errors.errorSpans > t.errors ? ` (${s.errors.errorSpans} spans carry them)` : ""
    }`,
  );
  for (const e of s.errors.rootCauses) {
    lines.push(
      `    ${e.type}: ${e.message} at ${e.path.join(" › ")}${e.handled ? " (handled)" : ""}`,
    );
  }
  if (trace.redactions > 0) lines.push(`  ${trace.redactions} value(s) redacted`);
  return lines;
}

/** Per-model calls, tokens and cost. */
function modelLines(s: TraceSummary): string[] {
  if (s.models.length === 0) return [];
  const lines = ["models:"];
  for (const m of s.models) {
    const cost = m.costUsd === null ? "no price" : `$${m.costUsd.toFixed(6)}`;
    lines.push(
      `  ${m.model}${
        m.provider ? ` (${m.provider})` : ""
      }: ${m.calls} call(s), ${m.inputTokens}/${m.outputTokens} tokens, ${cost}`,
    );
  }
  return lines;
}

/** The critical path (segments over 5% of it) and the five spans with the most self time. */
function timeLines(trace: TraceData, s: TraceSummary): string[] {
  const lines: string[] = [];
  const byId = new Map(trace.spans.map((x) => [x.id, x]));
  const path = s.criticalPath.segments.filter((x) => x.ms > 0.05 * s.criticalPath.ms);
  if (path.length > 0) {
    lines.push(`critical path ${ms(s.criticalPath.ms)}:`);
    for (const seg of path) lines.push(`  ${ms(seg.ms).padStart(10)}  ${seg.kind}: ${seg.name}`);
  }
  const slow = Object.entries(s.spans).sort((a, b) => b[1].selfMs - a[1].selfMs).slice(0, 5);
  if (slow.length > 0) {
    lines.push("most self time:");
    for (const [id, p] of slow) {
      const sp = byId.get(id)!;
      lines.push(
        `  ${ms(p.selfMs).padStart(10)} self, ${ms(p.totalMs)} total  ${sp.kind}: ${sp.name}`,
      );
    }
  }
  return lines;
}

/** Repeated calls, loop exits and tags. */
function callLines(s: TraceSummary): string[] {
  const lines: string[] = [];
  if (s.repeatedCalls.length > 0) {
    lines.push("repeated calls:");
    for (const r of s.repeatedCalls) {
      lines.push(
        `  ${r.kind} ${r.name} ×${r.count}${r.replayed ? ` (${r.replayed} replayed)` : ""}`,
      );
    }
  }
  if (s.exits.length > 0) {
    lines.push("loop exits:");
    for (const e of s.exits) {
      lines.push(
        `  ${e.kind.padEnd(6)} ${e.location}  ${e.taken ? `taken ×${e.count}` : "never taken"}${
          e.possible ? "" : " (not in scanned source)"
        }`,
      );
    }
  }
  if (s.tags.length > 0) {
    lines.push(`tags: ${s.tags.map((x) => `${x.tag} (${x.count})`).join(", ")}`);
  }
  return lines;
}

/**
 * The human-readable summary.
 *
 * @param trace The trace.
 * @param s Its summary, from `summarize`.
 * @returns Text ending in a newline.
 */
export function formatSummary(trace: TraceData, s: TraceSummary): string {
  const lines = [
    ...totalsLines(trace, s),
    ...modelLines(s),
    ...timeLines(trace, s),
    ...callLines(s),
  ];
  return lines.join("\n") + "\n";
}

/** Reads a tolerance flag. */
function tolerance(value: string | undefined, flag: string): DiffOptions["maxCostIncrease"] {
  if (value === undefined) return undefined;
  try {
    return parseTolerance(value);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

/** `html TRACE [-o OUT] [--compare OTHER]`. */
async function htmlCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, {
    output: { type: "string", short: "o" },
    compare: { type: "string" },
  });
  needFiles(positionals, 1, "html");
  const trace = await loadTrace(positionals[0]);
  const compare = values.compare !== undefined ? await loadTrace(values.compare) : undefined;
  const out = values.output ?? positionals[0].replace(/(\.jsonl?)?$/, ".html");
  await outputHtml(trace, out, compare ? { compare } : {});
  console.error(`wrote ${out}`);
  return 0;
}

/** `otlp TRACE [-o OUT | --endpoint URL] [--service-name NAME]`. */
async function otlpCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, {
    output: { type: "string", short: "o" },
    "service-name": { type: "string" },
    endpoint: { type: "string" },
  });
  needFiles(positionals, 1, "otlp");
  if (values.endpoint !== undefined) {
    if (!/^https?:\/\//.test(values.endpoint)) {
      throw new UsageError(`--endpoint must be an http(s) URL, got "${values.endpoint}"`);
    }
    const trace = await loadTrace(positionals[0]);
    try {
      await postOtlp(trace, values.endpoint, { serviceName: values["service-name"] });
    } catch (e) {
      console.error(`loom-xray: ${(e as Error).message}`);
      return 1;
    }
    console.error(`sent ${trace.spans.length} spans to ${values.endpoint}`);
    return 0;
  }
  const doc = toOtlpJson(await loadTrace(positionals[0]), {
    serviceName: values["service-name"],
  });
  await output(JSON.stringify(doc) + "\n", values.output);
  return 0;
}

/** `merge A B ... [-o OUT] [--name NAME]`. */
async function mergeCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, {
    output: { type: "string", short: "o" },
    name: { type: "string" },
  });
  needFiles(positionals, 2, "merge", true);
  const traces = await Promise.all(positionals.map((p) => loadTrace(p)));
  await output(
    JSON.stringify(mergeTraces(traces, { name: values.name })) + "\n",
    values.output,
  );
  return 0;
}

/** `summary TRACE [--json]`. */
async function summaryCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { json: { type: "boolean" } });
  needFiles(positionals, 1, "summary");
  const trace = await loadTrace(positionals[0]);
  const s = summarize(trace);
  await output(values.json ? JSON.stringify(s) + "\n" : formatSummary(trace, s), undefined);
  return 0;
}

/** `dot TRACE [-o OUT]`. */
async function dotCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { output: { type: "string", short: "o" } });
  needFiles(positionals, 1, "dot");
  await output(toDot(await loadTrace(positionals[0])), values.output);
  return 0;
}

/** `diff A B [--ignore P]... [--max-cost-increase X] [--max-token-increase X] [--json] [--html OUT]`. */
async function diffCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, {
    ignore: { type: "string", multiple: true },
    "max-cost-increase": { type: "string" },
    "max-token-increase": { type: "string" },
    json: { type: "boolean" },
    html: { type: "string" },
  });
  needFiles(positionals, 2, "diff");
  const [a, b] = await Promise.all(positionals.map((p) => loadTrace(p)));
  const result = diffTraces(a, b, {
    ignore: values.ignore as string[] | undefined,
    maxCostIncrease: tolerance(values["max-cost-increase"], "max-cost-increase"),
    maxTokenIncrease: tolerance(values["max-token-increase"], "max-token-increase"),
  });
  if (values.html !== undefined) await outputHtml(a, values.html, { compare: b });
  await output(
    values.json
      ? JSON.stringify(result) + "\n"
      : formatDiff(result, [positionals[0], positionals[1]]),
    undefined,
  );
  return result.ok ? 0 : 1;
}

/** `serve DIR [--port 8787]`: serves until stopped. */
async function serveCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { port: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError("serve needs one folder of trace files");
  const port = Number(values.port ?? "8787");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a port number (0-65535), got "${values.port}"`);
  }
  try {
    if (!(await Deno.stat(positionals[0])).isDirectory) throw new Error();
  } catch {
    throw new UsageError(`${positionals[0]} is not a folder`);
  }
  // Loaded here so the other commands never load the server code.
  const { dirSource, serveTraces } = await import("./serve.ts");
  const server = await serveTraces({ source: dirSource(positionals[0]), port });
  console.log(`serving the traces in ${positionals[0]} at ${server.url}`);
  await server.finished;
  return 0;
}

/** The commands, by name: each takes the arguments after its name and returns the exit code. */
const COMMANDS = new Map<string, (rest: string[]) => Promise<number>>([
  ["html", htmlCommand],
  ["otlp", otlpCommand],
  ["merge", mergeCommand],
  ["summary", summaryCommand],
  ["dot", dotCommand],
  ["diff", diffCommand],
  ["serve", serveCommand],
]);

/** Runs one command; help and unknown commands included. */
async function dispatch(command: string | undefined, rest: string[]): Promise<number> {
  if (rest.includes("--help") || rest.includes("-h")) {
    await output(USAGE, undefined);
    return 0;
  }
  if (command === undefined || ["help", "--help", "-h"].includes(command)) {
    await output(USAGE, undefined);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS.get(command);
  if (!run) {
    throw new UsageError(
      `unknown command "${command}": use html, otlp, merge, summary, dot, diff or serve`,
    );
  }
  return await run(rest);
}

/**
 * Runs the CLI.
 *
 * @param args Command-line arguments (without the program name).
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    return await dispatch(command, rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof TraceFormatError) {
      console.error(`loom-xray: ${e.message}`);
      return 2;
    }
    // Output piped into `head` that closed early: nothing is wrong.
    if (e instanceof Deno.errors.BrokenPipe) return 0;
    // Anything else is still one sentence, not a stack trace.
    console.error(`loom-xray: ${command} failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

// Types this module's API refers to (the summary and the trace model), re-exported type-only so
// its documentation is whole on its own (`deno doc --lint` on this entry point).
export type * from "./model.ts";
export type * from "./summary.ts";
export type { ExitKind } from "./exits.ts";

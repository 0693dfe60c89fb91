/**
 * `loom-runner`: run, resume and inspect durable runs.
 *
 *     deno run -A runner/cli.ts run examples/counter_agent.ts --run-id demo --db runs.sqlite
 *
 * Inspection commands need only `--db` and `--run-id`, never load the agent module and never
 * create a missing database. Errors end in one sentence on stderr; exit codes: 0 ok, 1 the run
 * failed (or verify found problems), 2 usage or input error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Agent, type CheckpointPolicy, isAgent } from "./engine/agent.ts";
import { cancelRun, deleteRun, forkRun, pruneRuns, retryRun, sendSignal } from "./inspect/admin.ts";
import { requireRun, resumeRun, type RunResult, startRun } from "./engine/engine.ts";
import { describeWait } from "./engine/context.ts";
import { RunnerError } from "./errors.ts";
import { explainRun, formatExplain, preview } from "./inspect/explain.ts";
import type { RunObserver } from "./engine/observer.ts";
import { RUN_STATUSES, type RunStatus, TERMINAL_STATUSES } from "./store/store.ts";
import type { Store } from "./store/store.ts";
import { openAnyStore } from "./store/open.ts";
import { verifyRun } from "./inspect/verify.ts";
import { cut, duration, table, time } from "./cli/format.ts";

type OptionSpec = { type: "string" | "boolean"; short?: string };
type Values = Record<string, string | boolean | undefined>;

const COMMON: Record<string, OptionSpec> = {
  db: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};
const RUN_ID: Record<string, OptionSpec> = { "run-id": { type: "string" } };
const PAGING: Record<string, OptionSpec> = {
  limit: { type: "string" },
  offset: { type: "string" },
};
const EXEC: Record<string, OptionSpec> = {
  ...RUN_ID,
  "max-steps": { type: "string" },
  durability: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  // --trace is wired by the xray integration through `CliHooks.observers`.
  trace: { type: "string" },
};

interface Command {
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  module?: "required" | "optional";
  run(ctx: CommandContext): Promise<number>;
}

interface CommandContext {
  values: Values;
  modulePath?: string;
  out: Output;
  hooks: CliHooks;
}

/** Extension points for embedding the CLI (the xray `--trace` wiring uses `observers`). */
export interface CliHooks {
  /** Extra observers for `run`/`resume`/`retry`, built from the parsed flags. */
  observers?: (
    flags: Record<string, string | boolean | undefined>,
    run: { agent: Agent; modulePath: string },
  ) => RunObserver[];
  /** Called after a run invocation ends (e.g. to write a trace file). */
  afterRun?: (
    flags: Record<string, string | boolean | undefined>,
    result: RunResult | undefined,
  ) => Promise<void> | void;
}

class Output {
  constructor(readonly json: boolean) {}
  text(s: string): void {
    if (!this.json) console.log(s);
  }
  doc(value: unknown): void {
    if (this.json) console.log(JSON.stringify(value, null, 2));
  }
}

function need(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new RunnerError(`--${name} is required`);
  return v;
}

function intFlag(values: Values, name: string, min = 0): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new RunnerError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function jsonFlag(values: Values, name: string): unknown {
  const v = values[name];
  if (v === undefined) return undefined;
  try {
    return JSON.parse(String(v));
  } catch (e) {
    throw new RunnerError(`--${name} is not valid JSON: ${(e as Error).message}`);
  }
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new RunnerError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunnerError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function openFor(values: Values, create: boolean): Promise<Store> {
  const db = typeof values.db === "string" && values.db !== ""
    ? values.db
    : Deno.env.get("LOOM_DB_URL") ?? need(values, "db");
  const durability = values.durability ?? "normal";
  if (durability !== "normal" && durability !== "fsync") {
    throw new RunnerError(`--durability must be normal or fsync, got ${durability}`);
  }
  return openAnyStore(db, { create, durability: durability as "normal" | "fsync" });
}

async function loadAgent(path: string): Promise<Agent> {
  const url = /^[a-z]+:\/\//i.test(path) ? path : pathToFileURL(resolve(path)).href;
  if (url.startsWith("file:")) {
    try {
      Deno.statSync(new URL(url));
    } catch {
      throw new RunnerError(`agent module ${path} does not exist`);
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    throw new RunnerError(
      `cannot load agent module ${path}: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  if (!isAgent(mod.default)) {
    throw new RunnerError(
      `agent module ${path} must default-export an agent made with defineAgent`,
    );
  }
  return mod.default as Agent;
}

function progressObserver(): RunObserver | undefined {
  if (!Deno.stderr.isTerminal()) return undefined;
  let last = 0;
  let count = 0;
  const t0 = performance.now();
  const enc = new TextEncoder();
  return {
    onStepEnd(info) {
      count++;
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const rate = count / ((now - t0) / 1000);
      Deno.stderr.writeSync(
        enc.encode(
          `\r\x1b[2K${info.runId}: step ${info.stepIndex + 1} (${rate.toFixed(0)} steps/s)`,
        ),
      );
    },
    onRunEnd() {
      if (last > 0) Deno.stderr.writeSync(enc.encode("\r\x1b[2K"));
    },
  };
}

function combine(list: (RunObserver | undefined)[]): RunObserver | undefined {
  const obs = list.filter((o): o is RunObserver => !!o);
  if (obs.length === 0) return undefined;
  if (obs.length === 1) return obs[0];
  const out: Record<string, (i: unknown) => void> = {};
  for (const o of obs) {
    for (const k of Object.keys(o) as (keyof RunObserver)[]) {
      out[k] ??= (info: unknown) => {
        for (const x of obs) (x[k] as ((i: unknown) => void) | undefined)?.call(x, info);
      };
    }
  }
  return out as RunObserver;
}

function checkpointFlag(values: Values): CheckpointPolicy | undefined {
  const v = values.checkpoint;
  if (v === undefined) return undefined;
  const m = /^(full|compact)(?::(\d+))?$/.exec(String(v));
  if (!m || (m[1] === "full" && m[2])) {
    throw new RunnerError(`--checkpoint must be full or compact[:N], got ${v}`);
  }
  return m[1] === "full" ? "full" : { mode: "compact", every: m[2] ? Number(m[2]) : 100 };
}

function reportResult(ctx: CommandContext, r: RunResult, agentPath: string): number {
  ctx.out.doc(r);
  const where = `--run-id ${r.runId} --db ${ctx.values.db}`;
  switch (r.status) {
    case "completed":
      ctx.out.text(`run ${r.runId} completed after ${r.steps} step(s): ${preview(r.result, 2000)}`);
      return 0;
    case "paused":
      ctx.out.text(
        `run ${r.runId} paused before step ${r.steps} (${r.stepsThisRun} step(s) this time); continue with: loom-runner resume ${agentPath} ${where}`,
      );
      return 0;
    case "waiting":
      ctx.out.text(
        r.waiting?.kind === "signal"
          ? `run ${r.runId} is waiting for signal ${r.waiting.name} at step ${r.steps}; deliver it with: loom-runner signal ${where} --name ${r.waiting.name} --data '<json>', then resume`
          : r.waiting?.kind === "timer"
          ? `run ${r.runId} is waiting for a timer until ${
            time(r.waiting.wakeAt)
          }; resume it after then`
          : `run ${r.runId} is waiting for ${r.waitingFor}; resume it later`,
      );
      return 0;
    case "failed":
      if (!ctx.out.json) {
        console.error(
          `error: run ${r.runId} failed at step ${r.steps} (${r.error?.category}): ${r.error?.message}`,
        );
      }
      return 1;
    case "cancelled":
      if (!ctx.out.json) console.error(`error: run ${r.runId} was cancelled`);
      return 1;
    default:
      return 1;
  }
}

async function execute(ctx: CommandContext, mode: "run" | "resume" | "retry"): Promise<number> {
  const { values } = ctx;
  const runId = need(values, "run-id");
  const maxSteps = intFlag(values, "max-steps", 1);
  if (values.trace !== undefined && !ctx.hooks.observers) {
    throw new RunnerError(
      "--trace is not available: this loom-runner was built without the xray integration",
    );
  }
  const agent = await loadAgent(ctx.modulePath!);
  const store = await openFor(values, mode === "run");
  const ac = new AbortController();
  const onInt = () => ac.abort();
  // Ctrl-C / SIGTERM: abandon the current step and leave the run paused (not half-written).
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onInt);
  let result: RunResult | undefined;
  try {
    const observer = combine([
      values.quiet || values.json ? undefined : progressObserver(),
      ...(ctx.hooks.observers?.(values, { agent, modulePath: ctx.modulePath! }) ?? []),
    ]);
    const base = { store, runId, maxSteps, observer, signal: ac.signal };
    if (mode === "run") {
      const input = values["input-file"] !== undefined
        ? readJsonFile(String(values["input-file"]), "input file")
        : jsonFlag(values, "input");
      const maxInline = intFlag(values, "max-inline-bytes", 1);
      result = await startRun(agent, {
        ...base,
        input,
        checkpoint: checkpointFlag(values),
        payload: maxInline === undefined ? undefined : { maxInlineBytes: maxInline },
      });
    } else {
      if (mode === "retry") {
        await retryRun(store, runId);
        ctx.out.text(`run ${runId} reset for retry from its last checkpoint`);
      }
      result = await resumeRun(agent, base);
    }
    await ctx.hooks.afterRun?.(values, result);
    if (ac.signal.aborted && result.status === "paused") {
      ctx.out.doc(result);
      console.error(
        `error: interrupted; run ${runId} is paused before step ${result.steps}; resume it to continue`,
      );
      return 1;
    }
    return reportResult(ctx, result, ctx.modulePath!);
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onInt);
    await store.close();
  }
}

async function withStore<T>(values: Values, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openFor(values, false);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function page(values: Values): { limit: number; offset: number } {
  return { limit: intFlag(values, "limit", 1) ?? 50, offset: intFlag(values, "offset") ?? 0 };
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: "start a new run of an agent module",
    usage:
      "run <agent.ts> --run-id ID --db FILE [--input JSON | --input-file F] [--max-steps N] [--checkpoint full|compact[:N]] [--max-inline-bytes N] [--durability normal|fsync]",
    options: {
      ...EXEC,
      input: { type: "string" },
      "input-file": { type: "string" },
      checkpoint: { type: "string" },
      "max-inline-bytes": { type: "string" },
    },
    module: "required",
    run: (ctx) => execute(ctx, "run"),
  },
  resume: {
    summary: "continue a run from its last committed step",
    usage: "resume <agent.ts> --run-id ID --db FILE [--max-steps N] [--durability normal|fsync]",
    options: EXEC,
    module: "required",
    run: (ctx) => execute(ctx, "resume"),
  },
  retry: {
    summary:
      "give a failed run a fresh attempt budget and resume it (without a module: only reset)",
    usage: "retry [<agent.ts>] --run-id ID --db FILE [--max-steps N]",
    options: EXEC,
    module: "optional",
    async run(ctx) {
      if (ctx.modulePath) return await execute(ctx, "retry");
      const runId = need(ctx.values, "run-id");
      await withStore(ctx.values, (s) => retryRun(s, runId));
      ctx.out.doc({ runId, status: "paused" });
      ctx.out.text(
        `run ${runId} reset for retry; continue with: loom-runner resume <agent.ts> --run-id ${runId} --db ${ctx.values.db}`,
      );
      return 0;
    },
  },
  explain: {
    summary: "tell what happened in a run",
    usage: "explain --run-id ID --db FILE",
    options: RUN_ID,
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const e = await explainRun(s, need(ctx.values, "run-id"));
        ctx.out.doc(e);
        ctx.out.text(formatExplain(e, { db: String(ctx.values.db ?? "") || undefined }));
        return 0;
      }),
  },
  list: {
    summary: "list runs, newest first",
    usage: "list --db FILE [--status S] [--limit N] [--offset N]",
    options: { ...PAGING, status: { type: "string" } },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const status = ctx.values.status as RunStatus | undefined;
        if (status !== undefined && !RUN_STATUSES.includes(status)) {
          throw new RunnerError(
            `--status must be one of ${RUN_STATUSES.join(", ")}, got ${status}`,
          );
        }
        const runs = await s.listRuns({ status, ...page(ctx.values) });
        const rows = [];
        for (const r of runs) {
          const last = await s.lastStep(r.runId);
          rows.push({ ...r, nextStep: last ? last.step + 1 : r.firstStep });
        }
        ctx.out.doc(rows.map((r) => ({
          runId: r.runId,
          agent: r.agentName,
          version: r.agentVersion,
          status: r.status,
          nextStep: r.nextStep,
          parentRunId: r.parentRunId,
          createdAt: r.createdAt,
          updatedAt: r.updatedAt,
        })));
        ctx.out.text(
          rows.length === 0 ? "no runs" : table(
            ["RUN", "AGENT", "STATUS", "STEPS", "UPDATED", "PARENT"],
            rows.map((
              r,
            ) => [
              r.runId,
              `${r.agentName} v${r.agentVersion}`,
              r.status,
              r.nextStep,
              time(r.updatedAt),
              r.parentRunId,
            ]),
          ),
        );
        return 0;
      }),
  },
  get: {
    summary: "show a run's record (status, state, result)",
    usage: "get --run-id ID --db FILE",
    options: RUN_ID,
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const e = await explainRun(s, need(ctx.values, "run-id"));
        const doc = {
          runId: e.runId,
          agent: e.agent,
          status: e.status,
          nextStep: e.steps.next,
          state: e.lastState,
          result: e.result,
          error: e.error,
          waiting: e.waiting,
          parent: e.parent,
          forkOf: e.forkOf,
          policy: e.policy,
          createdAt: e.createdAt,
          updatedAt: e.updatedAt,
        };
        ctx.out.doc(doc);
        ctx.out.text(
          [
            `run      ${e.runId}`,
            `agent    ${e.agent.name} v${e.agent.version}`,
            `status   ${e.status}`,
            `next     step ${e.steps.next}`,
            `state    ${preview(e.lastState, 4000)}`,
            ...(e.status === "completed" ? [`result   ${preview(e.result, 4000)}`] : []),
            ...(e.error ? [`error    ${e.error.category}: ${e.error.message}`] : []),
            ...(e.waiting ? [`waiting  ${describeWait(e.waiting)}`] : []),
          ].join("\n"),
        );
        return 0;
      }),
  },
  history: {
    summary: "list a run's committed steps (or its events with --events)",
    usage: "history --run-id ID --db FILE [--from-step N] [--events] [--limit N] [--offset N]",
    options: { ...RUN_ID, ...PAGING, "from-step": { type: "string" }, events: { type: "boolean" } },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const runId = need(ctx.values, "run-id");
        await requireRun(s, runId);
        if (ctx.values.events) {
          const evs = await s.listEvents(runId, page(ctx.values));
          ctx.out.doc(evs);
          ctx.out.text(
            table(
              ["#", "AT", "KIND", "MESSAGE"],
              evs.map((e) => [e.seq, time(e.at), e.kind, e.message]),
            ),
          );
          return 0;
        }
        const steps = await s.listSteps(runId, {
          ...page(ctx.values),
          fromStep: intFlag(ctx.values, "from-step"),
        });
        ctx.out.doc(
          steps.map((r) => ({ ...r, state: r.state === null ? null : JSON.parse(r.state) })),
        );
        ctx.out.text(
          steps.length === 0 ? "no committed steps" : table(
            ["STEP", "ATTEMPT", "STARTED", "DURATION", "STATE AFTER"],
            steps.map((
              r,
            ) => [
              r.step,
              r.attempt,
              time(r.startedAt),
              duration(r.durationMs),
              cut(r.state ?? "(not kept)", 70),
            ]),
          ),
        );
        return 0;
      }),
  },
  attempts: {
    summary: "list failed attempts of steps and tools",
    usage: "attempts --run-id ID --db FILE [--step-index N] [--limit N] [--offset N]",
    options: { ...RUN_ID, ...PAGING, "step-index": { type: "string" } },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const runId = need(ctx.values, "run-id");
        await requireRun(s, runId);
        const rows = await s.listAttempts(runId, {
          ...page(ctx.values),
          step: intFlag(ctx.values, "step-index"),
        });
        ctx.out.doc(rows);
        ctx.out.text(
          rows.length === 0 ? "no failed attempts" : table(
            ["STEP", "SCOPE", "ATTEMPT", "CATEGORY", "ERROR", "RETRY AT"],
            rows.map((
              a,
            ) => [
              a.step,
              a.scope ? cut(a.scope, 40) : "step",
              a.attempt,
              a.category,
              cut(a.error, 60),
              time(a.retryAt),
            ]),
          ),
        );
        return 0;
      }),
  },
  "tool-calls": {
    summary: "list a run's durable calls (tools, signal waits, timers, children)",
    usage:
      "tool-calls --run-id ID --db FILE [--step-index N] [--kind tool|signal|timer|child] [--limit N] [--offset N]",
    options: { ...RUN_ID, ...PAGING, "step-index": { type: "string" }, kind: { type: "string" } },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const runId = need(ctx.values, "run-id");
        const kind = ctx.values.kind;
        if (kind !== undefined && !["tool", "signal", "timer", "child"].includes(String(kind))) {
          throw new RunnerError(
            `--kind must be tool, signal, timer or child, got ${JSON.stringify(kind)}`,
          );
        }
        await requireRun(s, runId);
        const rows = await s.listCalls(runId, {
          ...page(ctx.values),
          step: intFlag(ctx.values, "step-index"),
          kind: ctx.values.kind as string | undefined,
        });
        ctx.out.doc(
          rows.map((c) => ({
            ...c,
            args: c.args === null ? null : JSON.parse(c.args),
            result: c.result === null ? null : JSON.parse(c.result),
          })),
        );
        ctx.out.text(
          rows.length === 0 ? "no calls" : table(
            ["STEP", "KIND", "NAME", "STATUS", "ATTEMPTS", "DURATION", "RESULT", "KEY"],
            rows.map((c) => [
              c.step,
              c.kind,
              c.name,
              c.status,
              c.attempts,
              duration(c.durationMs),
              c.status === "failed"
                ? `${c.category}: ${cut(c.error, 40)}`
                : cut(c.result, 40) + (c.capped ? " (capped)" : ""),
              c.key,
            ]),
          ),
        );
        return 0;
      }),
  },
  signal: {
    summary: "deliver a signal to a run (resume it afterwards)",
    usage: "signal --run-id ID --db FILE --name NAME [--data JSON]",
    options: { ...RUN_ID, name: { type: "string" }, data: { type: "string" } },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const runId = need(ctx.values, "run-id");
        const name = need(ctx.values, "name");
        const out = await sendSignal(s, runId, name, jsonFlag(ctx.values, "data") ?? null);
        ctx.out.doc({ runId, name, ...out });
        ctx.out.text(
          `signal ${name} delivered to run ${runId} (#${out.seq})${
            out.waitingFor === name ? "; resume the run to continue" : ""
          }`,
        );
        return 0;
      }),
  },
  cancel: {
    summary: "cancel a run and its unfinished children",
    usage: "cancel --run-id ID --db FILE [--reason TEXT]",
    options: { ...RUN_ID, reason: { type: "string" } },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const ids = await cancelRun(
          s,
          need(ctx.values, "run-id"),
          (ctx.values.reason as string) ?? "cancelled by user",
        );
        ctx.out.doc({ cancelled: ids });
        ctx.out.text(`cancelled ${ids.join(", ")}`);
        return 0;
      }),
  },
  verify: {
    summary: "check a run's integrity (gaps, checkpoints, hashes, SQLite integrity)",
    usage: "verify --run-id ID --db FILE",
    options: RUN_ID,
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const r = await verifyRun(s, need(ctx.values, "run-id"));
        ctx.out.doc(r);
        ctx.out.text(
          r.ok
            ? `run ${r.runId} ok: ${r.checked.steps} steps, ${r.checked.attempts} failed attempts, ${r.checked.calls} calls, ${r.checked.signals} signals checked`
            : `run ${r.runId} has ${r.problems.length} problem(s):\n${
              r.problems.map((p) => `  - ${p}`).join("\n")
            }`,
        );
        for (const w of r.warnings) ctx.out.text(`  warning: ${w}`);
        return r.ok ? 0 : 1;
      }),
  },
  fork: {
    summary: "start a new run from a kept checkpoint of another run",
    usage: "fork --run-id ID --from-step N --new-run-id NEW --db FILE [--state-file F]",
    options: {
      ...RUN_ID,
      "from-step": { type: "string" },
      "new-run-id": { type: "string" },
      "state-file": { type: "string" },
    },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const fromStep = intFlag(ctx.values, "from-step");
        if (fromStep === undefined) throw new RunnerError("--from-step is required");
        const state = ctx.values["state-file"] !== undefined
          ? readJsonFile(String(ctx.values["state-file"]), "state file")
          : undefined;
        const rec = await forkRun(s, {
          runId: need(ctx.values, "run-id"),
          fromStep,
          newRunId: need(ctx.values, "new-run-id"),
          state,
        });
        ctx.out.doc({ runId: rec.runId, forkOf: rec.forkOfRunId, fromStep, status: rec.status });
        ctx.out.text(
          `run ${rec.runId} forked from ${rec.forkOfRunId} at step ${fromStep}; start it with: loom-runner resume <agent.ts> --run-id ${rec.runId} --db ${ctx.values.db}`,
        );
        return 0;
      }),
  },
  delete: {
    summary: "delete a run, its rows and its children",
    usage: "delete --run-id ID --db FILE",
    options: RUN_ID,
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const ids = await deleteRun(s, need(ctx.values, "run-id"));
        ctx.out.doc({ deleted: ids });
        ctx.out.text(`deleted ${ids.join(", ")}`);
        return 0;
      }),
  },
  prune: {
    summary: "delete finished runs last changed before a date",
    usage:
      "prune --db FILE --completed-before DATE [--status completed,failed,cancelled] [--vacuum]",
    options: {
      "completed-before": { type: "string" },
      status: { type: "string" },
      vacuum: { type: "boolean" },
    },
    run: (ctx) =>
      withStore(ctx.values, async (s) => {
        const raw = need(ctx.values, "completed-before");
        const before = new Date(raw);
        if (Number.isNaN(before.getTime())) {
          throw new RunnerError(
            `--completed-before must be a date like 2026-01-31 or an ISO time, got ${raw}`,
          );
        }
        const statuses = ((ctx.values.status as string | undefined) ?? "completed").split(",").map((
          x,
        ) => x.trim()) as RunStatus[];
        for (const st of statuses) {
          if (!TERMINAL_STATUSES.includes(st)) {
            throw new RunnerError(
              `--status for prune must be completed, failed or cancelled, got ${st}`,
            );
          }
        }
        const ids = await pruneRuns(s, { before, statuses });
        if (ctx.values.vacuum) await (s as { vacuum?: () => unknown }).vacuum?.();
        ctx.out.doc({ deleted: ids });
        ctx.out.text(`pruned ${ids.length} run(s)`);
        return 0;
      }),
  },
};

function usage(): string {
  const lines = ["usage: loom-runner <command> [options]   (add --json for machine output)", ""];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(11)} ${c.summary}`);
  lines.push(`  ${"trace".padEnd(11)} rebuild a whole run's HTML or JSON trace`);
  lines.push(`  ${"diff".padEnd(11)} compare two runs step by step (exit 1 when they differ)`);
  lines.push(`  ${"serve".padEnd(11)} serve live trace pages of a database on 127.0.0.1`);
  lines.push(`  ${"enqueue".padEnd(11)} queue a run for workers (see worker)`);
  lines.push(`  ${"worker".padEnd(11)} run queued runs from a shared store`);
  lines.push("", "Run `loom-runner <command> --help` for a command's options.");
  return lines.join("\n");
}

/** Runs the CLI with `args`; returns the exit code (does not exit). */
export async function main(args: string[], hooks: CliHooks = {}): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  // Scale-out commands live in cli/worker.ts (PostgreSQL work queue); loaded only when used.
  // Trace commands live in cli/trace.ts (they load @loom/xray); loaded only when used.
  if (name === "trace" || name === "diff" || name === "serve") {
    const { traceCommand } = await import("./cli/trace.ts");
    return await traceCommand(name, rest);
  }
  if (name === "enqueue" || name === "worker") {
    const { enqueueCommand, workerCommand } = await import("./cli/worker.ts");
    return name === "enqueue" ? await enqueueCommand(rest) : await workerCommand(rest);
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(
      `error: unknown command ${JSON.stringify(name)}; commands: ${
        [...Object.keys(COMMANDS), "trace", "diff", "serve", "enqueue", "worker"].join(", ")
      }`,
    );
    return 2;
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0].replace(/\. To specify.*$/, "");
    console.error(`error: ${msg} (command ${name}; see loom-runner ${name} --help)`);
    return 2;
  }
  if (values.help) {
    console.log(`usage: loom-runner ${command.usage} [--json]\n\n${command.summary}`);
    return 0;
  }
  const out = new Output(Boolean(values.json));
  try {
    if (positionals.length > (command.module ? 1 : 0)) {
      throw new RunnerError(
        `unexpected argument ${JSON.stringify(positionals[command.module ? 1 : 0])} for ${name}`,
      );
    }
    if (command.module === "required" && positionals.length === 0) {
      throw new RunnerError(`${name} needs the agent module path: loom-runner ${command.usage}`);
    }
    return await command.run({ values, modulePath: positionals[0], out, hooks });
  } catch (e) {
    return reportError(e, values);
  }
}

function reportError(e: unknown, values: Values): number {
  if (e instanceof RunnerError) {
    console.error(`error: ${e.message}`);
    return e.exitCode;
  }
  const code = (e as { code?: string })?.code;
  if (code === "ERR_SQLITE_ERROR") {
    console.error(
      `error: database ${values.db} is unreadable or corrupt (SQLite: ${(e as Error).message})`,
    );
    return 2;
  }
  console.error(`error: ${(e as Error)?.message ?? String(e)}`);
  if (Deno.env.get("LOOM_DEBUG")) console.error((e as Error)?.stack);
  return 1;
}

if (import.meta.main) {
  // `--trace FILE` needs @loom/xray: load it only when the flag is there.
  const hooks = Deno.args.some((a) => a === "--trace" || a.startsWith("--trace="))
    ? (await import("./cli/trace.ts")).traceHooks()
    : {};
  Deno.exit(await main(Deno.args, hooks));
}

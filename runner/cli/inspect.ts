/**
 * The inspection commands of `loom-runner`: `explain`, `list`, `get`, `history`, `attempts` (the
 * failed ones), `calls` and `verify`. They need only `--db` and `--run-id`, never load the agent
 * module and never create a missing database.
 *
 * @module
 */
import { describeWait } from "../engine/context.ts";
import { requireRun } from "../engine/engine.ts";
import { RunnerError } from "../errors.ts";
import { explainRun, formatExplain, preview } from "../inspect/explain.ts";
import { verifyRun } from "../inspect/verify.ts";
import { RUN_STATUSES, type RunStatus } from "../store/store.ts";
import { type Command, intFlag, need, page, PAGING, RUN_ID, withStore } from "./command.ts";
import { bytes, cut, duration, table, time } from "./format.ts";
import type { RunSize } from "../store/space.ts";

const explainCommand: Command = {
  summary: "tell what happened in a run",
  usage: "explain --run-id ID --db FILE",
  options: RUN_ID,
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
      const e = await explainRun(s, need(ctx.values, "run-id"));
      ctx.out.doc(e);
      ctx.out.text(formatExplain(e, { db: String(ctx.values.db ?? "") || undefined }));
      return 0;
    }),
};

const listCommand: Command = {
  summary: "list runs, the last changed first",
  usage: "list --db FILE [--status S] [--limit N] [--offset N]",
  options: { ...PAGING, status: { type: "string" } },
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
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
};

const getCommand: Command = {
  summary: "show a run's record (status, state, result)",
  usage: "get --run-id ID --db FILE",
  options: RUN_ID,
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
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
};

const historyCommand: Command = {
  summary: "list a run's committed steps (or its events with --events)",
  usage: "history --run-id ID --db FILE [--from-step N] [--events] [--limit N] [--offset N]",
  options: { ...RUN_ID, ...PAGING, "from-step": { type: "string" }, events: { type: "boolean" } },
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
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
};

const attemptsCommand: Command = {
  summary: "list the failed attempts of steps and tool calls",
  usage: "attempts --run-id ID --db FILE [--step N] [--limit N] [--offset N]",
  options: { ...RUN_ID, ...PAGING, step: { type: "string" } },
  renamedFlags: { "step-index": "step" },
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
      const runId = need(ctx.values, "run-id");
      await requireRun(s, runId);
      const rows = await s.listFailedAttempts(runId, {
        ...page(ctx.values),
        step: intFlag(ctx.values, "step"),
      });
      ctx.out.doc(rows);
      ctx.out.text(
        rows.length === 0 ? "no failed attempts" : table(
          ["STEP", "SCOPE", "FAILED ATTEMPT", "ERROR CATEGORY", "ERROR", "RETRY AT"],
          rows.map((
            a,
          ) => [
            a.step,
            a.scope ? cut(a.scope, 40) : "step",
            a.attempt,
            a.errorCategory,
            cut(a.error, 60),
            time(a.retryAt),
          ]),
        ),
      );
      return 0;
    }),
};

const callsCommand: Command = {
  summary: "list a run's calls (tool calls, signal waits, timers, child runs)",
  usage:
    "calls --run-id ID --db FILE [--step N] [--kind tool|signal|timer|child] [--limit N] [--offset N]",
  options: { ...RUN_ID, ...PAGING, step: { type: "string" }, kind: { type: "string" } },
  renamedFlags: { "step-index": "step" },
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
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
        step: intFlag(ctx.values, "step"),
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
              ? `${c.errorCategory}: ${cut(c.error, 40)}`
              : cut(c.result, 40) + (c.capped ? " (capped)" : ""),
            c.key,
          ]),
        ),
      );
      return 0;
    }),
};

/** `size: 1.2 MiB (steps 1.1 MiB in 1,001 rows, events 2.3 KiB in 4 rows, ...)`. */
function sizeLine(size: RunSize): string {
  const parts = Object.entries(size.tables)
    .filter(([, t]) => t.rows > 0)
    .sort(([, a], [, b]) => b.bytes - a.bytes)
    .map(([name, t]) => `${name} ${bytes(t.bytes)} in ${t.rows.toLocaleString("en-US")} row(s)`);
  return `  size: ${bytes(size.bytes)} of rows in the store (${parts.join(", ")})`;
}

const verifyCommand: Command = {
  summary: "check a run's integrity (gaps, checkpoints, hashes, the store's own check)",
  usage: "verify --run-id ID --db FILE",
  options: RUN_ID,
  run: (ctx) =>
    withStore(ctx.values, "read", async (s) => {
      const r = await verifyRun(s, need(ctx.values, "run-id"));
      ctx.out.doc(r);
      ctx.out.text(
        r.ok
          ? `run ${r.runId} ok: ${r.checked.steps} steps, ${r.checked.failedAttempts} failed attempts, ${r.checked.calls} calls, ${r.checked.signals} signals checked`
          : `run ${r.runId} has ${r.problems.length} problem(s):\n${
            r.problems.map((p) => `  - ${p}`).join("\n")
          }`,
      );
      for (const w of r.warnings) ctx.out.text(`  warning: ${w}`);
      ctx.out.text(sizeLine(r.size));
      return r.ok ? 0 : 1;
    }),
};

/** The inspection commands (`verify` is listed after `cancel` by `--help`). */
export const INSPECT_COMMANDS: Record<string, Command> = {
  explain: explainCommand,
  list: listCommand,
  get: getCommand,
  history: historyCommand,
  attempts: attemptsCommand,
  calls: callsCommand,
  verify: verifyCommand,
};

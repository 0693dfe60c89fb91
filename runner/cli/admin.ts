/**
 * The commands of `loom-runner` that change stored runs without the agent module: `signal`,
 * `cancel`, `fork`, `delete` and `prune`.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { cancelRun, deleteRun, forkRun, pruneRuns, sendSignal } from "../inspect/admin.ts";
import { type RunStatus, TERMINAL_STATUSES } from "../store/store.ts";
import {
  type Command,
  dbHint,
  intFlag,
  jsonFlag,
  need,
  readJsonFile,
  RUN_ID,
  withStore,
} from "./command.ts";

const signalCommand: Command = {
  summary: "deliver a signal to a run (resume it afterwards, or let a worker take it)",
  usage: "signal --run-id ID --db FILE --name NAME [--data JSON]",
  options: { ...RUN_ID, name: { type: "string" }, data: { type: "string" } },
  run: (ctx) =>
    withStore(ctx.values, "write", async (s) => {
      const runId = need(ctx.values, "run-id");
      const name = need(ctx.values, "name");
      const out = await sendSignal(s, runId, name, jsonFlag(ctx.values, "data") ?? null);
      ctx.out.doc({ runId, name, ...out });
      ctx.out.text(
        `signal ${name} delivered to run ${runId} (#${out.seq})${
          out.waitingFor === name ? "; resume the run (or let a worker take it) to continue" : ""
        }`,
      );
      return 0;
    }),
};

const cancelCommand: Command = {
  summary: "cancel a run and its unfinished children",
  usage: "cancel --run-id ID --db FILE [--reason TEXT]",
  options: { ...RUN_ID, reason: { type: "string" } },
  run: (ctx) =>
    withStore(ctx.values, "write", async (s) => {
      const ids = await cancelRun(
        s,
        need(ctx.values, "run-id"),
        (ctx.values.reason as string) ?? "cancelled by user",
      );
      ctx.out.doc({ cancelled: ids });
      ctx.out.text(`cancelled ${ids.join(", ")}`);
      return 0;
    }),
};

const forkCommand: Command = {
  summary: "start a new run at a step of another run, from the checkpoint before it",
  usage: "fork --run-id ID --step N --new-run-id NEW --db FILE [--state-file F]",
  options: {
    ...RUN_ID,
    step: { type: "string" },
    "new-run-id": { type: "string" },
    "state-file": { type: "string" },
  },
  renamedFlags: { "from-step": "step" },
  run: (ctx) =>
    withStore(ctx.values, "write", async (s) => {
      const step = intFlag(ctx.values, "step");
      if (step === undefined) throw new RunnerError("--step is required");
      const state = ctx.values["state-file"] !== undefined
        ? readJsonFile(String(ctx.values["state-file"]), "state file")
        : undefined;
      const rec = await forkRun(s, {
        runId: need(ctx.values, "run-id"),
        step,
        newRunId: need(ctx.values, "new-run-id"),
        state,
      });
      ctx.out.doc({ runId: rec.runId, forkOf: rec.forkOfRunId, step, status: rec.status });
      ctx.out.text(
        `run ${rec.runId} forked from ${rec.forkOfRunId} at step ${step}; start it with: loom-runner resume <agent.ts> --run-id ${rec.runId}${
          dbHint(ctx.values)
        }`,
      );
      return 0;
    }),
};

const delCommand: Command = {
  summary: "delete a run, its rows and its children",
  usage: "delete --run-id ID --db FILE",
  options: RUN_ID,
  run: (ctx) =>
    withStore(ctx.values, "write", async (s) => {
      const ids = await deleteRun(s, need(ctx.values, "run-id"));
      ctx.out.doc({ deleted: ids });
      ctx.out.text(`deleted ${ids.join(", ")}`);
      return 0;
    }),
};

const pruneCommand: Command = {
  summary: "delete runs that ended before a date (completed ones unless --status says)",
  usage: "prune --db FILE --ended-before DATE [--status completed,failed,cancelled] [--vacuum]",
  options: {
    "ended-before": { type: "string" },
    status: { type: "string" },
    vacuum: { type: "boolean" },
  },
  renamedFlags: { "completed-before": "ended-before" },
  run: (ctx) =>
    withStore(ctx.values, "write", async (s) => {
      const raw = need(ctx.values, "ended-before");
      const endedBefore = new Date(raw);
      if (Number.isNaN(endedBefore.getTime())) {
        throw new RunnerError(
          `--ended-before must be a date like 2026-01-31 or an ISO time, got ${raw}`,
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
      const ids = await pruneRuns(s, { endedBefore, statuses });
      if (ctx.values.vacuum) await (s as { vacuum?: () => unknown }).vacuum?.();
      ctx.out.doc({ deleted: ids });
      ctx.out.text(`pruned ${ids.length} run(s)`);
      return 0;
    }),
};

/** The commands that change stored runs. */
export const ADMIN_COMMANDS: Record<string, Command> = {
  signal: signalCommand,
  cancel: cancelCommand,
  fork: forkCommand,
  delete: delCommand,
  prune: pruneCommand,
};

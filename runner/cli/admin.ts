/**
 * The commands of `loom-runner` that change stored runs without the agent module: `signal`,
 * `cancel`, `fork`, `delete` and `prune`.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import {
  cancelRun,
  type DeleteResult,
  deleteRun,
  forkRun,
  pruneRuns,
  sendSignal,
  type SpaceOptions,
} from "../inspect/admin.ts";
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
import { bytes } from "./format.ts";

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

/** `--vacuum` and `--keep-space`: how the deleted rows' space is given back. */
const SPACE_FLAGS = {
  vacuum: { type: "boolean" },
  "keep-space": { type: "boolean" },
} as const;

function spaceOptions(values: Record<string, unknown>): SpaceOptions {
  if (values.vacuum && values["keep-space"]) {
    throw new RunnerError("--vacuum and --keep-space exclude each other: choose one");
  }
  return { reclaim: values.vacuum ? "full" : values["keep-space"] ? "none" : "auto" };
}

const METHODS: Record<DeleteResult["method"], string> = {
  "incremental-vacuum": "incremental vacuum",
  "vacuum": "VACUUM",
  "pg-vacuum": "VACUUM",
  "pg-vacuum-full": "VACUUM FULL",
  "none": "space kept for later writes",
};

/** One line on the space: what was given back, and the bytes on disk before and after. */
function spaceLine(r: DeleteResult): string {
  const sizes = `${bytes(r.bytesBefore)} -> ${bytes(r.bytesAfter)} on disk`;
  const wal = r.method !== "none" && !r.walTruncated
    ? "; the WAL is still read by another connection and will be cut later"
    : "";
  if (r.deleted.length === 0) return `${bytes(r.bytesAfter)} on disk`;
  return r.method === "none"
    ? `${sizes} (${METHODS.none})`
    : `gave back ${bytes(r.reclaimedBytes)} (${sizes}, ${METHODS[r.method]})${wal}`;
}

const delCommand: Command = {
  summary: "delete a run, its rows and its children, and give the space back",
  usage: "delete --run-id ID --db FILE [--vacuum | --keep-space]",
  options: { ...RUN_ID, ...SPACE_FLAGS },
  run: (ctx) =>
    withStore(ctx.values, "write", async (s) => {
      const options = spaceOptions(ctx.values);
      const r = await deleteRun(s, need(ctx.values, "run-id"), options);
      ctx.out.doc(r);
      ctx.out.text(`deleted ${r.deleted.join(", ")}; ${spaceLine(r)}`);
      return 0;
    }),
};

const pruneCommand: Command = {
  summary:
    "delete runs that ended before a date (completed ones unless --status says), and give the space back",
  usage:
    "prune --db FILE --ended-before DATE [--status completed,failed,cancelled] [--vacuum | --keep-space]",
  options: {
    "ended-before": { type: "string" },
    status: { type: "string" },
    ...SPACE_FLAGS,
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
      const options = spaceOptions(ctx.values);
      const r = await pruneRuns(s, { endedBefore, statuses, ...options });
      ctx.out.doc(r);
      ctx.out.text(`pruned ${r.deleted.length} run(s); ${spaceLine(r)}`);
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

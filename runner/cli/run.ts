/**
 * The `run`, `resume` and `retry` commands of `loom-runner`: load an agent module and advance one
 * of its runs, with a progress line on a terminal and the hooks' observers (`--trace`).
 *
 * @module
 */
import { type Agent, type CheckpointPolicy, isAgent } from "../engine/agent.ts";
import { resumeRun, type RunResult, startRun } from "../engine/engine.ts";
import { combineObservers, type RunObserver } from "../engine/observer.ts";
import { RunnerError } from "../errors.ts";
import { retryRun } from "../inspect/admin.ts";
import { preview } from "../inspect/explain.ts";
import {
  type Command,
  type CommandContext,
  dbHint,
  EXEC,
  importAgentModule,
  intFlag,
  jsonFlag,
  need,
  openFor,
  readJsonFile,
  type Values,
  withStore,
} from "./command.ts";
import { time } from "./format.ts";

/** The agent a module default-exports. */
async function loadAgent(path: string): Promise<Agent> {
  const mod = await importAgentModule(path);
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
          `\r\x1b[2K${info.runId}: step ${info.step + 1} (${rate.toFixed(0)} steps/s)`,
        ),
      );
    },
    onRunEnd() {
      if (last > 0) Deno.stderr.writeSync(enc.encode("\r\x1b[2K"));
    },
  };
}

/** The progress line (on a terminal) and the hooks' observers (`--trace`) as one, or none. */
function observerFor(ctx: CommandContext, agent: Agent): RunObserver | undefined {
  const { values } = ctx;
  const list = [
    values.quiet || values.json ? undefined : progressObserver(),
    ...(ctx.hooks.observers?.(values, { agent, modulePath: ctx.modulePath! }) ?? []),
  ].filter((o): o is RunObserver => !!o);
  return list.length === 0 ? undefined : combineObservers(...list);
}

function checkpointFlag(values: Values): CheckpointPolicy | undefined {
  const v = values.checkpoint;
  if (v === undefined) return undefined;
  const m = /^(full|compact)(?::(\d+))?$/.exec(String(v));
  if (!m || (m[1] === "full" && m[2]) || m[2] !== undefined && Number(m[2]) < 1) {
    throw new RunnerError(`--checkpoint must be full or compact[:N] with N >= 1, got ${v}`);
  }
  return m[1] === "full" ? "full" : { mode: "compact", every: m[2] ? Number(m[2]) : 100 };
}

function reportResult(ctx: CommandContext, r: RunResult, agentPath: string): number {
  ctx.out.doc(r);
  const where = `--run-id ${r.runId}${dbHint(ctx.values)}`;
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
  const store = await openFor(values, mode === "run" ? "create" : "write");
  const ac = new AbortController();
  const onInt = () => ac.abort();
  // Ctrl-C / SIGTERM: abandon the current step and leave the run paused (not half-written).
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onInt);
  let result: RunResult | undefined;
  try {
    const observer = observerFor(ctx, agent);
    const base = { store, runId, maxSteps, observer, abortSignal: ac.signal };
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

const runCommand: Command = {
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
};

const resumeCommand: Command = {
  summary: "continue a run from its last committed step",
  usage: "resume <agent.ts> --run-id ID --db FILE [--max-steps N] [--durability normal|fsync]",
  options: EXEC,
  module: "required",
  run: (ctx) => execute(ctx, "resume"),
};

const retryCommand: Command = {
  summary: "give a failed run a fresh attempt budget and resume it (without a module: only reset)",
  usage: "retry [<agent.ts>] --run-id ID --db FILE [--max-steps N]",
  options: EXEC,
  module: "optional",
  async run(ctx) {
    if (ctx.modulePath) return await execute(ctx, "retry");
    const runId = need(ctx.values, "run-id");
    await withStore(ctx.values, "write", (s) => retryRun(s, runId));
    ctx.out.doc({ runId, status: "paused" });
    ctx.out.text(
      `run ${runId} reset for retry; continue with: loom-runner resume <agent.ts> --run-id ${runId}${
        dbHint(ctx.values)
      }`,
    );
    return 0;
  },
};

/** The commands that advance a run, in the order `--help` lists them. */
export const RUN_COMMANDS: Record<string, Command> = {
  run: runCommand,
  resume: resumeCommand,
  retry: retryCommand,
};

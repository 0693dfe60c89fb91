/**
 * Test-only knobs of the `loom-run` process, read once from the environment when its agents are
 * built. Not part of the library; never set them outside tests.
 *
 * - `LOOM_RUN_TOOL_HOLD=<tool>` or `<runId>:<tool>` (several, comma-separated; the last `:`
 *   separates, as run ids may hold one): right before that tool really executes (after its `→`
 *   line, with the call recorded as started), the process prints
 *   `holding before <tool> in run <runId> (LOOM_RUN_TOOL_HOLD test hook)` on stderr and then waits
 *   until it is killed. A crash test waits for that line and SIGKILLs the process: the kill lands
 *   mid-call on any machine, however slow, with no delay to race.
 * - `LOOM_RUN_TOOL_LOG=FILE` appends `runId<TAB>key<TAB>tool` for every real (not replayed) tool
 *   execution, when the tool really starts (a held call never ran and is not logged).
 *
 * @module
 */
import { readEnv } from "../config.ts";
import { UsageError } from "../errors.ts";
import type { Tool, ToolRunOptions } from "../tools/types.ts";

/** Name of the variable that holds a process before a tool runs. */
export const TOOL_HOLD_ENV = "LOOM_RUN_TOOL_HOLD";
/** Name of the variable naming the tool log file. */
export const TOOL_LOG_ENV = "LOOM_RUN_TOOL_LOG";

/** A tool call to hold: `tool` in run `runId` (any run when undefined). */
export interface ToolHold {
  /** Run id, or undefined for any run. */
  runId?: string;
  /** Tool name. */
  tool: string;
}

/** Test-only knobs (see the module doc). */
export interface TestKnobs {
  /** `LOOM_RUN_TOOL_HOLD`: the tool calls before which the process waits to be killed. */
  toolHolds: ToolHold[];
  /** `LOOM_RUN_TOOL_LOG`: append one line per real tool execution (`runId\tkey\tname`). */
  toolLog?: string;
}

/** No knobs: tools run as they are. */
export const NO_KNOBS: TestKnobs = { toolHolds: [] };

/**
 * Parses a value of `LOOM_RUN_TOOL_HOLD`.
 *
 * @param value `<tool>` or `<runId>:<tool>`, several comma-separated; undefined or empty: none.
 * @returns The holds, in the order given.
 * @throws {UsageError} When an entry has no tool name.
 */
export function parseToolHolds(value: string | undefined): ToolHold[] {
  if (value === undefined || value.trim() === "") return [];
  return value.split(",").map((entry) => {
    const match = /^(?:(.+):)?([^\s:]+)$/.exec(entry.trim());
    if (!match) {
      throw new UsageError(
        `${TOOL_HOLD_ENV} must be a comma-separated list of "<tool>" or "<runId>:<tool>": current value is "${value}"`,
      );
    }
    return { runId: match[1], tool: match[2] };
  });
}

/** Reads the test-only knobs from the environment. */
export function readKnobs(): TestKnobs {
  return { toolHolds: parseToolHolds(readEnv(TOOL_HOLD_ENV)), toolLog: readEnv(TOOL_LOG_ENV) };
}

/** True when a hold names this call of `tool` in run `runId`. */
function isHeld(holds: ToolHold[], tool: string, runId: string | undefined): boolean {
  return holds.some((h) => h.tool === tool && (h.runId === undefined || h.runId === runId));
}

/**
 * Says so on stderr, then waits until the process is killed (or the call is aborted, e.g. its
 * run is cancelled). A timer keeps the process alive: a bare pending promise would let it exit.
 */
function hold(tool: string, options: ToolRunOptions): Promise<never> {
  options.signal.throwIfAborted();
  console.error(
    `holding before ${tool} in run ${options.runId ?? "?"} (${TOOL_HOLD_ENV} test hook)`,
  );
  return new Promise<never>((_, reject) => {
    const alive = setInterval(() => {}, 3_600_000);
    options.signal.addEventListener("abort", () => {
      clearInterval(alive);
      reject(options.signal.reason);
    }, { once: true });
  });
}

/** A tool with the test knobs applied: a hold before it runs, a log line when it really runs. */
export function withKnobs(tool: Tool, knobs: TestKnobs): Tool {
  if (knobs.toolHolds.length === 0 && !knobs.toolLog) return tool;
  return {
    ...tool,
    run: async (args, options) => {
      if (isHeld(knobs.toolHolds, tool.name, options.runId)) await hold(tool.name, options);
      // The test log records real executions only: a held call never ran.
      if (knobs.toolLog) {
        await Deno.writeTextFile(
          knobs.toolLog,
          `${options.runId ?? ""}\t${options.key ?? ""}\t${tool.name}\n`,
          { append: true },
        );
      }
      return await tool.run(args, options);
    },
  };
}

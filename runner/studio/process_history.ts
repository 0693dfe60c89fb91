/**
 * Which process advanced which steps of a run, read from the run's events and step rows: every
 * `started` or `resumed` event begins a process (its data names the lease owner), and what the
 * next `resumed` event says it resumed from tells how the process before it stopped (`running`:
 * it died holding the run, i.e. it crashed or lost its lease). xray's process timeline reads the
 * same facts from a trace's spans; this reads them from the store, without building a trace.
 *
 * @module
 */
import type { EventRecord, RunRecord, StepRecord } from "../store/store.ts";

/** One process's part in a run (see `API.md`). */
export interface Process {
  /** The lease owner, `host:pid:token` (`""` when the event did not name it). */
  owner: string;
  /** How it began: started the run, resumed it, or took it over from a process that was gone. */
  how: "started" | "resumed" | "takeover" | "worker";
  /** The first step it worked on. */
  fromStep: number;
  /** The last step it committed, or null when it committed none. */
  toStep: number | null;
  /** When it began, ms since the epoch. */
  startedAt: number;
  /** When it stopped (the next process's start, or the run's end), or null while running. */
  endedAt: number | null;
  /** How it stopped; `running` while it still holds the run. */
  ended:
    | "completed"
    | "failed"
    | "paused"
    | "waiting"
    | "crashed"
    | "cancelled"
    | "running"
    | null;
}

const ENDS = new Set(["completed", "failed", "paused", "waiting", "cancelled"]);

function ownerOf(e: EventRecord): string {
  try {
    const owner = e.data === null ? undefined : JSON.parse(e.data)?.owner;
    return typeof owner === "string" ? owner : "";
  } catch {
    return "";
  }
}

/** How the process before a `resumed` event stopped, from what was resumed. */
function endedBefore(resumed: EventRecord): Process["ended"] {
  const from = /^resumed from (\w+)/.exec(resumed.message)?.[1] ?? "";
  if (from === "running") return "crashed";
  if (ENDS.has(from)) return from as Process["ended"];
  return null; // queued: no process before it
}

/**
 * The processes of a run, in order.
 *
 * @param run The run record (its status ends the last process).
 * @param events The run's events, in order.
 * @param steps The run's step rows (only `step` and `startedAt` are read), in order.
 */
export function processHistory(
  run: RunRecord,
  events: readonly EventRecord[],
  steps: readonly Pick<StepRecord, "step" | "startedAt">[],
): Process[] {
  const out: Process[] = [];
  let takeover = false;
  for (const e of events) {
    if (e.kind === "lease-takeover") takeover = true;
    if (e.kind !== "started" && e.kind !== "resumed") continue;
    const prev = out[out.length - 1];
    if (prev && e.kind === "resumed") {
      prev.ended = endedBefore(e) ?? prev.ended;
      prev.endedAt = e.at;
    }
    out.push({
      owner: ownerOf(e),
      how: e.kind === "started" ? "started" : takeover ? "takeover" : "resumed",
      fromStep: run.firstStep,
      toStep: null,
      startedAt: e.at,
      endedAt: null,
      ended: null,
    });
    takeover = false;
  }
  // Steps belong to the process that began last at or before their start.
  let k = 0;
  for (const s of steps) {
    while (k + 1 < out.length && out[k + 1].startedAt <= s.startedAt) k++;
    const p = out[k];
    if (!p) break;
    if (p.toStep === null) p.fromStep = s.step;
    p.toStep = s.step;
  }
  // A process that committed nothing worked on the step after its predecessor's.
  for (let i = 1; i < out.length; i++) {
    const before = out[i - 1];
    if (out[i].toStep === null) {
      out[i].fromStep = before.toStep === null ? before.fromStep : before.toStep + 1;
    }
  }
  const last = out[out.length - 1];
  if (last) {
    last.ended = run.status === "queued"
      ? null
      : ENDS.has(run.status)
      ? run.status as Process["ended"]
      : "running";
    if (last.ended !== "running") last.endedAt = run.endedAt ?? run.updatedAt;
  }
  return out;
}

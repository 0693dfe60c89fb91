/**
 * The studio's routes: what a request path (base path removed) asks for. Segments are split
 * before they are decoded, so a run id may contain `/` (`team%2F1`); a run id is checked here
 * (1–200 characters, no control characters) so no route sees a malformed one.
 *
 * @module
 */
import { STEER_ACTIONS, type SteerAction } from "./steer.ts";

/** A run's JSON sub-resources. */
export type RunPart = "steps" | "calls" | "failed-attempts" | "signals";

/** What a path asks for. */
export type StudioRoute =
  | { kind: "page"; page: "runs" | "compare" }
  | { kind: "run-page"; runId: string }
  | { kind: "run-trace"; runId: string }
  | { kind: "run-data"; runId: string; format: "trace" | "otlp" | "summary" }
  | { kind: "compare-trace" }
  | { kind: "asset"; name: string }
  | { kind: "info" }
  | { kind: "runs" }
  | { kind: "events" }
  | { kind: "run"; runId: string }
  | { kind: "run-part"; runId: string; part: RunPart }
  | { kind: "step-state"; runId: string; step: number }
  | { kind: "steer"; runId: string; action: SteerAction }
  | { kind: "bad"; status: 400 | 404; error: string };

const PARTS: readonly string[] = ["steps", "calls", "failed-attempts", "signals"];

/** A run id from a path segment, or an error sentence. */
export function runIdOf(segment: string): { runId: string } | { error: string } {
  let runId: string;
  try {
    runId = decodeURIComponent(segment);
  } catch {
    return { error: "the run id in the path is not valid percent-encoding" };
  }
  // deno-lint-ignore no-control-regex
  if (runId === "" || runId.length > 200 || /[\u0000-\u001f\u007f]/.test(runId)) {
    return { error: "a run id is 1 to 200 characters without control characters" };
  }
  return { runId };
}

/** The route of a path. */
export function routeOf(path: string): StudioRoute {
  if (path === "/" || path === "") return { kind: "page", page: "runs" };
  if (path === "/compare") return { kind: "page", page: "compare" };
  if (path === "/compare/trace") return { kind: "compare-trace" };
  if (path === "/api/info") return { kind: "info" };
  if (path === "/api/runs") return { kind: "runs" };
  if (path === "/api/events") return { kind: "events" };
  const parts = path.split("/").slice(1);
  if (parts[0] === "assets" && parts.length === 2 && /^[\w.-]+$/.test(parts[1])) {
    return { kind: "asset", name: parts[1] };
  }
  const api = parts[0] === "api";
  const rest = api ? parts.slice(1) : parts;
  // `/api/runs/:id/steps/:step/state`: one step's whole state.
  const stepState = api && rest.length === 5 && rest[2] === "steps" && rest[4] === "state";
  if (rest[0] !== "runs" || rest.length < 2 || (rest.length > 3 && !stepState)) {
    return notFound(path);
  }
  const id = runIdOf(rest[1]);
  if ("error" in id) return { kind: "bad", status: 400, error: id.error };
  const { runId } = id;
  const tail = rest[2];
  if (stepState) {
    if (!/^\d{1,15}$/.test(rest[3])) return notFound(path);
    return { kind: "step-state", runId, step: Number(rest[3]) };
  }
  if (api) {
    if (tail === undefined) return { kind: "run", runId };
    if (PARTS.includes(tail)) return { kind: "run-part", runId, part: tail as RunPart };
    if ((STEER_ACTIONS as readonly string[]).includes(tail)) {
      return { kind: "steer", runId, action: tail as SteerAction };
    }
    return notFound(path);
  }
  if (tail === undefined) return { kind: "run-page", runId };
  if (tail === "trace") return { kind: "run-trace", runId };
  // The JSON links of the trace server `loom-runner serve` was before the studio.
  const format = /^(trace|otlp|summary)\.json$/.exec(tail)?.[1];
  if (format) return { kind: "run-data", runId, format: format as "trace" | "otlp" | "summary" };
  return notFound(path);
}

function notFound(path: string): StudioRoute {
  return { kind: "bad", status: 404, error: `no route for ${path}` };
}

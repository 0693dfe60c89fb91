/**
 * `--trace FILE`: records the run with `@loom/xray` and writes one offline HTML file.
 *
 * @module
 */
import type { RunObserver } from "@loom/runner";
import { OpsUsageError } from "./app.ts";

/** A trace being recorded. */
export interface Tracer {
  /** Observer handed to the runner. */
  observer: RunObserver;
  /** Writes the HTML file. */
  finish(): Promise<void>;
}

/** Starts recording a trace that `finish()` writes to `path`. */
export function createTracer(_path: string): Tracer {
  throw new OpsUsageError("--trace is not available yet in this build");
}

/**
 * The current span, carried across `await`, timers and promise callbacks by `AsyncLocalStorage`
 * from `node:async_hooks`, so concurrent branches each see their own parent.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { Recorder, SpanHandle } from "./recorder.ts";

const storage = new AsyncLocalStorage<SpanHandle>();

/**
 * The span current in this async context, if any.
 *
 * @returns The innermost span entered with `runInSpan` (or `withSpan`, `trace`, `traced`).
 */
export function currentSpan(): SpanHandle | undefined {
  return storage.getStore();
}

/**
 * The current span when it belongs to `recorder` (the default parent of its new spans).
 *
 * @param recorder A recorder.
 * @returns The span, or `null` when none is current or it belongs to another recorder.
 */
export function currentSpanOf(recorder: Recorder): SpanHandle | null {
  const span = storage.getStore();
  return span !== undefined && span.recorder === recorder ? span : null;
}

/**
 * Runs `fn` with `span` as the current span. Spans started inside, even after `await` or in
 * concurrently running promises, get `span` as their default parent.
 *
 * @param span The span to make current.
 * @param fn The work.
 * @returns What `fn` returns.
 */
export function runInSpan<T>(span: SpanHandle, fn: () => T): T {
  return storage.run(span, fn);
}

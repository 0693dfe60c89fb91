// Helpers shared by the runner's tests (not exported from mod.ts).
import type { StepLogger } from "./context.ts";
import type { Store } from "./store.ts";
import { testBackend } from "./testing_stores.ts";

/**
 * A fresh store for one test and a temp dir, removed afterwards: a SQLite file, or a PostgreSQL
 * schema when `LOOM_TEST_STORE=postgres` (engine_postgres_test.ts runs the engine suite so).
 */
export async function withTempStore(
  fn: (store: Store, dir: string) => Promise<void>,
): Promise<void> {
  const backend = testBackend();
  const dir = await Deno.makeTempDir({ prefix: "loom-runner-test-" });
  const t = await backend.open();
  try {
    await fn(t.store, dir);
  } finally {
    await t.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A logger that keeps lines instead of printing them. */
export function memoryLogger(): StepLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

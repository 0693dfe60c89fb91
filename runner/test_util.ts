// Helpers shared by the runner's tests (not exported from mod.ts).
import { openStore, type SqliteStore } from "./store_sqlite.ts";
import type { StepLogger } from "./context.ts";

/** A temp dir with a fresh database; removed afterwards. */
export async function withTempStore(
  fn: (store: SqliteStore, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-runner-test-" });
  const store = openStore(`${dir}/runs.sqlite`);
  try {
    await fn(store, dir);
  } finally {
    store.close();
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

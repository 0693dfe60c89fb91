// Test fixture: advances one `chain` run in its own process (for SIGKILL crash tests).
// Usage: run_chain_proc.ts DB SCHEMA RUN_ID N DELAY_MS   (SCHEMA "-" for SQLite)
import { startOrResumeRun } from "@loom/runner";
import { openAnyStore } from "../store/open.ts";
import { chain } from "./worker_agents/agents.ts";

const [db, schema, runId, n, delayMs] = Deno.args;
const store = await openAnyStore(db, { schema: schema === "-" ? undefined : schema });
try {
  const r = await startOrResumeRun(chain, {
    store,
    runId,
    input: { n: Number(n), delayMs: Number(delayMs) },
    leaseTtlMs: 60_000,
  });
  console.log(JSON.stringify({ status: r.status, result: r.result }));
} finally {
  await store.close();
}

// Test fixture: advances one notes run (`notes_agent.ts`) in its own process, for SIGKILL tests.
// Usage: run_notes_proc.ts DB SCHEMA RUN_ID N SIZE   (SCHEMA "-" for SQLite)
import { startOrResumeRun } from "@loom/runner";
import { openAnyStore } from "../store/open.ts";
import notes from "./notes_agent.ts";

const [db, schema, runId, n, size] = Deno.args;
const store = await openAnyStore(db, { schema: schema === "-" ? undefined : schema });
try {
  const r = await startOrResumeRun(notes, {
    store,
    runId,
    input: { n: Number(n), size: Number(size) },
    leaseTtlMs: 60_000,
  });
  console.log(JSON.stringify({ status: r.status, result: r.result }));
} finally {
  await store.close();
}

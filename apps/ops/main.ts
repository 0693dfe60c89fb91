/**
 * `loom-ops`: incident and deploy runbooks as durable runs — planner → executor ∥ verifier on
 * `@loom/runner`, human approval gates, an allowlisted shell (checked by loom-ops, limited by Deno's
 * `--allow-run`, contained by a bubblewrap OS sandbox), and a keyed hash-chained audit trail
 * anchored in the runner's database. Run `deno task loom-ops --help`.
 *
 * @example
 * ```sh
 * deno task loom-ops runbook apps/ops/runbooks/restart-service.yaml --run-id dep-7 \
 *   --workspace apps/ops --db ops.sqlite --allow-shell
 * deno task loom-ops approve --run-id dep-7 --step restart --by alice
 * ```
 *
 * @module
 */
import { main } from "./cli.ts";
import { SANDBOX_CHILD_COMMAND } from "./compiled.ts";
import { childMain } from "./sandbox_child.ts";

export { main };
export type { CliIo } from "./flags.ts";

if (import.meta.main) {
  // A compiled loom-ops starts itself as the sandboxed half of its shell executor (compiled.ts).
  if (Deno.args[0] === SANDBOX_CHILD_COMMAND) await childMain();
  else Deno.exit(await main(Deno.args));
}

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

export { main };
export type { CliIo } from "./flags.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));

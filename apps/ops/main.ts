/**
 * `loom-ops`: incident and deploy runbooks as durable runs — planner → executor ∥ verifier on
 * `@loom/runner`, human approval gates, an allowlisted shell sandboxed by Deno permissions, and a
 * hash-chained audit trail. Run `deno task loom-ops --help`.
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

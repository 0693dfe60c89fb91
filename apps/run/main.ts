/**
 * `loom-run`: a durable repository chat agent. Point it at a repository, ask a question, and an
 * LLM answers after reading files, searching and running the tests; the run can be killed,
 * resumed, explained and traced. See the README for commands and environment variables.
 *
 * @example
 * ```sh
 * deno task loom-run chat "why does the test fail?" --run-id demo --db runs.sqlite --mock-llm
 * ```
 *
 * @module
 */
import { main } from "./cli.ts";

export { main } from "./cli.ts";
export type { ProgressOutput } from "./progress.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

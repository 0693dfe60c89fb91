/**
 * The status table every channel prints (the CLI's `status` and run reports, the Telegram
 * gateway's answers).
 *
 * @module
 */
import type { StatusView } from "./app.ts";

/** Formats the status view as a table. */
export function formatStatus(v: StatusView): string {
  const lines = [`run ${v.runId}: ${v.status}${v.plan ? ` (plan ${v.plan})` : ""}`];
  // "reason", not "error": a denial the user asked for is an outcome, and the one `error:` line
  // a failed command prints belongs on stderr.
  if (v.error) lines.push(`reason: ${v.error}`);
  if (v.steps.length) {
    const w = Math.max(4, ...v.steps.map((s) => s.id.length));
    lines.push(`  ${"step".padEnd(w)}  ${"status".padEnd(16)} tries exit  command`);
    for (const s of v.steps) {
      lines.push(
        `  ${s.id.padEnd(w)}  ${s.status.padEnd(16)} ${String(s.attempts).padStart(5)} ${
          String(s.exitCode ?? "-").padStart(4)
        }  ${s.run.join(" ")}${s.approvedBy ? `  [approved by ${s.approvedBy}]` : ""}${
          s.note && s.status !== "succeeded" ? `  (${s.note})` : ""
        }`,
      );
    }
  }
  return lines.join("\n");
}

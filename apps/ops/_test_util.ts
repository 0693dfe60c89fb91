/**
 * Helpers shared by loom-ops' tests (internal: not exported by `main.ts`). A test keeps every
 * file it makes in its own temporary directory, the audit key included: loom-ops' default key is
 * `~/.config/loom-ops/audit.key`, created on the first audit entry, so a test that opens the app
 * or runs the CLI without naming a key would write into the real home directory. Every opening
 * of the app and every CLI call in a test goes through one of these.
 *
 * @module
 */
import { openApp, type OpenAppOptions, type OpsApp } from "./app.ts";
import { AUDIT_KEY_ENV } from "./audit_key.ts";
import { MockPlanner } from "./planner.ts";

/** The audit key of a test: `audit.key` in the test's own directory (created on first use). */
export function testAuditKey(dir: string): string {
  return `${dir}/audit.key`;
}

/**
 * The environment of a loom-ops process a test starts: its audit key in `dir`
 * (`LOOM_OPS_AUDIT_KEY`), then `extra`.
 */
export function opsEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [AUDIT_KEY_ENV]: testAuditKey(dir), ...extra };
}

/** CLI arguments with `--audit-key` naming the test's key in `dir` (for `main` in-process). */
export function withAuditKey(args: string[], dir: string): string[] {
  return [...args, "--audit-key", testAuditKey(dir)];
}

/**
 * Opens the app on `dir/ops.sqlite` with the mock planner and the test's audit key in `dir`;
 * `options` overrides any of them.
 */
export function openTestApp(dir: string, options: Partial<OpenAppOptions> = {}): OpsApp {
  return openApp({
    dbPath: `${dir}/ops.sqlite`,
    create: true,
    planner: new MockPlanner(),
    auditKeyPath: testAuditKey(dir),
    ...options,
  });
}

/**
 * The environment handed to processes `loom-run` starts (MCP servers, the test command): a short
 * allowlist of harmless variables, so the user's API keys and tokens are not passed on unless the
 * configuration names them.
 *
 * @module
 */
import { readEnv } from "../config.ts";

/** Variables a child process gets from the parent by default: locale, paths, caches. */
export const INHERITED_VARS: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TERM",
  "TZ",
  "TMPDIR",
  "SHELL",
  "DENO_DIR",
  "NPM_CONFIG_CACHE",
  "XDG_CACHE_HOME",
];

/**
 * The environment of a child: the allowlist plus `extra`, where a value `${NAME}` is replaced by
 * the parent's variable NAME (that is how a config passes a key on, by naming it).
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_VARS) {
    const value = readEnv(name);
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    env[name] = value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
      (_, ref: string) => readEnv(ref) ?? "",
    );
  }
  return env;
}

/**
 * How loom-ops starts the sandboxed half of its shell executor (`sandbox_child.ts`), which
 * depends on how loom-ops itself runs:
 *
 * - from source (`deno run main.ts`, `deno task loom-ops`, `jsr:@loom/ops`), `Deno.execPath()`
 *   is the `deno` binary, started as `deno run --allow-run=<the allowlist's executables>
 *   sandbox_child.ts`;
 * - in a binary made by `deno compile`, `Deno.execPath()` is that binary: it runs only loom-ops
 *   and reads no Deno flags, so `deno run …` would start loom-ops again with `run` as its
 *   command. The binary starts itself with the hidden command {@link SANDBOX_CHILD_COMMAND}
 *   instead, holding the permissions baked in by `deno compile --allow-run=…` (see the README's
 *   "Compiled binary").
 *
 * @module
 */

/** The hidden command that makes loom-ops the sandboxed child (`loom-ops __sandbox-child`). */
export const SANDBOX_CHILD_COMMAND = "__sandbox-child";

/** How the running loom-ops was started, as far as starting its sandboxed child goes. */
export interface SelfRuntime {
  /** Whether this is a `deno compile`d binary. */
  compiled: boolean;
  /** The executable of this process (`Deno.execPath()`): `deno`, or the compiled binary. */
  execPath: string;
}

/** What {@link isCompiled} decides from. */
export interface RuntimeFacts {
  /** `Deno.build.standalone`; undefined on Deno releases that do not have it yet. */
  standalone: boolean | undefined;
  /** The URL of a loom-ops module (`import.meta.url`). */
  moduleUrl: string;
}

/**
 * Whether loom-ops runs as a `deno compile`d binary. `Deno.build.standalone` says so where
 * Deno has it (it was added in 2025); on an older Deno 2 the module URL tells: a compiled
 * binary serves its modules from a virtual directory `<temp dir>/deno-compile-<binary name>/`.
 *
 * @param facts What to decide from (default: this process).
 * @returns True for a compiled binary.
 */
export function isCompiled(facts: RuntimeFacts = {
  standalone: (Deno.build as { standalone?: boolean }).standalone,
  moduleUrl: import.meta.url,
}): boolean {
  if (typeof facts.standalone === "boolean") return facts.standalone;
  let url: URL;
  try {
    url = new URL(facts.moduleUrl);
  } catch {
    return false;
  }
  return url.protocol === "file:" &&
    url.pathname.split("/").some((part) => part.startsWith("deno-compile-"));
}

/** This process: whether it is compiled, and its executable. */
export function selfRuntime(): SelfRuntime {
  return { compiled: isCompiled(), execPath: Deno.execPath() };
}

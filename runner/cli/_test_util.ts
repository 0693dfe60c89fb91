// Helpers of the CLI tests: `main()` in-process with its output captured, and a temporary folder.
import { main } from "../cli.ts";

/** What one in-process `loom-runner` call printed and returned. */
export interface CliResult {
  /** The exit code `main` returned. */
  code: number;
  /** Lines written with `console.log`. */
  out: string;
  /** Lines written with `console.error`. */
  err: string;
}

/** Runs `loom-runner ARGS` in-process (the code the binary runs), capturing its output. */
export async function cli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Calls `fn` with a new temporary folder, removed afterwards. */
export async function inTemp(
  fn: (dir: string) => Promise<void>,
  prefix = "loom-cli-",
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

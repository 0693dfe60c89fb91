/**
 * Helpers for this package's tests: temporary copies of the fixture workspace.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor, type WaitForOptions } from "@loom/runner/testing";

/** Absolute path of a file under `apps/run/testdata/`. */
export function testdata(...parts: string[]): string {
  return join(fileURLToPath(new URL("./testdata/", import.meta.url)), ...parts);
}

/** Copies a directory tree (files and folders only). */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(join(from, entry.name), join(to, entry.name));
    else if (entry.isFile) await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

/** A temporary directory holding a copy of `testdata/buggy` as `ws/`; removed by `dispose`. */
export async function tempWorkspace(): Promise<
  { dir: string; ws: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "loom-run-" });
  const ws = join(dir, "ws");
  await copyTree(testdata("buggy"), ws);
  return { dir, ws, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** What a finished CLI process printed. */
export interface CliOutput {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Path of the CLI entry point. */
export const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

/** Environment for CLI subprocesses: no LLM keys or settings from the developer's shell. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs `deno run -A main.ts ...args` to completion. */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; denoFlags?: string[] } = {},
): Promise<CliOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.denoFlags ?? ["-A"]), MAIN, ...args],
    cwd: options.cwd,
    env: cliEnv(options.env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A CLI process started in the background, whose output is collected as it comes. */
export class CliProcess {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Stderr seen so far. */
  stderr = "";
  /** Stdout seen so far. */
  stdout = "";
  /** The exit status, once the process ended and its output was read to the end. */
  status: Deno.CommandStatus | undefined;
  readonly #args: string[];
  readonly #done: Promise<Deno.CommandStatus>;

  /** Starts `deno run -A main.ts ...args`. */
  constructor(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
    this.#args = args;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: options.cwd,
      env: cliEnv(options.env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>, which: "stdout" | "stderr") => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this[which] += text;
    };
    this.#done = Promise.all([read(this.child.stdout, "stdout"), read(this.child.stderr, "stderr")])
      .then(() => this.child.status)
      .then((status) => this.status = status);
  }

  /**
   * Resolves with the match once stderr or stdout matches `pattern`. Rejects when the process
   * ends without printing it, or after the shared `waitFor`'s generous deadline (options).
   */
  async waitFor(pattern: RegExp, options?: WaitForOptions): Promise<RegExpMatchArray> {
    const output = () => this.stderr + this.stdout;
    const what = `loom-run ${this.#args[0]} to print ${pattern}`;
    try {
      await waitFor(what, () => this.status !== undefined || pattern.test(output()), options);
    } catch (error) {
      throw new Error(`${(error as Error).message}; stderr so far:\n${this.stderr}`, {
        cause: error,
      });
    }
    const match = output().match(pattern);
    if (match) return match;
    throw new Error(
      `loom-run ${
        this.#args[0]
      } ended (exit ${this.status?.code}) without printing ${pattern}; stderr:\n${this.stderr}`,
    );
  }

  /** Kills the process with SIGKILL and waits for it. */
  async kill(): Promise<Deno.CommandStatus> {
    this.child.kill("SIGKILL");
    return await this.#done;
  }

  /** Waits for the process to end. */
  finished(): Promise<Deno.CommandStatus> {
    return this.#done;
  }
}

/**
 * Helpers for this package's tests: temporary copies of the fixture workspace.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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

/** A CLI process started in the background, whose stderr is read line by line. */
export class CliProcess {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Stderr seen so far. */
  stderr = "";
  /** Stdout seen so far. */
  stdout = "";
  readonly #waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly #done: Promise<Deno.CommandStatus>;

  /** Starts `deno run -A main.ts ...args`. */
  constructor(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
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
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this[which] += text;
        this.#check();
      }
    };
    const readers = Promise.all([
      read(this.child.stdout, "stdout"),
      read(this.child.stderr, "stderr"),
    ]);
    this.#done = readers.then(() => this.child.status);
  }

  #check(): void {
    for (const w of [...this.#waiters]) {
      const m = (this.stderr + this.stdout).match(w.pattern);
      if (m) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** Resolves when stderr or stdout matches `pattern`; rejects after `timeoutMs` or when the process ends first. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const { promise, resolve, reject } = Promise.withResolvers<RegExpMatchArray>();
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; stderr so far:\n${this.stderr}`)),
      timeoutMs,
    );
    this.#waiters.push({
      pattern,
      resolve: (m) => {
        clearTimeout(timer);
        resolve(m);
      },
    });
    this.#done.then(() =>
      setTimeout(
        () => reject(new Error(`process ended before ${pattern}; stderr:\n${this.stderr}`)),
        50,
      )
    );
    this.#check();
    return promise.finally(() => clearTimeout(timer));
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

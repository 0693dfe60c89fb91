/**
 * Command executors. The shell executor checks the allowlist, then runs the argv inside a Deno
 * subprocess that only holds `--allow-run=<the allowlist's executables>` (no `-A`), so the
 * allowlist is enforced twice. The mock executor runs nothing and says so; it is the default
 * unless `--allow-shell` (or `LOOM_OPS_ALLOW_SHELL=1`) is given.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Allowlist, baseName } from "./allowlist.ts";
import type { SandboxRequest, SandboxResponse } from "./sandbox_child.ts";

/** The system directories searched after the workspace's own executable directories. */
export const SYSTEM_PATH = ["/usr/local/bin", "/usr/bin", "/bin"];

/** Maximum bytes kept of each output stream. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/** One command to run. */
export interface ExecRequest {
  /** The argv. */
  argv: string[];
  /** Timeout in ms. */
  timeoutMs: number;
  /** Extra environment variables (the command gets only these plus PATH, HOME and LANG). */
  env?: Record<string, string>;
  /** Working directory. */
  cwd: string;
}

/** The result of one command. */
export interface ExecResult {
  /** The argv as run. */
  argv: string[];
  /** Which executor ran it. */
  executor: "shell" | "mock";
  /** Exit code; null when killed, refused or not started. */
  exitCode: number | null;
  /** Whether the timeout killed it. */
  timedOut: boolean;
  /** Duration in ms. */
  durationMs: number;
  /** Captured stdout (capped). */
  stdout: string;
  /** Captured stderr (capped). */
  stderr: string;
  /** Whether output was cut at the cap. */
  truncated: boolean;
  /** sha256 of the output (see `SandboxResponse.outputHash`). */
  outputHash: string;
  /** Why the command did not run: refused by loom-ops, denied by Deno, or could not start. */
  refused?: { by: "loom-ops" | "deno" | "spawn"; reason: string };
}

/** Something that runs commands. */
export interface CommandExecutor {
  /** `shell` or `mock`. */
  readonly kind: "shell" | "mock";
  /** Runs one command; never throws for command failures, only reports them. */
  run(req: ExecRequest): Promise<ExecResult>;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The output hash of a result whose stdout and stderr are given in full (as the child computes it). */
export function outputHash(stdout: string, stderr: string): string {
  return sha256(sha256(stdout) + sha256(stderr));
}

function refusedResult(
  argv: string[],
  kind: "shell" | "mock",
  by: "loom-ops" | "deno" | "spawn",
  reason: string,
): ExecResult {
  return {
    argv,
    executor: kind,
    exitCode: null,
    timedOut: false,
    durationMs: 0,
    stdout: "",
    stderr: "",
    truncated: false,
    outputHash: outputHash("", ""),
    refused: { by, reason },
  };
}

/** Finds an executable name in the given directories; absolute paths are returned as they are. */
export function resolveExecutable(name: string, dirs: string[]): string | undefined {
  if (name.includes("/")) return name.startsWith("/") ? name : undefined;
  for (const dir of dirs) {
    const candidate = `${dir}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Options of {@link runSandboxed}. */
export interface SandboxOptions {
  /** Absolute paths the Deno child may start (its `--allow-run`). Empty: it may start nothing. */
  allowRun: string[];
  /** PATH given to the command. */
  path: string[];
  /** Output cap per stream. */
  maxOutputBytes?: number;
}

/**
 * Runs argv inside the permission-limited Deno child, with no allowlist check of its own: the
 * only guard here is Deno's `--allow-run`. {@link ShellExecutor} checks the allowlist first;
 * tests call this directly to show that Deno refuses what the check would have refused.
 */
export async function runSandboxed(
  req: ExecRequest,
  options: SandboxOptions,
): Promise<SandboxResponse> {
  const args = ["run", "--no-prompt", "--no-config", "--quiet"];
  // An empty --allow-run= would be ambiguous; leaving the flag out denies every subprocess.
  if (options.allowRun.length) args.push(`--allow-run=${options.allowRun.join(",")}`);
  args.push(new URL("./sandbox_child.ts", import.meta.url).href);
  const env: Record<string, string> = {
    PATH: options.path.join(":"),
    LANG: "C.UTF-8",
    HOME: req.cwd,
    ...req.env,
  };
  const request: SandboxRequest = {
    argv: req.argv,
    env,
    cwd: req.cwd,
    timeoutMs: req.timeoutMs,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
  };
  const denoEnv: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ["HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) denoEnv[k] = v;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    clearEnv: true,
    env: denoEnv,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request)));
  await writer.close();
  // The child enforces the command's timeout itself; this guard only covers a stuck child.
  const guard = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, req.timeoutMs + 15_000);
  const out = await child.output().finally(() => clearTimeout(guard));
  const text = new TextDecoder().decode(out.stdout);
  try {
    return JSON.parse(text) as SandboxResponse;
  } catch {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    throw new Error(`the sandboxed executor failed (exit ${out.code}): ${err}`);
  }
}

/** Runs allowlisted commands for real, through the permission-limited Deno child. */
export class ShellExecutor implements CommandExecutor {
  /** Always `shell`. */
  readonly kind = "shell" as const;
  readonly #allowlist: Allowlist;
  readonly #dirs: string[];
  readonly #allowRun: string[];
  readonly #maxOutputBytes: number;

  constructor(allowlist: Allowlist, options: { maxOutputBytes?: number } = {}) {
    this.#allowlist = allowlist;
    this.#dirs = [...allowlist.path, ...SYSTEM_PATH];
    this.#allowRun = allowlist.executables()
      .map((e) => resolveExecutable(e, this.#dirs))
      .filter((p): p is string => p !== undefined);
    this.#maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  }

  /** The absolute paths given to Deno's `--allow-run`. */
  get allowRun(): string[] {
    return [...this.#allowRun];
  }

  /** Checks, resolves and runs one command. */
  async run(req: ExecRequest): Promise<ExecResult> {
    const decision = this.#allowlist.check(req.argv);
    if (!decision.allowed) return refusedResult(req.argv, "shell", "loom-ops", decision.reason);
    const exe = resolveExecutable(req.argv[0], this.#dirs);
    if (!exe) {
      return refusedResult(
        req.argv,
        "shell",
        "spawn",
        `executable "${baseName(req.argv[0])}" was not found in ${this.#dirs.join(":")}`,
      );
    }
    const res = await runSandboxed(
      { ...req, argv: [exe, ...req.argv.slice(1)] },
      { allowRun: this.#allowRun, path: this.#dirs, maxOutputBytes: this.#maxOutputBytes },
    );
    return fromSandbox(req.argv, res);
  }
}

/** Converts the child's response into an {@link ExecResult}. */
export function fromSandbox(argv: string[], res: SandboxResponse): ExecResult {
  return {
    argv,
    executor: "shell",
    exitCode: res.exitCode,
    timedOut: res.timedOut,
    durationMs: res.durationMs,
    stdout: res.stdout,
    stderr: res.stderr,
    truncated: res.truncated,
    outputHash: res.outputHash,
    refused: res.failure
      ? { by: res.failure.kind === "denied" ? "deno" : "spawn", reason: res.failure.message }
      : undefined,
  };
}

/**
 * Runs nothing: checks the allowlist exactly like the shell executor, then reports what it would
 * have run, with exit code 0.
 */
export class MockExecutor implements CommandExecutor {
  /** Always `mock`. */
  readonly kind = "mock" as const;
  readonly #allowlist: Allowlist;
  constructor(allowlist: Allowlist) {
    this.#allowlist = allowlist;
  }
  /** Reports the command without running it. */
  run(req: ExecRequest): Promise<ExecResult> {
    const decision = this.#allowlist.check(req.argv);
    if (!decision.allowed) {
      return Promise.resolve(refusedResult(req.argv, "mock", "loom-ops", decision.reason));
    }
    const stdout = `[mock executor] would run: ${req.argv.join(" ")}\n`;
    return Promise.resolve({
      argv: req.argv,
      executor: "mock",
      exitCode: 0,
      timedOut: false,
      durationMs: 0,
      stdout,
      stderr: "",
      truncated: false,
      outputHash: outputHash(stdout, ""),
    });
  }
}

/**
 * Command executors. The shell executor checks the allowlist, then runs the argv inside a Deno
 * subprocess that only holds `--allow-run=<the allowlist's executables>` (no `-A`; in a compiled
 * binary, the `--allow-run` baked in by `deno compile`), so the allowlist is enforced twice; with
 * an OS sandbox (the default of `--allow-shell`), that Deno subprocess itself runs inside
 * bubblewrap ({@link bwrapArgs}), so what the command can touch is limited too. The mock executor runs nothing and says so; it is the default unless
 * `--allow-shell` (or `LOOM_OPS_ALLOW_SHELL=1`) is given.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type AllowDecision, type Allowlist, baseName } from "./allowlist.ts";
import type { SandboxRequest, SandboxResponse } from "./sandbox_child.ts";
import { bwrapArgs, type HostLayout, hostLayout, type SandboxPolicy, within } from "./sandbox.ts";
import { SANDBOX_CHILD_COMMAND, type SelfRuntime, selfRuntime } from "./compiled.ts";

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
  /** What the command may write and reach inside the OS sandbox (ignored without one). */
  access?: CommandAccess;
}

/** What one command may write and reach inside the OS sandbox, besides reading the system. */
export interface CommandAccess {
  /** Absolute paths it may write: the step's state directory and its declared `writes`. */
  writable: string[];
  /** Whether it shares the host's network (`network: true` in the runbook). */
  network: boolean;
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
  /**
   * Why the command did not run: refused by loom-ops, denied by Deno, refused by the OS sandbox
   * (a declared path that cannot be granted, or bubblewrap could not start), or could not start.
   */
  refused?: { by: RefusedBy; reason: string };
}

/** Which layer refused a command. */
export type RefusedBy = "loom-ops" | "deno" | "sandbox" | "spawn";

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
  by: RefusedBy,
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
  /**
   * Run the Deno child (and so the command) inside bubblewrap under this policy; without it the
   * Deno child runs directly, limited by `--allow-run` alone.
   */
  os?: { bwrap: string; policy: SandboxPolicy; layout?: HostLayout };
  /** How this loom-ops runs: from source or compiled (default: detected, {@link selfRuntime}). */
  runtime?: SelfRuntime;
}

/**
 * Where the Deno runtime that runs the command (`deno` and `sandbox_child.ts`, or the compiled
 * loom-ops binary) is mounted inside the OS sandbox.
 */
export const SANDBOX_RUNTIME_DIR = "/run/loom-ops";

let childScript: Promise<string> | undefined;

/**
 * The path of `sandbox_child.ts` on this machine; when loom-ops was loaded from a registry (not
 * from files), a copy is written to a temporary file once, so the sandbox can mount it.
 */
function childScriptPath(): Promise<string> {
  const url = new URL("./sandbox_child.ts", import.meta.url);
  if (url.protocol === "file:") return Promise.resolve(decodeURIComponent(url.pathname));
  childScript ??= (async () => {
    const text = await (await fetch(url)).text();
    const file = await Deno.makeTempFile({ prefix: "loom-ops-sandbox-child-", suffix: ".ts" });
    await Deno.writeTextFile(file, text);
    return file;
  })();
  return childScript;
}

/**
 * The process {@link runSandboxed} starts for `options`: the Deno child, or bubblewrap running
 * the Deno child. From source the child is `deno run --allow-run=… sandbox_child.ts`; in a
 * compiled binary ({@link SelfRuntime}) it is the binary itself with the hidden command
 * `__sandbox-child`, limited by the permissions `deno compile` baked in. Nothing is started;
 * `--dry-run` prints this.
 *
 * @returns The program, its arguments, and the environment it is given (nothing else).
 */
export async function sandboxCommand(
  options: SandboxOptions,
): Promise<{ program: string; args: string[]; env: Record<string, string> }> {
  const runtime = options.runtime ?? selfRuntime();
  const dir = SANDBOX_RUNTIME_DIR;
  if (runtime.compiled) {
    const child = [SANDBOX_CHILD_COMMAND];
    if (!options.os) return { program: runtime.execPath, args: child, env: hostEnv() };
    return inBubblewrap(options.os, [{ source: runtime.execPath, dest: `${dir}/loom-ops` }], [
      `${dir}/loom-ops`,
      ...child,
    ]);
  }
  const deno = ["run", "--no-prompt", "--no-config", "--quiet"];
  // An empty --allow-run= would be ambiguous; leaving the flag out denies every subprocess.
  if (options.allowRun.length) deno.push(`--allow-run=${options.allowRun.join(",")}`);
  const script = await childScriptPath();
  if (!options.os) return { program: runtime.execPath, args: [...deno, script], env: hostEnv() };
  return inBubblewrap(options.os, [
    { source: runtime.execPath, dest: `${dir}/deno` },
    { source: script, dest: `${dir}/sandbox_child.ts` },
  ], [`${dir}/deno`, ...deno, `${dir}/sandbox_child.ts`]);
}

/** The environment of the child started without the OS sandbox. */
function hostEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ["HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** bubblewrap running `child` under `os.policy`, with the runtime's `files` mounted read-only. */
function inBubblewrap(
  os: NonNullable<SandboxOptions["os"]>,
  files: { source: string; dest: string }[],
  child: string[],
): { program: string; args: string[]; env: Record<string, string> } {
  const dir = SANDBOX_RUNTIME_DIR;
  const policy: SandboxPolicy = {
    ...os.policy,
    files: [...(os.policy.files ?? []), ...files],
    scratch: [...(os.policy.scratch ?? []), `${dir}/cache`],
    env: {
      ...os.policy.env,
      DENO_DIR: `${dir}/cache`,
      DENO_NO_UPDATE_CHECK: "1",
      HOME: "/tmp",
      NO_COLOR: "1",
    },
  };
  return {
    program: os.bwrap,
    args: [...bwrapArgs(policy, os.layout ?? hostLayout()), ...child],
    env: {},
  };
}

/**
 * Runs argv inside the permission-limited Deno child, with no allowlist check of its own: the
 * guards here are Deno's `--allow-run` and, with `options.os`, the OS sandbox around that child.
 * {@link ShellExecutor} checks the allowlist first; tests call this directly to show that Deno
 * (and bubblewrap) refuse what the check would have refused.
 */
export async function runSandboxed(
  req: ExecRequest,
  options: SandboxOptions,
): Promise<SandboxResponse> {
  const env: Record<string, string> = {
    PATH: options.path.join(":"),
    LANG: "C.UTF-8",
    // Inside the OS sandbox there is no home directory: HOME is the private /tmp.
    HOME: options.os ? "/tmp" : req.cwd,
    ...req.env,
  };
  const request: SandboxRequest = {
    argv: req.argv,
    env,
    cwd: req.cwd,
    timeoutMs: req.timeoutMs,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
  };
  const command = await sandboxCommand(options);
  const child = new Deno.Command(command.program, {
    args: command.args,
    clearEnv: true,
    env: command.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request)));
  await writer.close();
  // The child enforces the command's timeout itself; this guard only covers a stuck child. With
  // the OS sandbox, killing bubblewrap ends every process inside it.
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
    if (options.os && err.startsWith("bwrap:")) return sandboxFailure(err);
    throw new Error(`the sandboxed executor failed (exit ${out.code}): ${err}`);
  }
}

/** The response for a command bubblewrap could not start (a path it could not mount, say). */
function sandboxFailure(message: string): SandboxResponse {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: 0,
    stdout: "",
    stderr: "",
    truncated: false,
    outputHash: outputHash("", ""),
    failure: { kind: "sandbox", message: `bubblewrap could not start the sandbox: ${message}` },
  };
}

/** The OS sandbox of a {@link ShellExecutor}. */
export interface OsSandboxOptions {
  /** Path of `bwrap` (see `checkBubblewrap`). */
  bwrap: string;
  /**
   * Files no command may see or write (the Loom databases and their WAL files, the audit key):
   * hidden wherever a mounted path would show them, and no writable path may contain them.
   */
  hidden?: string[];
  /** The host's system directories (default: read from this machine once). */
  layout?: HostLayout;
}

/** Options of {@link ShellExecutor}. */
export interface ShellExecutorOptions {
  /** Output cap per stream (default {@link DEFAULT_MAX_OUTPUT_BYTES}). */
  maxOutputBytes?: number;
  /**
   * Run every command inside bubblewrap. Omitted: commands run in the Deno child alone (what
   * `--no-os-sandbox` asks for); the CLI, the server and the gateway always pass it otherwise.
   */
  osSandbox?: OsSandboxOptions;
  /** How this loom-ops runs: from source or compiled (default: detected, `selfRuntime`). */
  runtime?: SelfRuntime;
}

/** How a command would run: what {@link ShellExecutor.plan} reports without running it. */
export interface CommandPlan {
  /** The allowlist's decision. */
  decision: AllowDecision;
  /** The executable's absolute path, when it was found. */
  executable?: string;
  /** What the OS sandbox lets it touch (with an OS sandbox). */
  policy?: SandboxPolicy;
  /** The process that would be started (bubblewrap or Deno), with its arguments. */
  spawn?: string[];
  /** Why it would be refused after the allowlist (not found, or a path the sandbox cannot grant). */
  refused?: { by: RefusedBy; reason: string };
}

/** Runs allowlisted commands for real, through the permission-limited Deno child. */
export class ShellExecutor implements CommandExecutor {
  /** Always `shell`. */
  readonly kind = "shell" as const;
  readonly #allowlist: Allowlist;
  readonly #dirs: string[];
  readonly #allowRun: string[];
  readonly #maxOutputBytes: number;
  readonly #os?: OsSandboxOptions & { layout: HostLayout };
  readonly #runtime?: SelfRuntime;

  constructor(allowlist: Allowlist, options: ShellExecutorOptions = {}) {
    this.#runtime = options.runtime;
    this.#allowlist = allowlist;
    this.#dirs = [...allowlist.path, ...SYSTEM_PATH];
    this.#allowRun = allowlist.executables()
      .map((e) => resolveExecutable(e, this.#dirs))
      .filter((p): p is string => p !== undefined);
    this.#maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (options.osSandbox) {
      this.#os = { ...options.osSandbox, layout: options.osSandbox.layout ?? hostLayout() };
    }
  }

  /** The absolute paths given to Deno's `--allow-run`. */
  get allowRun(): string[] {
    return [...this.#allowRun];
  }

  /** Whether commands run inside the OS sandbox. */
  get osSandbox(): boolean {
    return this.#os !== undefined;
  }

  /**
   * Checks and resolves one command and works out its sandbox, without running anything.
   * `options.notYet` names writable paths a run creates before its first command (the state
   * directory), which a dry run shows as they will be.
   */
  async plan(req: ExecRequest, options: { notYet?: string[] } = {}): Promise<CommandPlan> {
    const decision = this.#allowlist.check(req.argv);
    if (!decision.allowed) return { decision };
    const executable = resolveExecutable(req.argv[0], this.#dirs);
    if (!executable) {
      const reason = `executable "${baseName(req.argv[0])}" was not found in ${
        this.#dirs.join(":")
      }`;
      return { decision, refused: { by: "spawn", reason } };
    }
    let policy: SandboxPolicy | undefined;
    if (this.#os) {
      const granted = this.#policy(req, options.notYet ?? []);
      if (typeof granted === "string") {
        return { decision, executable, refused: { by: "sandbox", reason: granted } };
      }
      policy = granted;
    }
    const command = await sandboxCommand(this.#options(policy));
    return { decision, executable, policy, spawn: [command.program, ...command.args] };
  }

  /** Checks, resolves and runs one command. */
  async run(req: ExecRequest): Promise<ExecResult> {
    const plan = await this.plan(req);
    if (!plan.decision.allowed) {
      return refusedResult(req.argv, "shell", "loom-ops", plan.decision.reason);
    }
    if (plan.refused) return refusedResult(req.argv, "shell", plan.refused.by, plan.refused.reason);
    const res = await runSandboxed(
      { ...req, argv: [plan.executable!, ...req.argv.slice(1)] },
      this.#options(plan.policy),
    );
    return fromSandbox(req.argv, res);
  }

  #options(policy: SandboxPolicy | undefined): SandboxOptions {
    return {
      allowRun: this.#allowRun,
      path: this.#dirs,
      maxOutputBytes: this.#maxOutputBytes,
      runtime: this.#runtime,
      os: policy && this.#os
        ? { bwrap: this.#os.bwrap, policy, layout: this.#os.layout }
        : undefined,
    };
  }

  /**
   * The OS sandbox policy of one command, or why it cannot be granted: a writable path that does
   * not exist, or that would expose a Loom database or the home directory.
   */
  #policy(req: ExecRequest, notYet: string[]): SandboxPolicy | string {
    const os = this.#os!;
    const access = req.access ?? { writable: [], network: false };
    const hidden = os.hidden ?? [];
    const writable: string[] = [];
    for (const path of access.writable) {
      let real: string;
      try {
        real = Deno.realPathSync(path);
      } catch {
        if (!notYet.includes(path)) {
          return `the writable path ${path} does not exist; create it before the run`;
        }
        real = path;
      }
      const exposed = hidden.find((h) => within(h, real));
      if (exposed) {
        return `the writable path ${path} contains ${exposed}, which no command may write; pick a path without the Loom databases`;
      }
      writable.push(real);
    }
    // Executable directories outside the system ones: the allowlist's `path` and where listed
    // absolute executables live.
    const readOnly = [
      ...this.#allowlist.path,
      ...this.#allowRun.map((p) => p.replace(/\/[^/]*$/, "") || "/"),
    ].filter((p) => !SYSTEM_PATH.includes(p) && isDirectory(p));
    const home = Deno.env.get("HOME");
    if (home && home !== "/") {
      const bad = [req.cwd, ...readOnly, ...writable].find((p) => within(home, p));
      if (bad) {
        return `the sandbox would show ${bad}, which contains the home directory ${home}; use a workspace and paths inside it, not around it`;
      }
    }
    return {
      cwd: req.cwd,
      readOnly,
      writable,
      hidden: hidden.filter(exists),
      network: access.network,
    };
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

const FAILURE_LAYER: Record<"denied" | "spawn" | "sandbox", RefusedBy> = {
  denied: "deno",
  spawn: "spawn",
  sandbox: "sandbox",
};

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
      ? { by: FAILURE_LAYER[res.failure.kind], reason: res.failure.message }
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

/**
 * Refuses every command, because the OS sandbox the run asks for cannot be used on this machine
 * (bubblewrap missing or not working): fail closed, with the reason on each refusal.
 */
export class UnavailableExecutor implements CommandExecutor {
  /** Always `shell`: the run asked for real commands. */
  readonly kind = "shell" as const;
  readonly #allowlist: Allowlist;
  readonly #reason: string;
  constructor(allowlist: Allowlist, reason: string) {
    this.#allowlist = allowlist;
    this.#reason = reason;
  }
  /** Refuses the command (by loom-ops when the allowlist refuses it, else by the sandbox). */
  run(req: ExecRequest): Promise<ExecResult> {
    const decision = this.#allowlist.check(req.argv);
    return Promise.resolve(
      decision.allowed
        ? refusedResult(req.argv, "shell", "sandbox", this.#reason)
        : refusedResult(req.argv, "shell", "loom-ops", decision.reason),
    );
  }
}

/**
 * The command allowlist: argv prefixes. `["kubectl", "get"]` allows `kubectl get pods` but not
 * `kubectl delete pods`. Interpreters given a code flag (`sh -c`, `python -c`, `node -e`, ...) are
 * refused even when listed, because they turn one allowed executable into any program.
 *
 * @module
 */

/** An allowlist as stored in `ops.shell.allowlist.json`. */
export interface AllowlistFile {
  /** Allowed argv prefixes. */
  allow: string[][];
  /** Extra directories (relative to the workspace) searched for executables, before the system ones. */
  path?: string[];
}

/** The outcome of checking one argv. */
export type AllowDecision = { allowed: true } | { allowed: false; reason: string };

const INTERPRETER_CODE_FLAGS: Record<string, string[]> = {
  sh: ["-c"],
  bash: ["-c"],
  dash: ["-c"],
  zsh: ["-c"],
  ksh: ["-c"],
  fish: ["-c", "--command"],
  python: ["-c"],
  python3: ["-c"],
  python2: ["-c"],
  node: ["-e", "--eval", "-p", "--print"],
  deno: ["eval", "-e"],
  bun: ["-e", "--eval"],
  perl: ["-e", "-E"],
  ruby: ["-e"],
  php: ["-r"],
  lua: ["-e"],
  pwsh: ["-c", "-command", "-Command"],
  osascript: ["-e"],
};

// Programs that run their arguments as another command; an interpreter behind them counts too.
const WRAPPERS = new Set(["env", "sudo", "nice", "nohup", "timeout", "xargs", "stdbuf", "exec"]);

/** The executable's base name (`/usr/bin/python3.12` → `python3.12`). */
export function baseName(executable: string): string {
  return executable.replace(/^.*\//, "");
}

function interpreterKey(name: string): string | undefined {
  if (name in INTERPRETER_CODE_FLAGS) return name;
  const m = /^(python[23]?|node|perl|ruby|php|lua)[\d.]*$/.exec(name);
  return m ? m[1] : undefined;
}

/**
 * Whether argv runs an interpreter with inline code (also behind wrappers such as `env`), e.g.
 * `bash -c ...`, `python3 -c ...`, `env node -e ...`, or combined flags like `sh -ec`.
 */
export function inlineCodeReason(argv: string[]): string | undefined {
  // Behind a wrapper (`env X=1 sh -c ...`) the interpreter can sit anywhere, so look at all of it.
  const first = argv.length ? baseName(argv[0]) : "";
  const candidates = WRAPPERS.has(first) ? argv.map((_, i) => i) : [0];
  for (const i of candidates) {
    const name = baseName(argv[i]);
    const key = interpreterKey(name);
    if (!key) continue;
    const flags = INTERPRETER_CODE_FLAGS[key];
    for (const arg of argv.slice(i + 1)) {
      const combined = key !== "deno" && /^-[a-zA-Z]+$/.test(arg) &&
        flags.some((f) => f.length === 2 && arg.includes(f[1]));
      if (flags.includes(arg) || combined) {
        return `${name} ${arg} runs inline code, which is never allowed`;
      }
    }
  }
  return undefined;
}

/** An allowlist of argv prefixes. */
export class Allowlist {
  /** The prefixes. */
  readonly prefixes: string[][];
  /** Extra executable directories (absolute). */
  readonly path: string[];
  /** A second list that must also allow every command (the workspace's, for a runbook's own). */
  readonly ceiling?: Allowlist;
  constructor(prefixes: string[][], path: string[] = [], ceiling?: Allowlist) {
    this.prefixes = prefixes.filter((p) => p.length > 0);
    this.path = path;
    this.ceiling = ceiling;
  }

  /** Parses `ops.shell.allowlist.json` content; throws an Error naming the problem. */
  static fromJson(text: string, workspace: string): Allowlist {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`the allowlist is not valid JSON (${(e as Error).message})`);
    }
    const obj: Partial<AllowlistFile> = Array.isArray(data)
      ? { allow: data }
      : data as Partial<AllowlistFile>;
    const ok = Array.isArray(obj?.allow) &&
      obj.allow.every((p) =>
        Array.isArray(p) && p.length > 0 && p.every((a) => typeof a === "string")
      );
    if (!ok) {
      throw new Error(`the allowlist must be {"allow": [["svcctl", "status"], ...]}`);
    }
    const path = (obj.path ?? []).map((p: string) => p.startsWith("/") ? p : `${workspace}/${p}`);
    return new Allowlist(obj.allow!, path);
  }

  /** Checks one argv: allowed when it starts with a listed prefix and runs no inline code. */
  check(argv: string[]): AllowDecision {
    if (argv.length === 0) return { allowed: false, reason: "the command is empty" };
    const inline = inlineCodeReason(argv);
    if (inline) return { allowed: false, reason: inline };
    const match = this.prefixes.some((p) =>
      p.length <= argv.length && p.every((part, i) => part === argv[i])
    );
    if (!match) {
      return { allowed: false, reason: `\`${argv.join(" ")}\` is not in the allowlist` };
    }
    if (this.ceiling) {
      const outer = this.ceiling.check(argv);
      if (!outer.allowed) {
        return { allowed: false, reason: `${outer.reason} of the workspace` };
      }
    }
    return { allowed: true };
  }

  /** The executables the allowlist names (first element of each prefix), deduplicated. */
  executables(): string[] {
    const own = [...new Set(this.prefixes.map((p) => p[0]))];
    if (!this.ceiling) return own;
    const outer = new Set(this.ceiling.executables());
    return own.filter((e) => outer.has(e));
  }

  /**
   * This allowlist limited by `ceiling`: a command must be allowed by both. Used so a runbook's
   * own allowlist can narrow, never widen, the workspace's.
   */
  within(ceiling: Allowlist): Allowlist {
    return new Allowlist(this.prefixes, ceiling.path, ceiling);
  }

  /** Plain JSON form, stored in a run's state so a resumed run uses the same list. */
  toJSON(): { allow: string[][]; path: string[]; ceiling?: unknown } {
    return { allow: this.prefixes, path: this.path, ceiling: this.ceiling?.toJSON() };
  }

  /** Rebuilds an allowlist from {@link Allowlist.toJSON} output. */
  static fromPlain(data: { allow: string[][]; path?: string[]; ceiling?: unknown }): Allowlist {
    const ceiling = data.ceiling
      ? Allowlist.fromPlain(data.ceiling as { allow: string[][]; path?: string[] })
      : undefined;
    return new Allowlist(data.allow, data.path ?? [], ceiling);
  }
}

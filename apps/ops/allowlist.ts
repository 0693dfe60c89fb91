/**
 * The command allowlist: argv prefixes. `["kubectl", "get"]` allows `kubectl get pods` but not
 * `kubectl delete pods`. Inline code is refused even when the program is listed, because it
 * turns one allowed executable into any program: an interpreter's code flag in every spelling
 * (`sh -c`, `python3 "-cimport os"`, `python3 -I -c`, `perl -E…`, `node --eval=…`), `env -S`,
 * `find -exec`, shell strings (`su -c`, `watch`), inline `awk` programs, and all of these behind
 * any chain of wrappers (`env`, `sudo`, `timeout`, `xargs`, `nice`, `nohup`, `stdbuf`, …).
 *
 * This is the first layer, not the last: it knows spellings, and a program can always have
 * another way to run a command (`git -c core.pager=…`, `tar --to-command=…`). What a started
 * command can touch is decided by the OS sandbox (`sandbox.ts`).
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

/**
 * How an interpreter takes inline code. `short`: one-letter flags whose value is code (also
 * glued, `-cprint(1)`, or inside a cluster, `-Ic`); `long`: long options whose value is code
 * (also as `--eval=…`); `words`: arguments that are code switches as a whole (`deno eval`);
 * `values`: one-letter flags that take a value, so the rest of their cluster is that value
 * (`python3 -Wdefault` is not `-c`); `dataUrls`: `data:` URLs are code.
 */
interface CodeFlags {
  short?: string;
  long?: string[];
  words?: string[];
  values?: string;
  dataUrls?: boolean;
}

const SHELL: CodeFlags = { short: "c" };

const INTERPRETERS: Record<string, CodeFlags> = {
  sh: SHELL,
  bash: SHELL,
  rbash: SHELL,
  dash: SHELL,
  ash: SHELL,
  zsh: SHELL,
  ksh: SHELL,
  mksh: SHELL,
  yash: SHELL,
  csh: SHELL,
  tcsh: SHELL,
  fish: { short: "cC", long: ["--command", "--init-command"] },
  python: { short: "c", values: "WXmQ" },
  pypy: { short: "c", values: "WXmQ" },
  node: {
    short: "ep",
    long: ["--eval", "--print", "--import", "--loader", "--experimental-loader"],
    values: "rC",
    dataUrls: true,
  },
  bun: { short: "ep", long: ["--eval", "--print"], dataUrls: true },
  deno: { words: ["eval", "repl"], long: ["--eval", "--eval-file"], dataUrls: true },
  // perl -M'Mod;code' runs code too.
  perl: { short: "eEMm", values: "IxidDCF" },
  ruby: { short: "e", values: "IrCEFxTWKi" },
  php: { short: "rRBE", values: "dcfzt" },
  lua: { short: "e", values: "l" },
  luajit: { short: "e", values: "lj" },
  julia: { short: "eE", long: ["--eval", "--print"], values: "LJptCO" },
  Rscript: { short: "e" },
  R: { short: "e" },
  osascript: { short: "e" },
  expect: { short: "c" },
  guile: { short: "c" },
};

/** Programs that run their arguments as another command: what follows them is checked too. */
const WRAPPERS = new Set([
  "env",
  "sudo",
  "doas",
  "su",
  "runuser",
  "nice",
  "ionice",
  "nohup",
  "timeout",
  "xargs",
  "stdbuf",
  "exec",
  "command",
  "builtin",
  "setsid",
  "setpriv",
  "chroot",
  "unshare",
  "nsenter",
  "flock",
  "taskset",
  "chrt",
  "prlimit",
  "time",
  "strace",
  "ltrace",
  "valgrind",
  "gdb",
  "numactl",
  "cgexec",
  "faketime",
  "fakeroot",
  "eatmydata",
  "proot",
  "firejail",
  "bwrap",
  "systemd-run",
  "busybox",
  "catchsegv",
  "xvfb-run",
  "dbus-run-session",
  "torsocks",
  "proxychains",
  "proxychains4",
  "unbuffer",
  "rlwrap",
  "sshpass",
  "tini",
  "dumb-init",
  "gosu",
  "su-exec",
  "chpst",
  "setarch",
  "linux32",
  "linux64",
  "capsh",
  "sg",
  "script",
  "watch",
  "parallel",
]);

/**
 * How a program hands a string to a shell: its code flags (like an interpreter's), or `always`
 * (unless one of `unless` is given); with `optionsEnd`, only its own options before the command
 * are looked at, as the program itself does (`valued` are its long options taking a value).
 */
interface ShellString extends CodeFlags {
  always?: boolean;
  unless?: string[];
  optionsEnd?: boolean;
  valued?: string[];
}

/**
 * Programs that hand a string to a shell: with an option (`su -c 'cmd'`, `su -lc`, `flock f -c`,
 * `sudo -s cmd`, `capsh -- -c`), or with all their arguments (`watch cmd` unless `-x`,
 * `sg group cmd`, `parallel`). Options are matched like interpreters' code flags.
 */
const SHELL_STRING: Record<string, ShellString> = {
  su: { short: "c", long: ["--command", "--session-command"] },
  runuser: { short: "c", long: ["--command", "--session-command"] },
  flock: { short: "c", long: ["--command"] },
  script: { short: "c", long: ["--command"] },
  sudo: {
    short: "si",
    long: ["--shell", "--login"],
    values: "ugCDhprtUTR",
    optionsEnd: true,
    valued: [
      "--user",
      "--group",
      "--close-from",
      "--chdir",
      "--host",
      "--prompt",
      "--role",
      "--type",
      "--other-user",
      "--command-timeout",
      "--chroot",
    ],
  },
  capsh: { long: ["--"] },
  watch: { always: true, unless: ["-x", "--exec"] },
  sg: { always: true },
  parallel: { always: true },
};

/** `find` actions that start another program, which the allowlist cannot check. */
const FIND_EXEC = ["-exec", "-execdir", "-ok", "-okdir"];

/** The awk family: its first operand is a program, unless one is read with `-f`. */
const AWKS = new Set(["awk", "gawk", "mawk", "nawk", "original-awk", "busybox-awk"]);

/** The executable's base name (`/usr/bin/python3.12` → `python3.12`). */
export function baseName(executable: string): string {
  return executable.replace(/^.*\//, "");
}

/** The interpreter table key of a program name (`python3.12` → `python`, `perl5.36` → `perl`). */
function interpreterKey(name: string): string | undefined {
  if (Object.hasOwn(INTERPRETERS, name)) return name;
  if (name === "nodejs") return "node";
  if (name === "pwsh" || name === "powershell") return "pwsh";
  const m = /^(python|pypy|perl|ruby|php|lua|luajit|node|tclsh|bash|zsh|ksh)[\d.]*$/.exec(name);
  return m && Object.hasOwn(INTERPRETERS, m[1]) ? m[1] : undefined;
}

/** The code flag `arg` is for interpreter `spec`, if it is one (in any of its spellings). */
function codeFlag(arg: string, spec: CodeFlags): string | undefined {
  if (spec.words?.includes(arg)) return arg;
  if (spec.dataUrls && /(^|=)data:/i.test(arg)) return arg.slice(0, 40);
  for (const long of spec.long ?? []) {
    if (arg === long || arg.startsWith(`${long}=`)) return long;
  }
  // A short-flag cluster: `-c`, `-cCODE` (glued), `-Ic` (after other flags).
  if (spec.short && /^-[^-]/.test(arg)) {
    for (const ch of arg.slice(1)) {
      if (spec.short.includes(ch)) return `-${ch}`;
      if (spec.values?.includes(ch)) return undefined; // the rest of the cluster is its value
    }
  }
  return undefined;
}

/** PowerShell's code switches: any prefix of -Command, -EncodedCommand, -CommandWithArgs. */
function powershellCodeFlag(arg: string): string | undefined {
  const m = /^[-/]([A-Za-z]+)/.exec(arg);
  if (!m) return undefined;
  const word = m[1].toLowerCase();
  const switches = ["command", "encodedcommand", "commandwithargs", "ec", "cwa"];
  return switches.some((s) => s.startsWith(word)) ? arg.split(":")[0] : undefined;
}

/** One way a program runs inline code: the reason, given its name and arguments, or undefined. */
type Check = (name: string, args: string[]) => string | undefined;

/** An interpreter's code flag, in any spelling, anywhere among its arguments. */
const interpreterCheck: Check = (name, args) => {
  const key = interpreterKey(name);
  if (!key) return undefined;
  const flag = args.map((a) =>
    key === "pwsh" ? powershellCodeFlag(a) : codeFlag(a, INTERPRETERS[key])
  ).find((f) => f !== undefined);
  return flag ? `${name} ${flag} runs inline code, which is never allowed` : undefined;
};

/**
 * The options of a program that stops reading options at its command (`env`, `sudo`): the
 * arguments before the first one that is not an option, without the values of `valued` long
 * options and of clusters ending in a `values` letter (`-u NAME`).
 */
function leadingOptions(args: string[], values: string, valued: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--" || !a.startsWith("-") || a === "-") break;
    out.push(a);
    const short = /^-[^-]/.test(a) ? [...a.slice(1)].findIndex((c) => values.includes(c)) : -1;
    if (valued.includes(a) || (short >= 0 && short === a.length - 2)) i++;
  }
  return out;
}

/** `env -S 'sh -c …'` / `--split-string=…` (also glued, `-Ssh`, or in a cluster, `-iS`). */
const envSplitCheck: Check = (name, args) => {
  if (name !== "env") return undefined;
  const options = leadingOptions(args, "uC", ["--unset", "--chdir"]);
  const split = options.find((a) =>
    a === "--split-string" || a.startsWith("--split-string=") ||
    (/^-[^-]/.test(a) && /^-[^uC]*S/.test(a))
  );
  return split === undefined
    ? undefined
    : `env ${split.slice(0, 16)} splits a string into a command line, which is never allowed`;
};

/** `find -exec`, `-execdir`, `-ok`, `-okdir`: any program, unseen by the allowlist. */
const findExecCheck: Check = (name, args) => {
  const exec = name === "find" ? args.find((a) => FIND_EXEC.includes(a)) : undefined;
  return exec
    ? `find ${exec} starts another program, which the allowlist cannot check; list that program instead`
    : undefined;
};

/** An awk program given inline (not read with `-f FILE`). */
const awkCheck: Check = (name, args) => {
  if (!AWKS.has(name)) return undefined;
  const inline = args.find((a) => a === "-e" || a === "--source" || a.startsWith("--source="));
  const fromFile = args.some((a) => /^-f/.test(a) || a === "--file" || a.startsWith("--file="));
  return inline || !fromFile
    ? `${name} ${inline ?? "PROGRAM"} runs an inline program, which is never allowed; use -f FILE`
    : undefined;
};

/** A command line handed to a shell (`su -c`, `sudo -s`, `watch cmd`, …). */
const shellStringCheck: Check = (name, args) => {
  const shell = Object.hasOwn(SHELL_STRING, name) ? SHELL_STRING[name] : undefined;
  if (!shell) return undefined;
  const own = shell.optionsEnd
    ? leadingOptions(args, shell.values ?? "", shell.valued ?? [])
    : args;
  const flag = own.map((a) => codeFlag(a, shell)).find((f) => f !== undefined);
  const exempt = shell.unless?.some((u) => args.includes(u));
  if (!flag && !(shell.always && !exempt && args.length)) return undefined;
  return `${name}${flag ? ` ${flag}` : ""} hands a command line to a shell, which is never allowed`;
};

const CHECKS: Check[] = [
  interpreterCheck,
  envSplitCheck,
  findExecCheck,
  awkCheck,
  shellStringCheck,
];

/**
 * Whether argv runs inline code: an interpreter given code (`bash -c …`, `python3 "-cimport os"`,
 * `python3 -I -c …`, `perl "-e…"`, `node --eval=…`), a string split into a command line
 * (`env -S`), a program starting programs the allowlist cannot see (`find -exec`), a shell
 * string (`su -c`, `watch`), an inline `awk` program; also behind any chain of wrappers
 * (`timeout 5 env -S …`, `xargs perl -e …`, `sudo -u x sh -c …`). Every argument is looked at,
 * not only the options before a script: a false refusal is better than a missed one.
 *
 * @returns A one-sentence reason, or undefined when argv runs no inline code.
 */
export function inlineCodeReason(argv: string[]): string | undefined {
  // From the end: what argv[i..] runs as a command of its own. Behind a wrapper the wrapped
  // command may start at any later argument, so a reason found anywhere after it counts.
  let behind: string | undefined;
  for (let i = argv.length - 1; i >= 0; i--) {
    const name = baseName(argv[i]);
    const args = argv.slice(i + 1);
    const own = CHECKS.map((check) => check(name, args)).find((r) => r !== undefined);
    const here = own ?? (WRAPPERS.has(name) ? behind : undefined);
    if (i === 0) return here;
    behind = here ?? behind;
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

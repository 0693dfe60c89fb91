/**
 * The OS sandbox around every command run with `--allow-shell`: a bubblewrap (`bwrap`) argv
 * built from a {@link SandboxPolicy}. The allowlist decides which argv may start; the sandbox
 * decides what it can touch once started: system directories read-only, a private `/tmp`, no
 * home directory and no Loom database, writable only the step's state directory and the paths
 * the runbook declares, no network unless declared, a clean environment, no capabilities and no
 * new privileges, and its own PID namespace, so that when the command's process ends (or is
 * killed on timeout) the kernel kills everything it left behind.
 *
 * {@link bwrapArgs} is a pure function of the policy and the {@link HostLayout}, so tests check
 * the argv without running it; {@link hostLayout} and {@link checkBubblewrap} read the machine.
 * Linux only (bubblewrap needs Linux namespaces).
 *
 * @module
 */

/** What one sandboxed command may touch. */
export interface SandboxPolicy {
  /** Working directory of the command (visible read-only unless a writable path covers it). */
  cwd: string;
  /** Extra paths visible read-only (the workspace, the allowlist's executable directories). */
  readOnly: string[];
  /** Paths visible read-write (the step's state directory and its declared `writes`). */
  writable: string[];
  /** Files replaced by an unreadable empty file wherever a bound path would show them. */
  hidden: string[];
  /** Whether the command shares the host's network; otherwise it only has its own loopback. */
  network: boolean;
  /** Files visible read-only at another path inside (the Deno runtime that runs the command). */
  files?: { source: string; dest: string }[];
  /** Private, empty, writable directories besides `/tmp` (a cache of that runtime). */
  scratch?: string[];
  /** The complete environment of the sandboxed process. */
  env?: Record<string, string>;
}

/** The parts of the host's file system that every sandbox shows (see {@link hostLayout}). */
export interface HostLayout {
  /** System directories, bound read-only; a symlink (merged `/usr`) is recreated as one. */
  system: { path: string; symlink?: string }[];
  /** Secret system files that exist (shadow passwords, SSH host keys): hidden inside. */
  secrets: string[];
  /** With network on: the real file behind `/etc/resolv.conf` when it lies outside `/etc`. */
  resolvConf?: string;
}

/** Directories every sandbox sees read-only (when they exist). */
export const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

/** Secret files under `/etc` hidden from every sandbox (when they exist). */
export const SECRET_FILES = [
  "/etc/shadow",
  "/etc/shadow-",
  "/etc/gshadow",
  "/etc/gshadow-",
  "/etc/sudoers",
  "/etc/security/opasswd",
];

/** The sentence that says how to get bubblewrap. */
export const INSTALL_HINT =
  "install it (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)";

/** Bubblewrap is missing or cannot create a sandbox on this machine. */
export class OsSandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OsSandboxUnavailableError";
  }
}

/**
 * The bubblewrap options that run a command under `policy` (everything before the command,
 * ending with `--`). Pure: the same policy and layout always give the same argv.
 *
 * @param policy What the command may touch.
 * @param layout The host's system directories and secret files ({@link hostLayout}).
 * @returns The options to pass to `bwrap`, followed by the command's own argv.
 */
export function bwrapArgs(policy: SandboxPolicy, layout: HostLayout): string[] {
  const args = [
    "--die-with-parent", // the sandbox ends when loom-ops does
    "--new-session", // no controlling terminal to inject keystrokes into
    "--unshare-pid", // its own PID namespace, and the command's runtime is its PID 1: when that
    "--as-pid-1", // exits, the kernel kills everything left inside before bwrap returns
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(policy.network ? [] : ["--unshare-net"]), // only its own loopback
    "--cap-drop",
    "ALL", // bwrap also sets no_new_privs: setuid programs gain nothing
    "--clearenv",
  ];
  for (const [k, v] of Object.entries(policy.env ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    args.push("--setenv", k, v);
  }
  for (const dir of layout.system) {
    if (dir.symlink !== undefined) args.push("--symlink", dir.symlink, dir.path);
    else args.push("--ro-bind", dir.path, dir.path);
  }
  if (policy.network && layout.resolvConf) {
    args.push("--ro-bind", layout.resolvConf, layout.resolvConf);
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  for (const dir of policy.scratch ?? []) args.push("--tmpfs", dir);
  const visible = mounts(policy, layout);
  for (const m of visible) args.push(m.writable ? "--bind" : "--ro-bind", m.path, m.path);
  for (const f of policy.files ?? []) args.push("--ro-bind", f.source, f.dest);
  const roots = [
    ...layout.system.filter((d) => !d.symlink).map((d) => d.path),
    ...visible.map((m) => m.path),
  ];
  const hide = [...layout.secrets, ...policy.hidden].filter((f) => roots.some((r) => within(f, r)));
  for (const f of [...new Set(hide)].sort()) args.push("--ro-bind", "/dev/null", f);
  args.push("--remount-ro", "/", "--chdir", policy.cwd, "--");
  return args;
}

/**
 * The paths bound into the sandbox besides the system directories, parents before children (so
 * a writable state directory inside a read-only workspace stays writable), each once, and none
 * that a system directory already shows read-only.
 */
function mounts(policy: SandboxPolicy, layout: HostLayout): { path: string; writable: boolean }[] {
  const writable = new Set(policy.writable.map(clean));
  const system = layout.system.filter((d) => !d.symlink).map((d) => d.path);
  const readOnly = [policy.cwd, ...policy.readOnly].map(clean)
    .filter((p) => !writable.has(p) && !system.some((s) => within(p, s)));
  const all = [
    ...[...new Set(readOnly)].map((path) => ({ path, writable: false })),
    ...[...writable].map((path) => ({ path, writable: true })),
  ];
  return all.sort((a, b) => depth(a.path) - depth(b.path) || a.path.localeCompare(b.path));
}

function clean(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

function depth(path: string): number {
  return path.split("/").filter(Boolean).length;
}

/** Whether `path` is `root` or lies below it. */
export function within(path: string, root: string): boolean {
  const r = clean(root);
  return path === r || path.startsWith(r === "/" ? "/" : `${r}/`);
}

/** Reads the host's layout: which system directories exist (and which are symlinks), and its secrets. */
export function hostLayout(): HostLayout {
  const system: HostLayout["system"] = [];
  for (const path of SYSTEM_DIRS) {
    try {
      const info = Deno.lstatSync(path);
      if (info.isSymlink) system.push({ path, symlink: Deno.readLinkSync(path) });
      else if (info.isDirectory) system.push({ path });
    } catch { /* not on this machine */ }
  }
  const secrets = SECRET_FILES.filter(exists);
  try {
    for (const e of Deno.readDirSync("/etc/ssh")) {
      if (/^ssh_host_.*_key$/.test(e.name)) secrets.push(`/etc/ssh/${e.name}`);
    }
  } catch { /* no SSH server */ }
  let resolvConf: string | undefined;
  try {
    const real = Deno.realPathSync("/etc/resolv.conf");
    if (!within(real, "/etc") && !within(real, "/usr")) resolvConf = real;
  } catch { /* none */ }
  return { system, secrets, resolvConf };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Environment variable naming the `bwrap` to use instead of the system one. */
export const BWRAP_ENV = "LOOM_OPS_BWRAP";

/**
 * Where bubblewrap is: `$LOOM_OPS_BWRAP` when set, else `bwrap` in the system directories (never
 * from `PATH`, which a user's directories could shadow); undefined when it is not installed.
 */
export function findBubblewrap(): string | undefined {
  const given = Deno.env.get(BWRAP_ENV);
  const candidates = given ? [given] : ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"];
  for (const path of candidates) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

const checked = new Map<string, string | undefined>();

/**
 * Checks once per process that bubblewrap is installed and can create a sandbox here (user
 * namespaces may be disabled, or a container may forbid them).
 *
 * @returns The path of `bwrap`.
 * @throws {OsSandboxUnavailableError} With one sentence saying what is wrong and how to fix it.
 */
export function checkBubblewrap(): string {
  const bwrap = findBubblewrap();
  if (!bwrap) {
    throw new OsSandboxUnavailableError(
      `--allow-shell runs every command inside the bubblewrap OS sandbox, which is not installed: ${INSTALL_HINT}, or pass --no-os-sandbox to run commands without it (recorded in the audit)`,
    );
  }
  if (!checked.has(bwrap)) {
    let problem: string | undefined;
    try {
      const out = new Deno.Command(bwrap, {
        args: ["--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "--", "/bin/true"],
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).outputSync();
      if (!out.success) problem = new TextDecoder().decode(out.stderr).trim().split("\n").pop();
    } catch (e) {
      problem = (e as Error).message;
    }
    checked.set(bwrap, problem);
  }
  const problem = checked.get(bwrap);
  if (problem !== undefined) {
    throw new OsSandboxUnavailableError(
      `--allow-shell needs the bubblewrap OS sandbox, but ${bwrap} cannot create one here (${problem}); allow unprivileged user namespaces, or pass --no-os-sandbox to run commands without it (recorded in the audit)`,
    );
  }
  return bwrap;
}

/**
 * A short human description of a policy, one line per kind of access (for `--dry-run`); the
 * hidden files listed are those a mounted path would otherwise show.
 */
export function describePolicy(policy: SandboxPolicy): string[] {
  const list = (paths: string[]) => paths.length ? paths.join(", ") : "nothing";
  const mounted = [policy.cwd, ...policy.readOnly, ...policy.writable];
  const masked = policy.hidden.filter((f) => mounted.some((m) => within(f, m)));
  return [
    `read-only: system directories, ${list([...new Set([policy.cwd, ...policy.readOnly])])}`,
    `writable:  ${list(policy.writable)} (and a private /tmp)`,
    `network:   ${policy.network ? "shared with the host" : "none (own loopback only)"}`,
    ...(masked.length ? [`hidden:    ${list(masked)}`] : []),
  ];
}

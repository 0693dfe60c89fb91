/**
 * The sandboxed half of the shell executor. It is started as
 * `deno run --no-prompt --allow-run=<allowlisted executables> sandbox_child.ts` (never `-A`), or,
 * in a compiled loom-ops, as `loom-ops __sandbox-child` (see `compiled.ts`); it reads
 * one JSON request on stdin, runs that argv with a clean environment, a timeout and capped
 * output, and prints one JSON result. Because Deno itself limits which executables this process
 * may start, a bug in loom-ops' own allowlist check cannot widen what runs. With the OS sandbox
 * it runs inside bubblewrap as PID 1 of its own PID namespace (`sandbox.ts`): when it exits, the
 * kernel ends every process the command left behind.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** What the parent asks the child to run. */
export interface SandboxRequest {
  /** argv; argv[0] is an absolute path. */
  argv: string[];
  /** The complete environment of the command. */
  env: Record<string, string>;
  /** Working directory. */
  cwd: string;
  /** Kill the command after this many ms. */
  timeoutMs: number;
  /** Keep at most this many bytes of each of stdout and stderr. */
  maxOutputBytes: number;
}

/** What the child reports. */
export interface SandboxResponse {
  /** Exit code, or null when the command was killed or never started. */
  exitCode: number | null;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** Whether the timeout killed it. */
  timedOut: boolean;
  /** Wall-clock duration in ms. */
  durationMs: number;
  /** Captured stdout (capped). */
  stdout: string;
  /** Captured stderr (capped). */
  stderr: string;
  /** Whether either stream was cut at the cap. */
  truncated: boolean;
  /** sha256 (hex) of the full-stdout and full-stderr sha256 digests (output beyond the cap included). */
  outputHash: string;
  /**
   * Set when the command could not start: `denied` (Deno permission), `spawn`, or `sandbox`
   * (reported by the parent when bubblewrap could not set the sandbox up).
   */
  failure?: { kind: "denied" | "spawn" | "sandbox"; message: string };
}

/** How long output is still read after the command exited (a leftover process may hold the pipe). */
const PIPE_GRACE_MS = 1000;

async function drain(
  stream: ReadableStream<Uint8Array>,
  cap: number,
  hash: ReturnType<typeof createHash>,
  stop: AbortSignal,
): Promise<{ text: string; truncated: boolean }> {
  const kept: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const reader = stream.getReader();
  const onStop = () => {
    truncated = true;
    reader.cancel().catch(() => {});
  };
  stop.addEventListener("abort", onStop, { once: true });
  try {
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      hash.update(chunk);
      if (size < cap) {
        const part = chunk.subarray(0, cap - size);
        kept.push(part);
        size += part.length;
        if (part.length < chunk.length) truncated = true;
      } else truncated = true;
    }
  } catch {
    truncated = true;
  } finally {
    stop.removeEventListener("abort", onStop);
  }
  const all = new Uint8Array(size);
  let o = 0;
  for (const k of kept) {
    all.set(k, o);
    o += k.length;
  }
  return { text: new TextDecoder().decode(all), truncated };
}

/** Runs one request; exported for the executor's tests of the response shape. */
export async function runRequest(req: SandboxRequest): Promise<SandboxResponse> {
  const started = performance.now();
  const emptyDigest = createHash("sha256").update("").digest("hex");
  const empty = createHash("sha256").update(emptyDigest).update(emptyDigest).digest("hex");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(req.argv[0], {
      args: req.argv.slice(1),
      env: req.env,
      clearEnv: true,
      cwd: req.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    const denied = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      durationMs: Math.round(performance.now() - started),
      stdout: "",
      stderr: "",
      truncated: false,
      outputHash: empty,
      failure: { kind: denied ? "denied" : "spawn", message: (e as Error).message },
    };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, req.timeoutMs);
  const outHash = createHash("sha256");
  const errHash = createHash("sha256");
  const stopReading = new AbortController();
  const streams = Promise.all([
    drain(child.stdout, req.maxOutputBytes, outHash, stopReading.signal),
    drain(child.stderr, req.maxOutputBytes, errHash, stopReading.signal),
  ]);
  const status = await child.status;
  clearTimeout(timer);
  // A process the command left in the background can keep the pipes open: read what is there,
  // then stop instead of hanging past the timeout.
  const grace = setTimeout(() => stopReading.abort(), PIPE_GRACE_MS);
  const [out, err] = await streams;
  clearTimeout(grace);
  return {
    exitCode: status.signal ? null : status.code,
    signal: status.signal ?? null,
    timedOut,
    durationMs: Math.round(performance.now() - started),
    stdout: out.text,
    stderr: err.text,
    truncated: out.truncated || err.truncated,
    outputHash: createHash("sha256").update(outHash.digest("hex")).update(errHash.digest("hex"))
      .digest("hex"),
  };
}

/** Every permission but `run`, which the child drops before it reads its request. */
const DROPPED: Deno.PermissionName[] = ["read", "write", "net", "env", "sys", "ffi"];

/**
 * Gives up every permission but `run`. Started by `deno run` the child holds nothing else
 * anyway; a compiled loom-ops starts itself as the child and would otherwise keep everything
 * baked into the binary (read, write, net, env), so the child keeps only the baked
 * `--allow-run`.
 */
export function narrowPermissions(): void {
  for (const name of DROPPED) {
    try {
      Deno.permissions.revokeSync({ name } as Deno.PermissionDescriptor);
    } catch { /* not known to this Deno: nothing to drop */ }
  }
}

/**
 * The child's whole life: drop every permission but `run`, read one JSON request on stdin, run
 * it, print one JSON result. `sandbox_child.ts` does this when it is the main module; a compiled
 * loom-ops does it for its hidden command `__sandbox-child` (`main.ts`).
 */
export async function childMain(): Promise<void> {
  narrowPermissions();
  const input = await new Response(Deno.stdin.readable).text();
  const response = await runRequest(JSON.parse(input) as SandboxRequest);
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(response)));
}

if (import.meta.main) await childMain();

/**
 * Errors: the user-facing `RunnerError`, the categorised `LoomError` that steps and tools throw,
 * and the classifier that maps any thrown value to an error category.
 *
 * @module
 */

/** Why an attempt failed. Only `transient` is retried by default. */
export type ErrorCategory = "transient" | "validation" | "business" | "permission" | "unknown";

/** All categories, for validation of stored and user-given values. */
export const ERROR_CATEGORIES: readonly ErrorCategory[] = [
  "transient",
  "validation",
  "business",
  "permission",
  "unknown",
];

/**
 * An error a user can cause (unknown run, wrong file, bad flag, refused resume...). Its message is
 * one sentence meant for a person; CLIs print it as `error: <message>` without a stack trace.
 */
export class RunnerError extends Error {
  /** Exit code a CLI should use: 2 for usage/input errors, 1 for a failed run. */
  readonly exitCode: number;
  /** Creates the error. */
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "RunnerError";
    this.exitCode = options.exitCode ?? 2;
  }
}

/**
 * A database file the user may read but not write (the file, its directory or the file system
 * is read-only). Inspection can still open it read-only (`openStore(path, { readOnly: true })`).
 */
export class ReadOnlyDatabaseError extends RunnerError {
  /** Creates the error for the database at `location`. */
  constructor(location: string, options: { cause?: unknown } = {}) {
    super(
      `database ${location} is read-only for this user (the file or its directory is not writable); this command writes to it, so give it write access or use a writable copy (inspection commands can read it as it is)`,
      options,
    );
    this.name = "ReadOnlyDatabaseError";
  }
}

/**
 * A database file whose pages failed SQLite's `quick_check` when opened for writing: nothing was
 * written to it. What is intact can still be inspected; restore it from a backup or recover it
 * with `sqlite3 FILE .recover`.
 */
export class CorruptDatabaseError extends RunnerError {
  /** Creates the error; `detail` is the first problem SQLite reported. */
  constructor(location: string, detail: string, options: { cause?: unknown } = {}) {
    super(
      `database ${location} is corrupt (SQLite quick_check: ${detail}); nothing was written to it: restore it from a backup or recover it with \`sqlite3 ${location} .recover\` (inspection commands can still read what is intact)`,
      options,
    );
    this.name = "CorruptDatabaseError";
  }
}

/**
 * A run whose lease another process holds: refused, since two processes must never advance one
 * run. When the holder's liveness could not be checked (`unchecked`: no permission to the owner
 * lock directory, an owner without a lock, another host), the message says why and which flag
 * would let the check be made; the lease is then kept until it expires.
 */
export class LeaseHeldError extends RunnerError {
  /** The lease owner id (`host:pid:token`). */
  readonly owner: string;
  /** When the lease expires (ms since epoch) unless renewed. */
  readonly expires: number;
  /** Why the owner's liveness could not be checked, or undefined when it was seen alive. */
  readonly unchecked: string | undefined;
  /** Creates the error for run `runId`. */
  constructor(runId: string, lease: { owner: string; expires: number; unchecked?: string }) {
    const seconds = Math.max(0, Math.ceil((lease.expires - Date.now()) / 1000));
    const held =
      `run ${runId} is being advanced by another process (lease owner ${lease.owner}, expires in ${seconds} s)`;
    super(
      lease.unchecked === undefined
        ? held
        : `${held}, or was until it died: whether it is alive cannot be checked because ${lease.unchecked}, so the lease is kept until it expires`,
    );
    this.name = "LeaseHeldError";
    this.owner = lease.owner;
    this.expires = lease.expires;
    this.unchecked = lease.unchecked;
  }
}

/**
 * An error with a category, thrown by step or tool code to steer retries:
 * `throw new LoomError("rate limited", { category: "transient" })`.
 */
export class LoomError extends Error {
  /** Why it failed. */
  readonly category: ErrorCategory;
  /** Creates the error. */
  constructor(message: string, options: { category?: ErrorCategory; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "LoomError";
    this.category = options.category ?? "unknown";
  }
}

/** Thrown when a value that must be stored is not plain JSON; names the path inside the value. */
export class NotSerializableError extends LoomError {
  /** Path of the offending value, e.g. `state.items[2].when`. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string, what: string) {
    super(
      `${path} is ${what}, which cannot be stored as JSON (use plain data, or the agent's encode/decode hooks)`,
      { category: "validation" },
    );
    this.name = "NotSerializableError";
    this.path = path;
  }
}

/** Thrown by `ctx.callTool` when a tool attempt exceeds its `timeoutMs`. Transient. */
export class ToolTimeoutError extends LoomError {
  /** Creates the error. */
  constructor(name: string, ms: number) {
    super(`tool ${name} timed out after ${ms} ms`, { category: "transient" });
    this.name = "ToolTimeoutError";
  }
}

const TRANSIENT_DENO_ERRORS = [
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "AddrNotAvailable",
  "BrokenPipe",
  "TimedOut",
  "Interrupted",
  "WouldBlock",
];

/**
 * Maps a thrown value to a category. Order: the policy's own `classify`, an explicit `category`
 * property (`LoomError` or any error carrying one), HTTP-like `status` codes, then built-in error
 * types (network and timeout errors are transient, permission errors are `permission`).
 */
export function classifyError(
  error: unknown,
  classify?: (e: unknown) => ErrorCategory | undefined,
): ErrorCategory {
  const own = classify?.(error);
  if (own && ERROR_CATEGORIES.includes(own)) return own;
  if (typeof error === "object" && error !== null) {
    const cat = (error as { category?: unknown }).category;
    if (typeof cat === "string" && ERROR_CATEGORIES.includes(cat as ErrorCategory)) {
      return cat as ErrorCategory;
    }
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number") {
      if (status === 408 || status === 429 || status >= 500) return "transient";
      if (status === 401 || status === 403) return "permission";
      if (status === 400 || status === 409 || status === 422) return "validation";
    }
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string") {
      if (name === "TimeoutError" || TRANSIENT_DENO_ERRORS.includes(name)) return "transient";
      if (name === "PermissionDenied" || name === "NotCapable") return "permission";
    }
    // fetch() reports network failures as a TypeError whose message says so.
    if (error instanceof TypeError && /fetch|network|connect/i.test(error.message)) {
      return "transient";
    }
  }
  return "unknown";
}

/** A thrown value as a one-line message. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  try {
    return typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** A thrown value's type name, for records. */
export function errorType(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor?.name || "Error";
  return typeof error;
}

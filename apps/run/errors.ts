/**
 * Errors a user of `loom-run` can cause, with the exit code the CLI ends with.
 *
 * @module
 */

/** A usage or input error: bad flag, missing file, path outside the workspace. Exit code 2. */
export class UsageError extends Error {
  /** Exit code the CLI uses for this error. */
  readonly exitCode = 2;
  /** @param message one clear sentence. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The message of any thrown value, without a stack. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

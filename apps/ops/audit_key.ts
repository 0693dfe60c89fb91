/**
 * The audit key: 32 random bytes kept in a file outside both databases (by default
 * `$XDG_CONFIG_HOME/loom-ops/audit.key`, else `~/.config/loom-ops/audit.key`; `--audit-key` or
 * `LOOM_OPS_AUDIT_KEY` name another), created with mode 0600 on first use. Every audit entry's
 * hash is an HMAC-SHA256 (WebCrypto) under this key, so whoever can edit the audit file but not
 * read the key cannot write entries that verify.
 *
 * @module
 */

/** Environment variable naming the audit key file. */
export const AUDIT_KEY_ENV = "LOOM_OPS_AUDIT_KEY";

/** A loaded audit key. */
export interface AuditKey {
  /** The key file. */
  path: string;
  /** A public fingerprint of the key (HMAC of a fixed label), stored with the entries it signs. */
  id: string;
  /** HMAC-SHA256 of `data` under the key, as hex. */
  sign(data: string): Promise<string>;
}

/** The key file is missing (when it may not be created), unreadable, malformed or too open. */
export class AuditKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuditKeyError";
  }
}

/** The default key path: `$XDG_CONFIG_HOME/loom-ops/audit.key`, else `$HOME/.config/...`. */
export function defaultAuditKeyPath(): string {
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/loom-ops/audit.key`;
  if (home) return `${home}/.config/loom-ops/audit.key`;
  throw new AuditKeyError(
    `neither XDG_CONFIG_HOME nor HOME is set: name the audit key file with --audit-key or ${AUDIT_KEY_ENV}`,
  );
}

/** The key path from a flag, else `LOOM_OPS_AUDIT_KEY`, else {@link defaultAuditKeyPath}. */
export function auditKeyPath(flag?: string): string {
  return flag || Deno.env.get(AUDIT_KEY_ENV) || defaultAuditKeyPath();
}

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Loads the key at `path`; with `create`, makes a new one (mode 0600, in a directory created
 * with mode 0700) when there is none.
 *
 * @returns The key, or undefined when it does not exist and `create` is false.
 * @throws {AuditKeyError} When the file is readable by others, malformed or unreadable.
 */
export async function loadAuditKey(
  path: string,
  options: { create: boolean },
): Promise<AuditKey | undefined> {
  let text = readKeyFile(path);
  if (text === undefined) {
    if (!options.create) return undefined;
    text = createKeyFile(path);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new AuditKeyError(`the audit key ${path} is not 64 hex digits; restore the right file`);
  }
  const raw = new Uint8Array(text.match(/../g)!.map((b) => parseInt(b, 16)));
  const key = await crypto.subtle.importKey(
    "raw",
    raw,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sign = async (data: string) =>
    hex(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
  return { path, id: (await sign("loom-ops audit key id")).slice(0, 16), sign };
}

/** The key file's text, or undefined when there is none; refuses a file others can read. */
function readKeyFile(path: string): string | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new AuditKeyError(`cannot read the audit key ${path} (${(e as Error).message})`);
  }
  const mode = (info.mode ?? 0) & 0o777;
  if (Deno.build.os !== "windows" && (mode & 0o077) !== 0) {
    throw new AuditKeyError(
      `the audit key ${path} can be read by other users (mode ${
        mode.toString(8)
      }); run chmod 600 ${path}`,
    );
  }
  try {
    return Deno.readTextFileSync(path).trim();
  } catch (e) {
    throw new AuditKeyError(`cannot read the audit key ${path} (${(e as Error).message})`);
  }
}

/**
 * Writes a new random key, atomically: it is written to a private temporary file and linked to
 * `path` only when complete, never over an existing key (a concurrent creator's key wins).
 */
function createKeyFile(path: string): string {
  const dir = path.includes("/") ? path.replace(/\/[^/]*$/, "") || "/" : ".";
  let temp: string | undefined;
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const text = hex(crypto.getRandomValues(new Uint8Array(32)));
    temp = Deno.makeTempFileSync({ dir, prefix: ".audit-key-" });
    Deno.chmodSync(temp, 0o600);
    Deno.writeTextFileSync(temp, `${text}\n`);
    Deno.linkSync(temp, path);
    return text;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return readKeyFile(path)!;
    throw new AuditKeyError(`cannot create the audit key ${path} (${(e as Error).message})`);
  } finally {
    if (temp) Deno.removeSync(temp);
  }
}

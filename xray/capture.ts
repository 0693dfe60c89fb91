/**
 * Safe value capture: turns any value into plain JSON data that is small, acyclic and free of
 * secrets, so recording can never crash a program, blow up a trace file or leak a key.
 *
 * - size: the JSON form is capped at `maxBytes` (UTF-8); what is cut off leaves a visible
 *   `[truncated ...]` marker saying how much was dropped;
 * - shapes JSON cannot hold are rendered: cycles as `"[Circular]"`, `undefined` as
 *   `"[undefined]"`, functions as `"[Function name]"`, `bigint` as `"12n"`, `NaN`/`Infinity` as
 *   strings, `Map`/`Set` as `{"[Map]": [[k, v], ...]}`/`{"[Set]": [...]}`, errors as
 *   `{type, message, stack}`, dates as ISO strings, binary data as `"[Uint8Array 12 bytes]"`;
 *   a getter that throws becomes `"[Throws: message]"`;
 * - secrets: values under keys that look like secrets (`api_key`, `apiKey`, `token`, `password`,
 *   `authorization`, `secret`, `cookie`, ...; case- and separator-insensitive) become
 *   `"[REDACTED]"`, and `Bearer ...`/`sk-...`/`ghp_...` credentials inside strings are masked.
 *   A `redact` hook sees every value too.
 *
 * @module
 */

import type { SpanError } from "./model.ts";

/** What redacted values are replaced with. */
export const REDACTED = "[REDACTED]";

/** Default cap on one captured value's JSON size, in bytes. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024;

/** Where a value sits, for the redaction hook. */
export interface RedactContext {
  /** The property name or array index holding the value; `""` for the top value. */
  key: string;
  /** Keys from the top value down to this one. */
  path: readonly string[];
}

/**
 * A redaction hook: return the value unchanged to keep it, or anything else (usually `REDACTED`
 * or a scrubbed string) to replace it. Each replacement counts as one redaction.
 */
export type Redactor = (value: unknown, context: RedactContext) => unknown;

/** Options for `capture`. */
export interface CaptureOptions {
  /** Cap on the JSON size of the result, in UTF-8 bytes. @default DEFAULT_MAX_VALUE_BYTES */
  maxBytes?: number;
  /** Extra redaction, applied after the default rules. */
  redact?: Redactor;
  /** Apply the default secret-key and credential-pattern rules. @default true */
  defaultRedaction?: boolean;
  /** Nesting deeper than this is rendered as a marker. @default 32 */
  maxDepth?: number;
}

/** The result of `capture`. */
export interface Captured {
  /** Plain JSON data. `undefined` only when the input itself was `undefined`. */
  value: unknown;
  /** How many values were redacted. */
  redactions: number;
  /** `true` when something was cut to respect `maxBytes` or `maxDepth`. */
  truncated: boolean;
}

// Key names compared after lower-casing and removing everything but letters and digits, so
// `API-Key`, `api_key` and `apiKey` all match. A key matches when it ends with one of these.
const SECRET_KEY_ENDINGS = [
  "apikey",
  "token",
  "password",
  "passwd",
  "passphrase",
  "secret",
  "secrets",
  "authorization",
  "cookie",
  "privatekey",
  "accesskey",
  "credential",
  "credentials",
  "sessionid",
];

/**
 * `true` when a property name looks like it holds a secret. `max_tokens` or `input_tokens` do
 * not match (they end in `tokens`, not `token`).
 *
 * @param key A property name.
 * @returns Whether values under it are redacted by default.
 */
export function looksSecret(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, "");
  return k === "auth" || SECRET_KEY_ENDINGS.some((end) => k.endsWith(end));
}

// Credentials that show up inside free text (headers, command lines, error messages).
const SECRET_PATTERNS: RegExp[] = [
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g,
  /\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
];

/**
 * Masks credentials found inside a string (`Bearer abc...`, `sk-...`, `ghp_...`).
 *
 * @param text Any string.
 * @returns The string with each credential replaced; unchanged when none was found.
 */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) {
    out = out.replace(
      re,
      (_m, scheme?: string) =>
        typeof scheme === "string" && /^(Bearer|Basic)$/.test(scheme)
          ? `${scheme} ${REDACTED}`
          : REDACTED,
    );
  }
  return out;
}

/** UTF-8 length of a string, without allocating. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** JSON size of a string value: its UTF-8 length, quotes and (roughly) escapes. */
function jsonStringBytes(s: string): number {
  return utf8Length(s) + 2 + (s.match(/["\\\n\r\t]/g)?.length ?? 0);
}

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a surrogate pair. */
function cutToBytes(s: string, bytes: number): string {
  let n = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const w = c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? 4 : 3;
    if (n + w > bytes) break;
    n += w;
    i += w === 4 ? 2 : 1;
  }
  return s.slice(0, i);
}

// Room kept for the marker that closes a truncated string, array or object.
const MARKER_RESERVE = 48;

/**
 * One capture's walk and its running state: the bytes of the budget left, how many values were
 * redacted, whether anything was cut, and the objects being walked (to spot cycles).
 */
class Capturer {
  #remaining: number;
  redactions = 0;
  truncated = false;
  readonly #ancestors: object[] = [];
  readonly #redact: Redactor | undefined;
  readonly #defaultRedaction: boolean;
  readonly #maxDepth: number;

  constructor(
    maxBytes: number,
    redact: Redactor | undefined,
    defaultRedaction: boolean,
    maxDepth: number,
  ) {
    this.#remaining = Math.max(0, maxBytes);
    this.#redact = redact;
    this.#defaultRedaction = defaultRedaction;
    this.#maxDepth = maxDepth;
  }

  /** Takes `bytes` off the budget and returns `v`. */
  #spend(v: unknown, bytes: number): unknown {
    this.#remaining -= bytes;
    return v;
  }

  /** A string within the budget, cut with a visible marker when it does not fit. */
  #text(s: string): string {
    const bytes = jsonStringBytes(s);
    if (bytes <= this.#remaining) return this.#spend(s, bytes) as string;
    this.truncated = true;
    const keep = cutToBytes(s, Math.max(0, this.#remaining - MARKER_RESERVE));
    const out = `${keep}… [truncated, ${utf8Length(s)} bytes in total]`;
    return this.#spend(out, jsonStringBytes(out)) as string;
  }

  /** Captures one value: redaction first, then by type. */
  walk(input: unknown, key: string, path: string[], depth: number): unknown {
    if (
      this.#defaultRedaction && key !== "" && looksSecret(key) && input !== undefined &&
      input !== null
    ) {
      this.redactions++;
      return this.#spend(REDACTED, REDACTED.length + 2);
    }
    const v = this.#hook(input, key, path);
    if (typeof v !== "object") return this.#primitive(v, depth);
    if (v === null) return this.#spend(null, 4);
    return this.#object(v, path, depth);
  }

  /** Runs the `redact` hook; a replacement counts as one redaction. */
  #hook(v: unknown, key: string, path: string[]): unknown {
    if (!this.#redact) return v;
    let r: unknown;
    try {
      r = this.#redact(v, { key, path });
    } catch {
      r = REDACTED; // a failing hook must not leak what it was meant to hide
    }
    if (Object.is(r, v)) return v;
    this.redactions++;
    return r;
  }

  /** Strings (credentials masked), numbers, booleans and the shapes JSON cannot hold. */
  #primitive(v: unknown, depth: number): unknown {
    switch (typeof v) {
      case "string": {
        if (this.#defaultRedaction) {
          const scrubbed = scrubSecrets(v);
          if (scrubbed !== v) {
            this.redactions++;
            v = scrubbed;
          }
        }
        return this.#text(v as string);
      }
      case "number":
        if (!Number.isFinite(v)) return this.#text(String(v));
        return this.#spend(Object.is(v, -0) ? 0 : v, String(v).length);
      case "boolean":
        return this.#spend(v, 5);
      case "bigint":
        return this.#text(`${v}n`);
      case "undefined":
        return depth === 0 ? undefined : this.#text("[undefined]");
      case "symbol":
        return this.#text((v as symbol).toString());
      case "function": {
        const src = Function.prototype.toString.call(v);
        const name = (v as { name?: string }).name || "(anonymous)";
        return this.#text(src.startsWith("class") ? `[class ${name}]` : `[Function ${name}]`);
      }
    }
  }

  /** An object: a cycle or depth marker, a rendered special object, or its walked contents. */
  #object(obj: object, path: string[], depth: number): unknown {
    if (this.#ancestors.includes(obj)) return this.#text("[Circular]");
    if (depth >= this.#maxDepth) {
      this.truncated = true;
      return this.#text(Array.isArray(obj) ? `[Array(${obj.length})]` : "[Object]");
    }
    const special = renderSpecial(obj);
    if (special !== undefined) {
      if (typeof special === "string") return this.#text(special);
      return this.#children(special, path, depth);
    }
    return this.#children(obj, path, depth);
  }

  /** Walks an array's items or an object's keys, with `obj` marked as an ancestor. */
  #children(obj: object, path: string[], depth: number): unknown {
    this.#ancestors.push(obj);
    try {
      return Array.isArray(obj) ? this.#items(obj, path, depth) : this.#keys(obj, path, depth);
    } finally {
      this.#ancestors.pop();
    }
  }

  /** An array's items, until the budget runs out. */
  #items(obj: unknown[], path: string[], depth: number): unknown[] {
    const out: unknown[] = [];
    this.#spend(null, 2);
    for (let i = 0; i < obj.length; i++) {
      if (this.#remaining < MARKER_RESERVE) {
        this.truncated = true;
        out.push(this.#text(`[truncated: ${obj.length - i} more items]`));
        break;
      }
      out.push(this.walk(readProperty(obj, i), String(i), [...path, String(i)], depth + 1));
      this.#remaining -= 1;
    }
    return out;
  }

  /** An object's own enumerable keys, until the budget runs out. */
  #keys(obj: object, path: string[], depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.#spend(null, 2);
    const keys = ownKeys(obj);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (this.#remaining < MARKER_RESERVE + jsonStringBytes(k)) {
        this.truncated = true;
        out["[truncated]"] = this.#text(`${keys.length - i} more keys`);
        break;
      }
      this.#remaining -= jsonStringBytes(k) + 2;
      out[k] = this.walk(readProperty(obj, k), k, [...path, k], depth + 1);
    }
    return out;
  }
}

/**
 * Captures a value as plain, capped, redacted JSON data. Never throws.
 *
 * @param value Anything.
 * @param options Size cap, redaction hook, depth cap.
 * @returns The safe copy, how many values were redacted and whether anything was cut.
 *
 * @example
 * ```ts
 * import { capture } from "@loom/xray";
 * const c = capture({ user: "ada", apiKey: "sk-123", big: "x".repeat(100_000) }, { maxBytes: 200 });
 * // c.value.apiKey === "[REDACTED]", c.value.big ends with "[truncated ...]", c.redactions === 1
 * ```
 */
export function capture(value: unknown, options: CaptureOptions = {}): Captured {
  const {
    maxBytes = DEFAULT_MAX_VALUE_BYTES,
    redact,
    defaultRedaction = true,
    maxDepth = 32,
  } = options;
  const capturer = new Capturer(maxBytes, redact, defaultRedaction, maxDepth);
  let result: unknown;
  try {
    result = capturer.walk(value, "", [], 0);
  } catch (e) {
    // Exotic objects (revoked proxies, hostile getters on prototypes) end up here.
    result = `[Uncapturable: ${e instanceof Error ? e.message : String(e)}]`;
  }
  return { value: result, redactions: capturer.redactions, truncated: capturer.truncated };
}

/** Own enumerable string keys; `[]` when the object refuses to list them. */
function ownKeys(obj: object): string[] {
  try {
    return Object.keys(obj);
  } catch {
    return [];
  }
}

/** Reads a property, turning a throwing getter into a marker. */
function readProperty(obj: object, key: string | number): unknown {
  try {
    return (obj as Record<string | number, unknown>)[key];
  } catch (e) {
    return `[Throws: ${e instanceof Error ? e.message : String(e)}]`;
  }
}

/**
 * Renders objects that do not serialise well as they are: a string marker, a stand-in object to
 * walk instead, or `undefined` for an ordinary object.
 */
function renderSpecial(obj: object): string | object | undefined {
  if (obj instanceof Error) {
    const out: Record<string, unknown> = { type: errorType(obj), message: obj.message };
    if (obj.stack) out.stack = obj.stack;
    if (obj.cause !== undefined) out.cause = obj.cause;
    return out;
  }
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
  if (obj instanceof RegExp) return String(obj);
  if (obj instanceof URL) return obj.href;
  if (obj instanceof Map) return { "[Map]": [...obj.entries()] };
  if (obj instanceof Set) return { "[Set]": [...obj.values()] };
  if (ArrayBuffer.isView(obj)) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
  if (obj instanceof ArrayBuffer) return `[ArrayBuffer ${obj.byteLength} bytes]`;
  if (obj instanceof Promise) return "[Promise]";
  if (obj instanceof WeakMap || obj instanceof WeakSet || obj instanceof WeakRef) {
    return `[${obj.constructor.name}]`;
  }
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    try {
      const r = toJSON.call(obj);
      return typeof r === "object" && r !== null ? r : String(r);
    } catch (e) {
      return `[Throws: ${e instanceof Error ? e.message : String(e)}]`;
    }
  }
  return undefined;
}

/** An error's class name: `name` when set, else the constructor's name. */
function errorType(e: Error): string {
  return e.name && e.name !== "Error" ? e.name : (e.constructor?.name || "Error");
}

/**
 * Turns anything thrown into the plain `SpanError` data a span records. Credentials in the
 * message and stack are masked.
 *
 * @param error What was thrown (an `Error` or anything else).
 * @returns `{type, message, stack?}`.
 */
export function toSpanError(error: unknown): SpanError {
  if (error instanceof Error) {
    const out: SpanError = { type: errorType(error), message: scrubSecrets(error.message) };
    if (error.stack) out.stack = scrubSecrets(error.stack).slice(0, 16 * 1024);
    return out;
  }
  if (typeof error === "string") return { type: "string", message: scrubSecrets(error) };
  const c = capture(error, { maxBytes: 2048 });
  return {
    type: error === null ? "null" : typeof error,
    message: typeof c.value === "string" ? c.value : JSON.stringify(c.value) ?? String(error),
  };
}

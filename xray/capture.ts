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
  let remaining = Math.max(0, maxBytes);
  let redactions = 0;
  let truncated = false;
  const ancestors: object[] = [];

  const spend = (v: unknown, bytes: number): unknown => {
    remaining -= bytes;
    return v;
  };
  const text = (s: string): string => {
    const bytes = jsonStringBytes(s);
    if (bytes <= remaining) return spend(s, bytes) as string;
    truncated = true;
    const keep = cutToBytes(s, Math.max(0, remaining - MARKER_RESERVE));
    const out = `${keep}… [truncated, ${utf8Length(s)} bytes in total]`;
    return spend(out, jsonStringBytes(out)) as string;
  };

  const walk = (input: unknown, key: string, path: string[], depth: number): unknown => {
    let v = input;
    if (defaultRedaction && key !== "" && looksSecret(key) && v !== undefined && v !== null) {
      redactions++;
      return spend(REDACTED, REDACTED.length + 2);
    }
    if (redact) {
      let r: unknown;
      try {
        r = redact(v, { key, path });
      } catch {
        r = REDACTED; // a failing hook must not leak what it was meant to hide
      }
      if (!Object.is(r, v)) {
        redactions++;
        v = r;
      }
    }
    switch (typeof v) {
      case "string": {
        if (defaultRedaction) {
          const scrubbed = scrubSecrets(v);
          if (scrubbed !== v) {
            redactions++;
            v = scrubbed;
          }
        }
        return text(v as string);
      }
      case "number":
        if (!Number.isFinite(v)) return text(String(v));
        return spend(Object.is(v, -0) ? 0 : v, String(v).length);
      case "boolean":
        return spend(v, 5);
      case "bigint":
        return text(`${v}n`);
      case "undefined":
        return depth === 0 ? undefined : text("[undefined]");
      case "symbol":
        return text((v as symbol).toString());
      case "function": {
        const src = Function.prototype.toString.call(v);
        const name = (v as { name?: string }).name || "(anonymous)";
        return text(src.startsWith("class") ? `[class ${name}]` : `[Function ${name}]`);
      }
    }
    if (v === null) return spend(null, 4);
    const obj = v as object;
    if (ancestors.includes(obj)) return text("[Circular]");
    if (depth >= maxDepth) {
      truncated = true;
      return text(Array.isArray(obj) ? `[Array(${obj.length})]` : "[Object]");
    }
    const special = renderSpecial(obj);
    if (special !== undefined) {
      if (typeof special === "string") return text(special);
      return walkChildren(special, key, path, depth);
    }
    return walkChildren(obj, key, path, depth);
  };

  const walkChildren = (obj: object, _key: string, path: string[], depth: number): unknown => {
    ancestors.push(obj);
    try {
      if (Array.isArray(obj)) {
        const out: unknown[] = [];
        spend(null, 2);
        for (let i = 0; i < obj.length; i++) {
          if (remaining < MARKER_RESERVE) {
            truncated = true;
            out.push(text(`[truncated: ${obj.length - i} more items]`));
            break;
          }
          out.push(walk(readProperty(obj, i), String(i), [...path, String(i)], depth + 1));
          remaining -= 1;
        }
        return out;
      }
      const out: Record<string, unknown> = {};
      spend(null, 2);
      const keys = ownKeys(obj);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        if (remaining < MARKER_RESERVE + jsonStringBytes(k)) {
          truncated = true;
          out["[truncated]"] = text(`${keys.length - i} more keys`);
          break;
        }
        remaining -= jsonStringBytes(k) + 2;
        out[k] = walk(readProperty(obj, k), k, [...path, k], depth + 1);
      }
      return out;
    } finally {
      ancestors.pop();
    }
  };

  let result: unknown;
  try {
    result = walk(value, "", [], 0);
  } catch (e) {
    // Exotic objects (revoked proxies, hostile getters on prototypes) end up here.
    result = `[Uncapturable: ${e instanceof Error ? e.message : String(e)}]`;
  }
  return { value: result, redactions, truncated };
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

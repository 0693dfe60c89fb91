/**
 * JSON rules for everything the runner stores: a validating check that names the path of the first
 * value JSON cannot round-trip, a stable (sorted-key) encoding for hashes and keys, and hashing.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { NotSerializableError } from "./errors.ts";

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function describe(value: unknown): string | undefined {
  switch (typeof value) {
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    case "bigint":
      return "a BigInt";
    case "undefined":
      return "undefined";
    case "number":
      return Number.isFinite(value) ? undefined : `the number ${value}`;
    default:
      return undefined;
  }
}

function checkValue(value: unknown, path: string, ancestors: unknown[]): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value !== "object") {
    const bad = describe(value);
    if (bad) throw new NotSerializableError(path, bad);
    return;
  }
  if (ancestors.includes(value)) throw new NotSerializableError(path, "a circular reference");
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item === undefined) throw new NotSerializableError(`${path}[${i}]`, "undefined");
      checkValue(item, `${path}[${i}]`, ancestors);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
      throw new NotSerializableError(path, `an instance of ${name}`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new NotSerializableError(path, "an object with symbol keys");
    }
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      // An undefined property is simply absent after a round trip; allow it (common in TS code).
      if (item === undefined) continue;
      checkValue(
        item,
        /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`,
        ancestors,
      );
    }
  }
  ancestors.pop();
}

// Fast check without path strings (the hot path); deep values fall back to the precise walk,
// which also detects cycles.
function isPlain(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined || !isPlain(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item !== undefined && !isPlain(item, depth + 1)) return false;
      }
      return Object.getOwnPropertySymbols(value).length === 0;
    }
    default:
      return false;
  }
}

/**
 * Throws `NotSerializableError` naming the path (e.g. `state.items[2].when`) of the first value
 * that JSON cannot store and restore unchanged: functions, symbols, BigInt, NaN/Infinity, cycles,
 * class instances (Date, Map, custom classes), and `undefined` inside arrays or at the top.
 */
export function assertJson(value: unknown, path: string): void {
  if (value === undefined) throw new NotSerializableError(path, "undefined");
  if (isPlain(value, 0)) return;
  checkValue(value, path, []);
}

/** Validates and encodes a value for storage (`path` names it in errors). */
export function encodeJson(value: unknown, path: string): string {
  assertJson(value, path);
  return JSON.stringify(value);
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v ?? null)).join(",")}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${
    keys.map((k) =>
      `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`
    )
      .join(",")
  }}`;
}

/** Hex SHA-256 of a string. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Hex SHA-256 of a value's stable JSON encoding. */
export function hashJson(value: unknown): string {
  return sha256Hex(stableStringify(value));
}

/** Byte length of a string in UTF-8. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

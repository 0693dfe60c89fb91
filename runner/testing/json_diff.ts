/**
 * Readable differences between two JSON values, for failure messages: one entry per changed
 * leaf (`body.messages.0.content`), and for changed strings the first differing place with a
 * little context, so a one-word prompt change is visible in a long prompt.
 *
 * @module
 */

/** Short JSON of a value for one line. */
export function shortJson(v: unknown, max = 100): string {
  if (v === undefined) return "(absent)";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * Where two strings first differ, as `…context[-old-]{+new+}context…`.
 *
 * @param a The old string.
 * @param b The new string.
 * @param context Characters of context on each side.
 * @returns The snippet, e.g. `…answer in [-one-]{+two+} word…`.
 */
export function stringChange(a: string, b: string, context = 30): string {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const pre = a.slice(Math.max(0, start - context), start);
  const post = a.slice(endA, Math.min(a.length, endA + context));
  const cut = (s: string) => s.length > 200 ? `${s.slice(0, 199)}…` : s;
  const oneLine = (s: string) => JSON.stringify(s).slice(1, -1);
  return `${start - context > 0 ? "…" : ""}${oneLine(pre)}[-${
    oneLine(cut(a.slice(start, endA)))
  }-]{+${oneLine(cut(b.slice(start, endB)))}+}${oneLine(post)}${
    endA + context < a.length ? "…" : ""
  }`;
}

/** One changed leaf. */
export interface JsonChange {
  /** Where the leaf is: keys and indexes joined by dots (`a.items.2.name`). */
  path: string;
  /** Old value (absent when added). */
  a: unknown;
  /** New value (absent when removed). */
  b: unknown;
}

/**
 * Lists changed leaves of two JSON values in document order. The walk stops once it has found
 * more than `limit`, so a huge change costs no more than the limit (and a caller can tell the
 * list was cut: it then holds `limit` + 1 changes).
 */
export function jsonChanges(a: unknown, b: unknown, limit = Infinity): JsonChange[] {
  const out: JsonChange[] = [];
  const walk = (a: unknown, b: unknown, path: string, top: boolean): void => {
    if (out.length > limit || Object.is(a, b)) return;
    const objects = typeof a === "object" && a !== null && typeof b === "object" && b !== null &&
      Array.isArray(a) === Array.isArray(b);
    if (!objects) {
      out.push({ path, a, b });
      return;
    }
    const at = (k: string) => top ? k : `${path}.${k}`;
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length) && out.length <= limit; i++) {
        walk(a[i], b[i], at(String(i)), false);
      }
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
      walk(ao[k], bo[k], at(k), false);
    }
  };
  walk(a, b, "", true);
  return out;
}

/**
 * Describes how `b` differs from `a`, one block per changed leaf (at most `limit`).
 *
 * @returns Lines like `body.messages.0.content: …in [-one-]{+two+} word…`.
 */
export function describeJsonChanges(a: unknown, b: unknown, limit = 8): string {
  const changes = jsonChanges(a, b);
  if (changes.length === 0) return "(no difference)";
  const lines: string[] = [];
  for (const c of changes.slice(0, limit)) {
    const where = c.path === "" ? "(whole value)" : c.path;
    if (c.a === undefined) lines.push(`${where}: added ${shortJson(c.b)}`);
    else if (c.b === undefined) lines.push(`${where}: removed (was ${shortJson(c.a)})`);
    else if (typeof c.a === "string" && typeof c.b === "string") {
      lines.push(`${where}: ${stringChange(c.a, c.b)}`);
    } else lines.push(`${where}: ${shortJson(c.a)} → ${shortJson(c.b)}`);
  }
  if (changes.length > limit) lines.push(`… and ${changes.length - limit} more change(s)`);
  return lines.join("\n");
}

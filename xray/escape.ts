/**
 * Escaping for the offline HTML viewer: text placed in HTML, and JSON placed in a `<script>`.
 *
 * The Python viewer this replaces let a captured value containing `</script>` end its data
 * block and run as code. Both functions here make that impossible by construction: after
 * escaping, the output contains no `<`, `>` or `&` at all (and `escapeHtml` no quotes either).
 *
 * @module
 */

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for use in HTML element content or in a quoted attribute value.
 *
 * @param text Any string.
 * @returns The string with `& < > " '` replaced by character references.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

// `<`, `>` and `&` can only occur inside JSON strings, where `\uXXXX` means the same character,
// so the replaced text is still valid JSON that parses to the same value. U+2028/U+2029 are
// escaped too so the text also stays valid if someone pastes it into a JS string literal.
const SCRIPT_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * Serialises a value as JSON that can sit inside `<script type="application/json">` without
 * ending the element, opening a comment or changing how the page parses.
 *
 * Values JSON cannot represent do not throw: `bigint` becomes a decimal string, a repeated
 * reference to an object being serialised becomes `"[Circular]"`, functions and symbols are
 * dropped as `JSON.stringify` drops them.
 *
 * @param value Any value.
 * @returns JSON text containing no `<`, `>`, `&`, U+2028 or U+2029 characters.
 */
export function embedJson(value: unknown): string {
  const json = JSON.stringify(value, jsonSafeReplacer()) ?? "null";
  return json.replace(/[<>&\u2028\u2029]/g, (c) => SCRIPT_ESCAPES[c]);
}

/** A `JSON.stringify` replacer that turns bigints into strings and cycles into a marker. */
function jsonSafeReplacer(): (this: unknown, key: string, value: unknown) => unknown {
  // `ancestors` is the chain of objects from the root to the value being serialised; a value
  // already on that chain is a cycle. Shared (non-cyclic) references are serialised normally.
  const ancestors: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === "bigint") return value.toString();
    if (typeof value !== "object" || value === null) return value;
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
    if (ancestors.includes(value)) return "[Circular]";
    ancestors.push(value);
    return value;
  };
}

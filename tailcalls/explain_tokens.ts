/**
 * A small, forgiving JavaScript tokenizer for `explainTailcalls`: enough to find calls, brackets
 * and statement boundaries in a function's source. It never throws; text it cannot classify
 * becomes a one-character punctuation token.
 *
 * @module
 */

/** One token of source text. */
export interface Token {
  /** `ident` covers keywords too; `literal` covers strings, templates, numbers and regexes. */
  readonly kind: "ident" | "punct" | "literal";
  /** The token's text (a literal's text is not needed, so it is kept short). */
  readonly text: string;
  /** 1-based line in the source. */
  readonly line: number;
  /** 1-based column in the source. */
  readonly column: number;
}

// Longest first, so `===` wins over `==` and `=`.
const PUNCTUATORS = [
  ">>>=",
  "...",
  "===",
  "!==",
  "**=",
  "<<=",
  ">>=",
  ">>>",
  "&&=",
  "||=",
  "??=",
  "=>",
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "??",
  "?.",
  "++",
  "--",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "&=",
  "|=",
  "^=",
  "**",
  "<<",
  ">>",
];

// After these words a `/` starts a regular expression, not a division.
const REGEX_AFTER_WORDS = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

const IDENT_START = /[A-Za-z_$\u00a0-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u00a0-\uffff]/;

/** Splits `source` into tokens, dropping whitespace and comments. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const push = (kind: Token["kind"], text: string, start: number, startLine: number, col: number) =>
    tokens.push({ kind, text, line: startLine, column: start - col + 1 });
  // Advances over `end` exclusive, counting newlines.
  const advanceTo = (end: number) => {
    for (; i < end && i < source.length; i++) {
      if (source[i] === "\n") {
        line++;
        lineStart = i + 1;
      }
    }
  };
  while (i < source.length) {
    const ch = source[i];
    const start = i;
    const startLine = line;
    const col = lineStart;
    if (ch === "\n" || ch === " " || ch === "\t" || ch === "\r" || ch === "\f" || ch === "\v") {
      advanceTo(i + 1);
    } else if (source.startsWith("//", i)) {
      const end = source.indexOf("\n", i);
      advanceTo(end === -1 ? source.length : end);
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      advanceTo(end === -1 ? source.length : end + 2);
    } else if (ch === '"' || ch === "'") {
      advanceTo(skipQuoted(source, i, ch));
      push("literal", ch, start, startLine, col);
    } else if (ch === "`") {
      advanceTo(skipTemplate(source, i));
      push("literal", "`", start, startLine, col);
    } else if (/[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(source[i + 1] ?? ""))) {
      let j = i + 1;
      while (j < source.length && /[0-9A-Za-z_.]/.test(source[j])) j++;
      advanceTo(j);
      push("literal", "0", start, startLine, col);
    } else if (IDENT_START.test(ch)) {
      let j = i + 1;
      while (j < source.length && IDENT_PART.test(source[j])) j++;
      advanceTo(j);
      push("ident", source.slice(start, j), start, startLine, col);
    } else if (ch === "/" && regexAllowed(tokens[tokens.length - 1])) {
      advanceTo(skipRegex(source, i));
      push("literal", "/", start, startLine, col);
    } else {
      const text = PUNCTUATORS.find((p) => source.startsWith(p, i)) ?? ch;
      advanceTo(i + text.length);
      push("punct", text, start, startLine, col);
    }
  }
  return tokens;
}

function regexAllowed(previous: Token | undefined): boolean {
  if (previous === undefined) return true;
  if (previous.kind === "literal") return false;
  if (previous.kind === "ident") return REGEX_AFTER_WORDS.has(previous.text);
  return previous.text !== ")" && previous.text !== "]" && previous.text !== "}";
}

/** Index just after the string literal opened by `quote` at `start`. */
function skipQuoted(source: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < source.length && source[i] !== quote && source[i] !== "\n") {
    i += source[i] === "\\" ? 2 : 1;
  }
  return Math.min(i + 1, source.length);
}

/** Index just after the template literal at `start`, including nested `${...}` parts. */
function skipTemplate(source: string, start: number): number {
  let i = start + 1;
  while (i < source.length) {
    const ch = source[i];
    if (ch === "\\") i += 2;
    else if (ch === "`") return i + 1;
    else if (ch === "$" && source[i + 1] === "{") i = skipBraces(source, i + 1);
    else i++;
  }
  return source.length;
}

/** Index just after the `{...}` group that opens at `start`, skipping strings inside it. */
function skipBraces(source: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < source.length) {
    const ch = source[i];
    if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return i + 1;
    if (ch === '"' || ch === "'") i = skipQuoted(source, i, ch);
    else if (ch === "`") i = skipTemplate(source, i);
    else i++;
  }
  return source.length;
}

/** Index just after the regular expression literal at `start` (flags included). */
function skipRegex(source: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < source.length && source[i] !== "\n") {
    const ch = source[i];
    if (ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === "[") inClass = true;
    else if (ch === "]") inClass = false;
    else if (ch === "/" && !inClass) break;
    i++;
  }
  i++;
  while (i < source.length && IDENT_PART.test(source[i])) i++;
  return Math.min(i, source.length);
}

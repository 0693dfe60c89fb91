/**
 * Possible vs actual loop exits. A loop step leaves either with `recur(...)` (go on) or with a
 * final `return`. `scanExits` finds every such site in the loop's source; `recordExit` (in
 * `context.ts`) records, at run time, which site a step actually left through. The summary
 * puts both side by side, so a reader sees the exits that never fired.
 *
 * @module
 */

/** `recur`: the loop went on; `return`: the loop ended. */
export type ExitKind = "recur" | "return";

/** One exit site found in source. Stored as a list in `trace.meta.exits`. */
export interface ExitSite {
  /** Which exit. */
  kind: ExitKind;
  /** `file:line:col`, 1-based, the position of `recur` or `return`. */
  location: string;
  /** The loop it belongs to, when known. */
  loop?: string;
  /** The source line of the exit, trimmed (for display). */
  text?: string;
}

/** Options for `scanExits`. */
export interface ScanExitsOptions {
  /** Only scan from this character offset of `source`. @default 0 */
  start?: number;
  /** Only scan up to this character offset. @default source.length */
  end?: number;
  /** Loop name stored on each site. */
  loop?: string;
}

/**
 * Finds the `recur(` calls and `return` statements in a piece of source. A `return recur(...)`
 * is one `recur` exit (at the `recur`), not a return; an exit written through `recordExit`
 * (`return recordExit("recur", recur(n - 1))`) is one exit at the `recordExit`, the very
 * location the running call records, so taken and possible exits match exactly. Strings, template literals and comments are
 * skipped. Limits (it is a scanner, not a parser): returns inside nested callbacks are counted
 * as exits of the loop, and an expression-bodied arrow (`(n) => n ? recur(n - 1) : 0`) has no
 * `return` keyword, so only its `recur` sites are found.
 *
 * @param source The source text (a whole file, so line numbers are right).
 * @param file The file as it appears in stack traces, e.g. `file:///app/loop.ts`.
 * @param options A range to restrict the scan to, and the loop name.
 * @returns The sites in source order.
 *
 * @example
 * ```ts
 * import { scanExits } from "@loom/xray";
 * const src = "function step(n) {\n  if (n === 0) return 'done';\n  return recur(n - 1);\n}";
 * scanExits(src, "file:///loop.ts").map((s) => `${s.kind} ${s.location}`);
 * // ["return file:///loop.ts:2:15", "recur file:///loop.ts:3:10"]
 * ```
 */
export function scanExits(
  source: string,
  file: string,
  options: ScanExitsOptions = {},
): ExitSite[] {
  const { start = 0, end = source.length, loop } = options;
  const code = blankNonCode(source);
  const sites: ExitSite[] = [];
  const site = (kind: ExitKind, offset: number): ExitSite => {
    const { line, column } = lineAndColumn(source, offset);
    const lineText = source.slice(offset - column + 1).split("\n", 1)[0].trim();
    return {
      kind,
      location: `${file}:${line}:${column}`,
      ...(loop !== undefined ? { loop } : {}),
      text: lineText.length > 120 ? `${lineText.slice(0, 119)}…` : lineText,
    };
  };
  let pendingReturn = -1; // offset of a `return` whose expression has not been classified yet
  const flushReturn = () => {
    if (pendingReturn >= 0) sites.push(site("return", pendingReturn));
    pendingReturn = -1;
  };
  // `return` directly followed by the exit itself is one exit, not two.
  const takeReturnIfBare = (at: number) => {
    if (pendingReturn >= 0 && /^\s*$/.test(code.slice(pendingReturn + 6, at))) pendingReturn = -1;
    else flushReturn();
  };
  let skipUntil = -1; // inside a recordExit(...) call: its recur( is already counted
  const word = /\b(recur|return|recordExit)\b/g;
  word.lastIndex = start;
  for (let m = word.exec(code); m !== null && m.index < end; m = word.exec(code)) {
    if (m.index < skipUntil) continue;
    const before = code[m.index - 1];
    if (before === "." || before === "$" || before === "#") continue; // obj.recur, $recur
    if (m[1] === "return") {
      flushReturn();
      pendingReturn = m.index;
      continue;
    }
    const call = code.slice(m.index + m[1].length).match(/^\s*(<[^>]*>)?\s*\(/);
    if (!call) continue; // a mention, not a call
    if (m[1] === "recordExit") {
      // Its location is where the stack trace of the running call points, so sites and
      // recorded exits have the very same `file:line:col`.
      const kind = /^recordExit\s*\(\s*["'`](recur|return)["'`]/.exec(source.slice(m.index))?.[1];
      if (kind !== "recur" && kind !== "return") continue;
      takeReturnIfBare(m.index);
      sites.push(site(kind, m.index));
      skipUntil = matching(code, m.index + m[1].length + call[0].length - 1);
      if (skipUntil < 0) skipUntil = end;
      continue;
    }
    takeReturnIfBare(m.index);
    sites.push(site("recur", m.index));
  }
  flushReturn();
  return sites;
}

/**
 * Finds where a function's source sits inside a file's source, so `scanExits` can be limited to
 * that loop. First tries `fn.toString()` verbatim (JavaScript); for TypeScript, whose run-time
 * text has lost its types, finds the declaration by name (`function name`, `name = ...`,
 * `name(...) {` as a method) and takes its body by matching brackets.
 *
 * @param source The file's source.
 * @param fn The loop function.
 * @returns Character offsets, or `undefined` when it is not found.
 */
export function locateFunction(
  source: string,
  fn: (...args: never[]) => unknown,
): { start: number; end: number } | undefined {
  const text = fn.toString();
  const at = source.indexOf(text);
  if (at >= 0) return { start: at, end: at + text.length };
  const name = fn.name;
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) return undefined;
  const code = blankNonCode(source);
  const id = name.replace(/\$/g, "\\$");
  const decl = new RegExp(
    `\\bfunction\\s*\\*?\\s*${id}\\b|\\b(?:const|let|var)\\s+${id}\\s*[=:]|` +
      `^\\s*(?:async\\s+)?${id}\\s*[(<]`,
    "m",
  ).exec(code);
  if (!decl) return undefined;
  const start = decl.index;
  // Skip to the end of the parameter list, then take a `{...}` body or an arrow's expression.
  let i = code.indexOf("(", start);
  if (i < 0) return undefined;
  i = matching(code, i);
  if (i < 0) return undefined;
  // Greedy up to the body: a `{`, or `=>` then an optional `{` (an arrow with an expression body).
  const rest = /^[^{=;]*(=>\s*)?(\{)?/.exec(code.slice(i + 1))!;
  if (rest[2] !== undefined) {
    const open = i + 1 + rest[0].length - 1;
    const close = matching(code, open);
    return close < 0 ? undefined : { start, end: close + 1 };
  }
  const arrow = code.indexOf("=>", i);
  if (arrow < 0) return undefined;
  const stop = /[;\n]/.exec(code.slice(arrow));
  return { start, end: stop ? arrow + stop.index : code.length };
}

/** Index of the bracket closing the one at `open`, or -1. Works on blanked code. */
function matching(code: string, open: number): number {
  const pairs: Record<string, string> = { "(": ")", "{": "}", "[": "]" };
  const stack: string[] = [];
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c in pairs) stack.push(pairs[c]);
    else if (c === ")" || c === "}" || c === "]") {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

/**
 * The exits of one loop function: its source is located in the file's source, then scanned.
 *
 * @param fn The loop step function.
 * @param file The file as it appears in stack traces (`import.meta.url` of its module).
 * @param source That file's source text.
 * @param loop Name stored on the sites. @default fn.name
 * @returns The sites, or `[]` when the function is not found in `source`.
 */
export function exitsOf(
  fn: (...args: never[]) => unknown,
  file: string,
  source: string,
  loop: string = fn.name,
): ExitSite[] {
  const range = locateFunction(source, fn);
  return range ? scanExits(source, file, { ...range, ...(loop ? { loop } : {}) }) : [];
}

/**
 * The `file:line:col` of one frame of a V8 stack trace (`new Error().stack`). Useful to record
 * where a `recur(...)` marker was made, if a hook runs inside it.
 *
 * @param stack The stack text.
 * @param frame Which frame: 1 is the function that created the error, 2 its caller, ...
 * @returns The location, or `undefined` when the frame is missing or has no location.
 */
export function stackLocation(stack: string, frame: number): string | undefined {
  const line = stack.split("\n")[frame];
  if (!line) return undefined;
  const m = /\(?((?:file|https?|data|jsr|npm|ext):[^\s()]*?|\/[^\s()]*?):(\d+):(\d+)\)?\s*$/.exec(
    line,
  );
  return m ? `${m[1]}:${m[2]}:${m[3]}` : undefined;
}

/** 1-based line and column of a character offset. */
function lineAndColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf("\n"); i >= 0 && i < offset; i = source.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Replaces the contents of comments, strings and template-literal text with spaces (newlines
 * kept), so offsets and line numbers still match but no word inside them is seen as code.
 * `${...}` inside a template literal stays code.
 */
function blankNonCode(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (out[i] !== "\n") out[i] = " ";
  };
  const braces: number[] = []; // per open `${`: the brace depth at which it closes
  let depth = 0;
  let i = 0;
  const n = src.length;
  const scanTemplate = (from: number): number => {
    // `from` is just after a backtick or a closing `}` of `${`; returns where code resumes.
    let j = from;
    while (j < n) {
      if (src[j] === "\\") j += 2;
      else if (src[j] === "`") {
        blank(from, j);
        return j + 1;
      } else if (src[j] === "$" && src[j + 1] === "{") {
        blank(from, j);
        braces.push(depth);
        depth++;
        return j + 2;
      } else j++;
    }
    blank(from, n);
    return n;
  };
  while (i < n) {
    const c = src[i];
    if (c === "/" && src[i + 1] === "/") {
      const e = src.indexOf("\n", i);
      const stop = e < 0 ? n : e;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && src[i + 1] === "*") {
      const e = src.indexOf("*/", i + 2);
      const stop = e < 0 ? n : e + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      blank(i + 1, Math.min(j, n));
      i = j + 1;
    } else if (c === "`") {
      i = scanTemplate(i + 1);
    } else if (c === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      depth--;
      i++;
      if (braces.length > 0 && braces[braces.length - 1] === depth) {
        braces.pop();
        i = scanTemplate(i);
      }
    } else {
      i++;
    }
  }
  return out.join("");
}

/**
 * `explainTailcalls`: reads a loop's source and reports the shapes that defeat the trampoline,
 * each with a line and a fix.
 *
 * @module
 */

import { loopInfo } from "./loops.ts";
import { type Token, tokenize } from "./explain_tokens.ts";

/** The shapes `explainTailcalls` reports. */
export type TailcallRule =
  | "await-recur"
  | "recur-not-returned"
  | "self-call"
  | "direct-loop-call"
  | "helper-recursion"
  | "no-source";

/** One problem found in a loop's source. */
export interface TailcallDiagnostic {
  /** Which shape was found. */
  readonly rule: TailcallRule;
  /**
   * 1-based line within the function's source as the runtime reports it (`fn.toString()`; TypeScript
   * is shown after transpiling, so use `source` to find the spot in your file).
   */
  readonly line: number;
  /** 1-based column within that line. */
  readonly column: number;
  /** What is wrong, in one sentence. */
  readonly message: string;
  /** How to fix it, in one sentence. */
  readonly fix: string;
  /** The source line, trimmed. */
  readonly source: string;
}

/** Options for `explainTailcalls`. */
export interface ExplainOptions {
  /**
   * The names the loop's source uses for functions, with their values, e.g.
   * `{ countdown, fetchPage }`. With it the helper can tell a direct self call (`countdown(...)`)
   * from a call of another loop or of a helper that calls back into the loop.
   */
  readonly scope?: Readonly<Record<string, unknown>>;
}

const MARKER_CALLS = new Set(["recur", "tailcall"]);
const NOT_CALLS = new Set(["function", "if", "while", "for", "switch", "catch", "with", "return"]);

/**
 * Inspects the source of a loop (a `tailrec`/`tailstream` function or a bare step function) and
 * reports shapes that defeat the trampoline:
 * - `await-recur`: `await recur(...)`: the marker is awaited instead of returned.
 * - `recur-not-returned`: a `recur(...)`/`tailcall(...)` whose result is used or dropped.
 * - `self-call`: the loop calls itself by name (`return countdown(n - 1)`), nesting a promise per step.
 * - `direct-loop-call`: the loop calls another loop directly instead of `tailcall(other, ...)`.
 * - `helper-recursion`: the loop calls a plain helper that calls the loop back.
 * - `no-source`: the source is not available (native or bound functions).
 *
 * It reads source text with a small tokenizer and heuristics, so it may miss problems hidden
 * behind indirection; it never throws, and reports nothing for well-formed loops.
 *
 * @example
 * ```ts
 * import { explainTailcalls, recur, tailrec } from "@loom/tailcalls";
 * const loop = tailrec(async (n: number) => n === 0 ? 0 : await recur(n - 1));
 * for (const d of explainTailcalls(loop)) console.log(`line ${d.line}: ${d.message} Fix: ${d.fix}`);
 * ```
 */
export function explainTailcalls(
  fn: (...args: never) => unknown,
  options: ExplainOptions = {},
): TailcallDiagnostic[] {
  try {
    return explain(fn, options.scope ?? {});
  } catch (error) {
    // The analysis is a best-effort reader of arbitrary source; a bug in it must not break the
    // caller, but it must not pass for "no problems" either.
    return [{
      rule: "no-source",
      line: 1,
      column: 1,
      message: `the source could not be analysed (${String(error)}).`,
      fix: "check the loop by hand against the shapes listed in the README.",
      source: "",
    }];
  }
}

function explain(
  fn: (...args: never) => unknown,
  scope: Readonly<Record<string, unknown>>,
): TailcallDiagnostic[] {
  const info = loopInfo(fn);
  const step = info?.step ?? fn;
  const source = Function.prototype.toString.call(step);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    return [{
      rule: "no-source",
      line: 1,
      column: 1,
      message: `the source of "${fn.name}" is not available (native or bound function).`,
      fix: "pass the step function itself, not a bound or built-in one.",
      source: "",
    }];
  }
  const selfNames = new Set<string>();
  for (const name of [fn.name, step.name]) {
    // A loop made without a name is called "tailrec"/"tailstream": that names the factory, not it.
    if (isIdentifier(name) && !(info !== undefined && name === info.kind)) selfNames.add(name);
  }
  for (const [name, value] of Object.entries(scope)) {
    if (value === fn || value === step) selfNames.add(name);
  }
  return explainSource(source, selfNames, scope);
}

/**
 * Analyses function source text directly (what `explainTailcalls` does after finding the source);
 * `selfNames` are the names the loop is called by. Not exported from the package root.
 */
export function explainSource(
  source: string,
  selfNames: ReadonlySet<string>,
  scope: Readonly<Record<string, unknown>> = {},
): TailcallDiagnostic[] {
  const analysis = new Analysis(tokenize(source), source.split("\n"), selfNames, scope);
  analysis.run();
  return analysis.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
}

function isIdentifier(name: string): boolean {
  return /^[A-Za-z_$][\w$]*$/.test(name);
}

/** One pass over a function's tokens. */
class Analysis {
  readonly diagnostics: TailcallDiagnostic[] = [];
  /** Index of each bracket's partner. */
  readonly #match = new Map<number, number>();
  /** Callee token indexes of calls found in tail position (returned from some function). */
  readonly #returned = new Set<number>();
  readonly #reported = new Set<number>();

  constructor(
    readonly tokens: Token[],
    readonly lines: string[],
    readonly selfNames: ReadonlySet<string>,
    readonly scope: Readonly<Record<string, unknown>>,
  ) {
    const open: number[] = [];
    tokens.forEach((token, index) => {
      if (token.text === "(" || token.text === "[" || token.text === "{") open.push(index);
      else if (token.text === ")" || token.text === "]" || token.text === "}") {
        const start = open.pop();
        if (start !== undefined) {
          this.#match.set(start, index);
          this.#match.set(index, start);
        }
      }
    });
  }

  run(): void {
    const { tokens } = this;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token.kind === "ident" && token.text === "return") {
        const next = tokens[i + 1];
        if (next !== undefined && next.line === token.line) {
          this.#tail(i + 1, this.#extentEnd(i + 1));
        }
      } else if (token.text === "=>" && tokens[i + 1]?.text !== "{") {
        const end = this.#extentEnd(i + 1);
        const callee = this.#callbackOf(i);
        if (callee === undefined) this.#tail(i + 1, end);
        else this.#markerInCallback(i + 1, end, callee);
      }
    }
    for (let i = 0; i < tokens.length; i++) {
      if (!this.#isCall(i) || this.#returned.has(i) || this.#reported.has(i)) continue;
      const name = tokens[i].text;
      const awaited = this.#awaitBefore(i);
      if (MARKER_CALLS.has(name)) {
        if (awaited) this.#awaitRecur(i);
        else {
          this.#report(i, "recur-not-returned", {
            message: `the result of ${name}(...) is used here instead of being returned, so ` +
              "the loop never bounces.",
            fix: `return ${name}(...) itself from the step (e.g. \`return ${name}(next)\`), ` +
              "not inside another expression or statement.",
          });
        }
      } else this.#checkCall(i, false);
    }
  }

  /**
   * When the arrow whose `=>` is at `arrow` is an argument of a call (`items.map((x) => ...)`),
   * the name of the called function; `undefined` for the step itself and other arrows. Arrows
   * passed to `tailrec`/`tailstream` are steps of nested loops, so they count as steps.
   */
  #callbackOf(arrow: number): string | undefined {
    const { tokens } = this;
    let start = arrow - 1;
    if (tokens[start]?.text === ")") start = this.#match.get(start) ?? start;
    if (tokens[start - 1]?.text === "async") start--;
    const before = tokens[start - 1];
    if (before === undefined || (before.text !== "(" && before.text !== ",")) return undefined;
    // Find the bracket that encloses the arrow; it must be a call's argument list.
    let open = start - 1;
    while (open >= 0 && tokens[open].text !== "(") {
      const text = tokens[open].text;
      if (text === ")" || text === "]" || text === "}") open = (this.#match.get(open) ?? 0) - 1;
      else if (text === "[" || text === "{") return undefined;
      else open--;
    }
    const callee = tokens[open - 1];
    if (callee === undefined || callee.kind !== "ident" || NOT_CALLS.has(callee.text)) {
      return undefined;
    }
    if (callee.text === "tailrec" || callee.text === "tailstream") return undefined;
    return callee.text;
  }

  /** Reports `recur`/`tailcall` returned by a callback instead of by the step. */
  #markerInCallback(start: number, end: number, callee: string): void {
    const { tokens } = this;
    let first = start;
    while (tokens[first]?.text === "(" && this.#match.get(first) === end - 1) first++;
    if (!this.#isCall(first) || !MARKER_CALLS.has(tokens[first].text)) return;
    const name = tokens[first].text;
    this.#report(first, "recur-not-returned", {
      message: `${name}(...) is returned from a callback passed to ${callee}(...), not from the ` +
        "step, so the loop never sees it.",
      fix: `compute the next arguments first, then \`return ${name}(...)\` from the step itself.`,
    });
  }

  /** End (exclusive) of the expression that starts at `start`. */
  #extentEnd(start: number): number {
    const { tokens } = this;
    let i = start;
    while (i < tokens.length) {
      const text = tokens[i].text;
      if (text === ";" || text === "," || text === ")" || text === "]" || text === "}") break;
      if (text === "(" || text === "[" || text === "{") {
        const end = this.#match.get(i);
        if (end === undefined) return tokens.length;
        i = end + 1;
        continue;
      }
      i++;
    }
    return i;
  }

  /** Analyses the expression in tokens [start, end), which is returned from its function. */
  #tail(start: number, end: number): void {
    const { tokens } = this;
    if (start >= end) return;
    if (tokens[start].text === "(" && this.#match.get(start) === end - 1) {
      return this.#tail(start + 1, end - 1);
    }
    const question = this.#topLevel(start, end, (t) => t === "?");
    if (question !== -1) {
      const colon = this.#matchingColon(question + 1, end);
      if (colon !== -1) {
        this.#tail(question + 1, colon);
        this.#tail(colon + 1, end);
        return;
      }
    }
    const logical = this.#topLevel(start, end, (t) => t === "||" || t === "&&" || t === "??", true);
    if (logical !== -1) return this.#tail(logical + 1, end);
    let callee = start;
    const awaited = tokens[start].kind === "ident" && tokens[start].text === "await";
    if (awaited) callee++;
    // A call spanning the whole expression: `name(...)` or `a.b.name(...)`.
    while (tokens[callee + 1]?.text === "." && tokens[callee + 2]?.kind === "ident") callee += 2;
    const paren = callee + 1;
    if (!this.#isCall(callee) || this.#match.get(paren) !== end - 1) return;
    this.#returned.add(callee);
    if (MARKER_CALLS.has(tokens[callee].text)) {
      if (awaited) this.#awaitRecur(callee);
    } else this.#checkCall(callee, true);
  }

  /** Index of the first (or last) token in [start, end) at bracket depth 0 matching `test`. */
  #topLevel(start: number, end: number, test: (text: string) => boolean, last = false): number {
    let found = -1;
    for (let i = start; i < end; i++) {
      const text = this.tokens[i].text;
      if (text === "(" || text === "[" || text === "{") {
        i = this.#match.get(i) ?? end;
        continue;
      }
      if (text === "=>") return found; // the rest is an arrow function's body
      if (test(text)) {
        found = i;
        if (!last) return found;
      }
    }
    return found;
  }

  /** The `:` that closes the conditional whose `?` precedes `start`. */
  #matchingColon(start: number, end: number): number {
    let depth = 0;
    for (let i = start; i < end; i++) {
      const text = this.tokens[i].text;
      if (text === "(" || text === "[" || text === "{") i = this.#match.get(i) ?? end;
      else if (text === "?") depth++;
      else if (text === ":" && depth-- === 0) return i;
    }
    return -1;
  }

  /** True when token `i` is the callee name of a call: `name(`, not `function name(`. */
  #isCall(i: number): boolean {
    const { tokens } = this;
    const token = tokens[i];
    if (token === undefined || token.kind !== "ident" || tokens[i + 1]?.text !== "(") return false;
    if (NOT_CALLS.has(token.text)) return false;
    const before = tokens[i - 1];
    if (before?.kind === "ident" && (before.text === "function" || before.text === "new")) {
      return false;
    }
    // A method definition `name(...) {` in a class or object literal is not a call.
    const close = this.#match.get(i + 1);
    return close === undefined || tokens[close + 1]?.text !== "{" ||
      (before !== undefined && before.text !== "}" && before.text !== ";" &&
        before.text !== "{" && before.text !== ",");
  }

  #awaitBefore(i: number): boolean {
    let j = i - 1;
    while (this.tokens[j]?.text === "." && this.tokens[j - 1]?.kind === "ident") j -= 2;
    return this.tokens[j]?.text === "await";
  }

  #awaitRecur(i: number): void {
    const name = this.tokens[i].text;
    this.#report(i, "await-recur", {
      message: `\`await ${name}(...)\` awaits the tail-call marker instead of returning it.`,
      fix: `drop the await: \`return ${name}(...)\`.`,
    });
  }

  /** Reports a call of the loop itself, of another loop, or of a helper that calls back. */
  #checkCall(i: number, inTail: boolean): void {
    const name = this.tokens[i].text;
    if (this.selfNames.has(name)) {
      this.#report(i, "self-call", {
        message: inTail
          ? `the loop calls itself directly (\`${name}(...)\`), so every step nests another ` +
            "promise and call instead of bouncing."
          : `the loop calls itself directly (\`${name}(...)\`) inside an expression: plain ` +
            "recursion that grows the stack and the promise chain.",
        fix: inTail
          ? `return \`recur(...)\` with the same arguments instead of calling ${name}.`
          : "carry the pending work in an accumulator argument and `return recur(...)`.",
      });
      return;
    }
    if (!Object.hasOwn(this.scope, name)) return;
    const value = this.scope[name];
    if (typeof value !== "function") return;
    if (loopInfo(value) !== undefined) {
      if (!inTail) return; // calling another loop for its value is fine
      this.#report(i, "direct-loop-call", {
        message: `the step calls the loop \`${name}\` directly, so each transfer nests a call ` +
          "and a promise.",
        fix: `return \`tailcall(${name}, ...)\` to transfer without growth.`,
      });
      return;
    }
    const helperSource = Function.prototype.toString.call(value);
    const back = tokenize(helperSource).find((t, k, all) =>
      t.kind === "ident" && all[k + 1]?.text === "(" &&
      (this.selfNames.has(t.text) ||
        (Object.hasOwn(this.scope, t.text) && loopInfo(this.scope[t.text]) !== undefined))
    );
    if (back === undefined) return;
    this.#report(i, "helper-recursion", {
      message: `the step calls the helper \`${name}\`, which calls \`${back.text}\` back ` +
        "directly: recursion through a helper that is not a tailrec loop grows every step.",
      fix: `let \`${name}\` return the next arguments and \`return recur(...)\` them, or make ` +
        `it a tailrec loop and \`return tailcall(${name}, ...)\`.`,
    });
  }

  #report(i: number, rule: TailcallRule, text: { message: string; fix: string }): void {
    if (this.#reported.has(i)) return;
    this.#reported.add(i);
    const token = this.tokens[i];
    this.diagnostics.push({
      rule,
      line: token.line,
      column: token.column,
      message: text.message,
      fix: text.fix,
      source: (this.lines[token.line - 1] ?? "").trim(),
    });
  }
}

/**
 * Confinement of file access to the workspace. A path is refused when it is absolute, climbs out
 * with a `..` segment, or resolves (through symlinks) to a place outside the workspace's real
 * path. A name that merely starts with two dots (`..dotdot.txt`) is an ordinary name.
 *
 * Paths shown to the LLM go through `quotePath`: a name that a line-oriented listing could
 * misread (a newline, other control characters, a colon, a leading quote or blank) is shown as a
 * JSON string literal, and `resolve` accepts that quoted form back.
 *
 * @module
 */
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { ToolError } from "./types.ts";

/** A workspace root, resolved once to its real path. */
export class Workspace {
  /** The workspace's real path (symlinks resolved). */
  readonly root: string;

  /** @param root an existing directory */
  constructor(root: string) {
    let real: string;
    try {
      real = Deno.realPathSync(root);
    } catch {
      throw new ToolError(`the workspace '${root}' does not exist`);
    }
    if (!Deno.statSync(real).isDirectory) {
      throw new ToolError(`the workspace '${root}' is not a directory`);
    }
    this.root = real;
  }

  /** True when the absolute path `real` is the root or below it. */
  contains(real: string): boolean {
    const rel = relative(this.root, real);
    // Only a `..` segment leaves the root: `..dotdot.txt` is a file inside it.
    return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
  }

  /**
   * Resolves a workspace-relative path to its real absolute path, refusing escapes.
   * The target must exist.
   */
  async resolve(path: string): Promise<string> {
    const unquoted = unquotePath(path);
    if (unquoted === undefined) return await this.#resolve(path);
    // A quoted name from a listing; a file really named with quotes still wins.
    try {
      return await this.#resolve(path);
    } catch {
      return await this.#resolve(unquoted);
    }
  }

  async #resolve(path: string): Promise<string> {
    const lexical = this.#lexical(path);
    let real: string;
    try {
      real = await Deno.realPath(lexical);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new ToolError(`'${path}' does not exist in the workspace`);
      }
      throw error;
    }
    if (!this.contains(real)) {
      throw new ToolError(
        `'${path}' points outside the workspace (through a symlink) and is refused`,
      );
    }
    return real;
  }

  /** Workspace-relative display form of an absolute path inside the workspace (see `quotePath`). */
  display(absolute: string): string {
    return quotePath(relative(this.root, absolute).split(sep).join("/") || ".");
  }

  #lexical(path: string): string {
    if (path.includes("\0")) throw new ToolError(`'${path}' is not a valid path`);
    if (isAbsolute(path) || /^[A-Za-z]:[\\/]/.test(path)) {
      throw new ToolError(`'${path}' is an absolute path; give a path relative to the workspace`);
    }
    const normal = normalize(path === "" ? "." : path);
    if (normal === ".." || normal.startsWith(`..${sep}`) || normal.startsWith("../")) {
      throw new ToolError(`'${path}' climbs out of the workspace and is refused`);
    }
    return join(this.root, normal);
  }
}

/** Characters a listing could misread: controls (newlines, tabs), line separators, DEL, C1. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * A path as tools print it: unchanged when it is plain, otherwise a JSON string literal (with
 * `\n`, `\u2028`... escaped) so one entry stays one line and `file:line:` stays unambiguous.
 * Quoted: control characters, line separators, a `:`, a leading `"`, leading/trailing blanks.
 */
export function quotePath(path: string): string {
  if (!UNSAFE.test(path) && !path.includes(":") && !path.startsWith('"') && path.trim() === path) {
    return path;
  }
  return JSON.stringify(path).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The path inside a `quotePath` literal, or `undefined` when `text` is not one. */
export function unquotePath(text: string): string | undefined {
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return undefined;
  try {
    const value = JSON.parse(text);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

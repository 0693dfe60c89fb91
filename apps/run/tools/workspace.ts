/**
 * Confinement of file access to the workspace. A path is refused when it is absolute, climbs out
 * with `..`, or resolves (through symlinks) to a place outside the workspace's real path.
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
    return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
  }

  /**
   * Resolves a workspace-relative path to its real absolute path, refusing escapes.
   * The target must exist.
   */
  async resolve(path: string): Promise<string> {
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

  /** Workspace-relative display form of an absolute path inside the workspace. */
  display(absolute: string): string {
    return relative(this.root, absolute).split(sep).join("/") || ".";
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

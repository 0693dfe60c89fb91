/**
 * Helpers for this package's tests: temporary copies of the fixture workspace.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of a file under `apps/run/testdata/`. */
export function testdata(...parts: string[]): string {
  return join(fileURLToPath(new URL("./testdata/", import.meta.url)), ...parts);
}

/** Copies a directory tree (files and folders only). */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(join(from, entry.name), join(to, entry.name));
    else if (entry.isFile) await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

/** A temporary directory holding a copy of `testdata/buggy` as `ws/`; removed by `dispose`. */
export async function tempWorkspace(): Promise<{ dir: string; ws: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-run-" });
  const ws = join(dir, "ws");
  await copyTree(testdata("buggy"), ws);
  return { dir, ws, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

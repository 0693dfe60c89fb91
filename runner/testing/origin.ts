/**
 * Where a scenario, cassette or golden assertion was written: the file URL of the first caller
 * outside the testing modules, so relative paths (`"golden/x.json"`) resolve next to the test.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = new URL("./", import.meta.url).href;
const ENTRY = new URL("../testing.ts", import.meta.url).href;

/** The file URL of the first caller outside `@loom/runner/testing`, if any. */
export function callerOrigin(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const m of stack.matchAll(/((?:file|https?):\/\/[^\s()]+?):\d+:\d+/g)) {
    if (!m[1].startsWith(HERE) && m[1] !== ENTRY) return m[1];
  }
  return undefined;
}

/** Resolves a path: absolute, a URL, or relative to `origin`'s folder (else the cwd). */
export function resolveNear(path: string | URL, origin: string | undefined): string {
  if (path instanceof URL) return fileURLToPath(path);
  if (path.startsWith("file:")) return fileURLToPath(path);
  if (path.startsWith("/")) return path;
  if (origin?.startsWith("file:")) return `${dirname(fileURLToPath(origin))}/${path}`;
  return `${Deno.cwd()}/${path}`;
}

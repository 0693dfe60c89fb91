// Helpers of the studio's tests: a studio on 127.0.0.1 port 0 over a real SQLite file.
import { openStore, type SqliteStore, type Store } from "../mod.ts";
import { serveStudio, type StudioServeOptions } from "./serve.ts";

/** A studio over `store`, listening on 127.0.0.1, port 0. */
export async function startStudio(
  store: Store,
  options: Omit<StudioServeOptions, "store"> = {},
) {
  const server = await serveStudio({ store, port: 0, ...options });
  const origin = server.url;
  /** A POST as the studio's own page sends it: the header and a same-origin Origin. */
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${origin}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-loom-studio": "1",
        origin,
        ...headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const get = async (path: string) => {
    const res = await fetch(`${origin}${path}`);
    return { status: res.status, headers: res.headers, body: await res.json() };
  };
  return { server, origin, post, get };
}

/** A temporary directory with a SQLite store in it; both removed afterwards. */
export async function withStudioStore(
  fn: (store: SqliteStore, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-studio-" });
  const path = `${dir}/runs.sqlite`;
  const store = openStore(path);
  try {
    await fn(store, path);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

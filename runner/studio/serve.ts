/**
 * `serveStudio`: Loom Studio over HTTP with `Deno.serve`, on 127.0.0.1 unless a token is set.
 *
 * @module
 */
import { isLoopback } from "@loom/xray/serve";
import { RunnerError } from "../errors.ts";
import { createStudioHandler, type StudioOptions } from "./handler.ts";

/** Options of {@linkcode serveStudio}. */
export interface StudioServeOptions extends Omit<StudioOptions, "basePath"> {
  /** Port; 0 picks a free one. @default 8787 */
  port?: number;
  /**
   * Interface to listen on. Any other than loopback needs `token`: every run's states and tool
   * data are on these pages, and steering changes runs.
   * @default "127.0.0.1"
   */
  hostname?: string;
}

/** A running studio. */
export interface StudioServer {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The port bound. */
  port: number;
  /** Ends the events streams and the embedded worker, then stops the server. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Serves the studio until `shutdown()`.
 *
 * @param options The store, port, hostname, token, agents of the embedded worker.
 * @returns Once listening: the URL and a way to stop.
 * @throws {RunnerError} Off loopback without a token, or with agents for a store workers cannot
 * share.
 */
export function serveStudio(options: StudioServeOptions): Promise<StudioServer> {
  const { port = 8787, hostname = "127.0.0.1", ...rest } = options;
  if (!isLoopback(hostname) && !rest.token) {
    return Promise.reject(
      new RunnerError(
        `serving on ${hostname} would show every run's states and tool data beyond this ` +
          "machine; set --token (or LOOM_RUNNER_TOKEN)",
      ),
    );
  }
  const handler = createStudioHandler(rest);
  const server = Deno.serve({ port, hostname, onListen: () => {} }, handler);
  const host = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  return Promise.resolve({
    url: `http://${host}:${server.addr.port}`,
    port: server.addr.port,
    async shutdown() {
      await handler.close(); // ends the SSE streams, which would keep shutdown() waiting
      await server.shutdown();
    },
    finished: server.finished,
  });
}

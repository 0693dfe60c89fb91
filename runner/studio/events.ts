/**
 * `GET /api/events`: a Server-Sent Events stream of the runs that changed. One watcher per
 * studio (not per client) looks for changes on a short interval while at least one client is
 * connected, and sends only the changed `RunRow`s:
 *
 * - SQLite: `PRAGMA data_version` (another connection committed) and `total_changes()` (this
 *   connection wrote: the studio's own steering and embedded worker) say *whether* anything
 *   changed, for the price of two tiny statements; only then are rows read.
 * - PostgreSQL (and other stores): the rows query itself, which is an index range scan.
 *
 * Rows are the runs whose record changed since the last look (`updated_at` index), plus the
 * running runs (their steps move without their record changing). A row is sent when it differs
 * from what this watcher sent last. The stream ends when the client goes or `close()` is called;
 * no timer outlives the last client.
 *
 * @module
 */
import type { Store } from "../store/store.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { changedRuns, runningRuns, type RunRow } from "./runs_query.ts";
import { baseHeaders } from "./security.ts";

/** Options of the events hub. */
export interface EventsOptions {
  /** How often the watcher looks for changes, ms. @default 250 */
  pollMs?: number;
  /** How often a comment line keeps an idle stream open, ms. @default 15_000 */
  heartbeatMs?: number;
  /** Told when a look for changes fails (the stream stays open). @default console.error */
  onError?: (error: unknown) => void;
}

type Client = (chunk: string) => void;

/** The studio's SSE streams and the one watcher that feeds them. */
export class EventsHub {
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #heartbeatMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #clients = new Map<Client, () => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #looking = false;
  #closed = false;
  /** What was last sent per run: `updatedAt|status|lastStep|children`. */
  readonly #sent = new Map<string, string>();
  #since = Date.now();
  #version = "";

  /** Creates the hub over a store. */
  constructor(store: Store, options: EventsOptions = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? 250;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#onError = options.onError ?? ((e) => console.error(`studio events: ${e}`));
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** A new SSE response; it is fed until the client goes or the hub closes. */
  open(): Response {
    if (this.#closed) return new Response("the studio is stopping", { status: 503 });
    const encoder = new TextEncoder();
    let client: Client;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = (chunk) => controller.enqueue(encoder.encode(chunk));
        const end = () => {
          try {
            controller.close();
          } catch { /* already closed */ }
        };
        this.#clients.set(client, end);
        client(": loom studio events\nretry: 2000\n\n");
        this.#startTimers();
      },
      cancel: () => this.#remove(client),
    });
    const headers = baseHeaders("text/event-stream; charset=UTF-8");
    headers.set("cache-control", "no-store, no-transform");
    return new Response(stream, { headers });
  }

  /** Ends every stream and stops the watcher. */
  close(): void {
    this.#closed = true;
    for (const [client, end] of [...this.#clients]) {
      end();
      this.#remove(client);
    }
    this.#stopTimers();
  }

  /** Looks for changes now (steering calls it so its effect shows at once). */
  kick(): void {
    if (this.#clients.size > 0) void this.#look();
  }

  #remove(client: Client): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#stopTimers();
  }

  #startTimers(): void {
    if (this.#timer !== undefined) return;
    // Changes made while nobody listened are not replayed: a page loads its first rows from
    // /api/runs, then follows the stream.
    this.#since = Date.now();
    this.#timer = setInterval(() => void this.#look(), this.#pollMs);
    this.#heartbeat = setInterval(() => this.#broadcast(": keep-alive\n\n"), this.#heartbeatMs);
  }

  #stopTimers(): void {
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
    this.#timer = this.#heartbeat = undefined;
  }

  #broadcast(chunk: string): void {
    for (const [client, end] of [...this.#clients]) {
      try {
        client(chunk);
      } catch {
        end();
        this.#remove(client);
      }
    }
  }

  /** SQLite: a cheap "did anything commit?"; other stores: always look. */
  #changedSinceLastLook(): boolean {
    if (!(this.#store instanceof SqliteStore)) return true;
    const db = this.#store.db;
    const a = db.prepare("PRAGMA data_version").get() as { data_version: number };
    const b = db.prepare("SELECT total_changes() AS n").get() as { n: number };
    const version = `${a.data_version}:${b.n}`;
    if (version === this.#version) return false;
    this.#version = version;
    return true;
  }

  async #look(): Promise<void> {
    if (this.#looking || this.#clients.size === 0) return;
    this.#looking = true;
    try {
      if (!this.#changedSinceLastLook()) return;
      const startedAt = Date.now();
      const rows = [
        ...await changedRuns(this.#store, this.#since - 1000),
        ...await runningRuns(this.#store),
      ];
      const changed = new Map<string, RunRow>();
      for (const row of rows) {
        const key = `${row.updatedAt}|${row.status}|${row.lastStep}|${row.children}`;
        if (this.#sent.get(row.runId) === key) continue;
        this.#sent.set(row.runId, key);
        changed.set(row.runId, row);
      }
      // Records older than the window are never read again: forget them.
      this.#since = startedAt;
      if (this.#sent.size > 10_000) this.#sent.clear();
      if (changed.size > 0 && !this.#closed) {
        this.#broadcast(
          `event: runs\ndata: ${JSON.stringify({ changed: [...changed.values()] })}\n\n`,
        );
      }
    } catch (e) {
      this.#onError(e);
    } finally {
      this.#looking = false;
    }
  }
}

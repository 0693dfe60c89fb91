/**
 * `loom-ops serve`: the same actions as the CLI over HTTP (Hono), plus Server-Sent Events of a
 * run's audit entries as they are written. Listens on 127.0.0.1 only. When `LOOM_OPS_HTTP_TOKEN`
 * is set, every request must carry `Authorization: Bearer <token>`. A request body larger than
 * {@link MAX_BODY_BYTES} (64 KiB) is answered 413 without being read further.
 *
 *     POST /supervise            {"incident", "runId"}            start a run (202)
 *     POST /runbook              {"file", "runId", "inputs"}      start a runbook run (202)
 *     POST /runs/:id/approve     {"step", "by", "comment"}        decide a gate
 *     POST /runs/:id/deny        {"step", "by", "comment"}
 *     GET  /runs/:id/status | /runs/:id/explain | /runs/:id/audit
 *     GET  /runs/:id/events      SSE stream of audit entries (ends when the run ends)
 *     GET  /approvals            open approval requests
 *     GET  /audit/verify         audit trail check (keyed chain, anchors, runs)
 *     GET  /memory?q=TEXT        memory search
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { bodyLimit } from "hono/body-limit";
import type { RunResult } from "@loom/runner";
import type { OpsOutcome } from "./agents.ts";
import {
  asUsage,
  buildRunConfig,
  decide,
  explainOps,
  openApp,
  type OpsApp,
  OpsForbiddenError,
  OpsUsageError,
  pendingApprovals,
  requireOsSandbox,
  startOpsRun,
  statusOf,
} from "./app.ts";
import {
  allowShellOf,
  type CliIo,
  type Flags,
  osSandboxOf,
  parallelOf,
  stateDirOf,
  workspaceOf,
} from "./flags.ts";
import { LLM_SETUP, llmPlannerFromEnv } from "./llm_planner.ts";
import { MockPlanner, UnconfiguredPlanner } from "./planner.ts";
import { createStudioHandler } from "@loom/runner/studio";

/** Server settings. */
export interface ServerOptions {
  /** Workspace of the runs started through the server. */
  workspace: string;
  /** State directory handed to commands. */
  stateDir: string;
  /** Whether runs really execute commands. */
  allowShell: boolean;
  /** The OS sandbox of real commands (default `bwrap`; `none` is `--no-os-sandbox`). */
  osSandbox?: "bwrap" | "none";
  /** Parallel steps per run. */
  parallel: number;
  /** Bearer token required on every request, if set. */
  token?: string;
  /** Poll interval of the SSE stream in ms. */
  pollMs?: number;
  /** Largest request body accepted, in bytes (default {@link MAX_BODY_BYTES}); larger is 413. */
  maxBodyBytes?: number;
  /** Loom Studio's handler (`@loom/runner/studio`), mounted at `/studio` when given. */
  studio?: (request: Request) => Promise<Response>;
}

/**
 * The largest request body the server accepts: 64 KiB, far more than any request needs (an
 * incident text, a runbook name, inputs, a comment). A larger one is answered 413 at once.
 */
export const MAX_BODY_BYTES = 64 * 1024;

/** The Hono application; runs started through it continue in the background. */
export function createServer(app: OpsApp, options: ServerOptions): {
  hono: Hono;
  settled(): Promise<void>;
} {
  const hono = new Hono();
  const runs = new BackgroundRuns();
  guard(hono, app, options, runs);
  if (options.studio) hono.mount("/studio", options.studio);
  hono.post("/supervise", (c) => start(c, app, options, runs, "supervise"));
  hono.post("/runbook", (c) => start(c, app, options, runs, "runbook"));
  for (const decision of ["approve", "deny"] as const) {
    hono.post(`/runs/:id/${decision}`, async (c) => {
      const b = await body(c);
      const result = await decide(app, {
        runId: c.req.param("id"),
        step: str(b, "step")!,
        by: str(b, "by")!,
        comment: str(b, "comment", false),
        decision,
        via: "http",
      });
      return c.json({ ...(await statusOf(app, result.runId)), result: result.result ?? null });
    });
  }
  hono.get("/runs/:id/status", async (c) => c.json(await statusOf(app, c.req.param("id"))));
  hono.get("/runs/:id/explain", async (c) => c.json(await explainOps(app, c.req.param("id"))));
  hono.get("/runs/:id/audit", (c) => c.json(app.audit.list(c.req.param("id"))));
  hono.get("/approvals", (c) => c.json(pendingApprovals(app)));
  hono.get("/audit/verify", async (c) => c.json(await app.verifyAudit()));
  hono.get("/memory", (c) => c.json(app.memory.search(c.req.query("q") ?? "")));
  hono.get("/runs/:id/events", (c) => events(c, app, c.req.param("id"), options.pollMs ?? 250));
  return { hono, settled: () => runs.settled() };
}

/** The runs the server started and has not seen end. */
class BackgroundRuns {
  #running = new Set<Promise<unknown>>();
  /** Runs accepted (202) whose record the runner may not have written yet: they are not unknown. */
  readonly accepted = new Set<string>();

  /** Lets `p` run on; its failure is logged, not thrown. */
  add(runId: string, p: Promise<RunResult<OpsOutcome>>): void {
    const done = p.catch((e) => console.error(`error: run ${runId}: ${(e as Error).message}`))
      .finally(() => this.#running.delete(done));
    this.#running.add(done);
  }

  /** Resolves once no run is left running (including runs started meanwhile). */
  async settled(): Promise<void> {
    while (this.#running.size) await Promise.all([...this.#running]);
  }
}

/** The bearer-token check, the error-to-status mapping, and the unknown route and run answers. */
function guard(hono: Hono, app: OpsApp, options: ServerOptions, runs: BackgroundRuns): void {
  hono.use("*", async (c, next) => {
    if (options.token && c.req.header("authorization") !== `Bearer ${options.token}`) {
      return c.json({ error: "missing or wrong bearer token" }, 401);
    }
    await next();
  });
  const maxSize = options.maxBodyBytes ?? MAX_BODY_BYTES;
  hono.use(
    "*",
    bodyLimit({
      maxSize,
      onError: (c) => c.json({ error: `the request body is larger than ${maxSize} bytes` }, 413),
    }),
  );
  hono.onError((e, c) => {
    const err = asUsage(e);
    if (err instanceof OpsForbiddenError) return c.json({ error: err.message }, 403);
    if (err instanceof OpsUsageError) {
      return c.json(
        { error: err.message },
        /does not exist|no audit entries/.test(err.message) ? 404 : 400,
      );
    }
    return c.json({ error: (err as Error).message }, 500);
  });

  hono.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  // Every per-run route answers an unknown run the same way (before an SSE stream is opened).
  hono.use("/runs/:id/*", async (c, next) => {
    const runId = c.req.param("id");
    if (!runId || (!runs.accepted.has(runId) && !(await app.store.getRun(runId)))) {
      return c.json({ error: `run ${runId} does not exist in ${app.dbPath}` }, 404);
    }
    await next();
  });
}

/** The request body as a JSON object. */
async function body(c: Context): Promise<Record<string, unknown>> {
  try {
    const b = await c.req.json();
    if (typeof b !== "object" || b === null) throw new Error();
    return b as Record<string, unknown>;
  } catch {
    throw new OpsUsageError("the request body must be a JSON object");
  }
}

/** A string field of a request body (a non-empty one when required). */
function str(b: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = b[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || !v) throw new OpsUsageError(`"${key}" must be a non-empty string`);
  return v;
}

/** `POST /supervise` and `POST /runbook`: starts a run in the background (202). */
async function start(
  c: Context,
  app: OpsApp,
  options: ServerOptions,
  runs: BackgroundRuns,
  mode: "runbook" | "supervise",
) {
  const b = await body(c);
  const runId = str(b, "runId")!;
  const file = mode === "runbook" ? str(b, "file")! : undefined;
  if (file && (file.includes("..") || file.startsWith("/"))) {
    throw new OpsUsageError("file must name a runbook inside the workspace's runbooks/ folder");
  }
  const config = buildRunConfig({
    mode,
    file: file ? `${options.workspace}/runbooks/${file}` : undefined,
    inputs: (b.inputs ?? {}) as Record<string, string>,
    incident: mode === "supervise" ? str(b, "incident") : undefined,
    workspace: options.workspace,
    stateDir: options.stateDir,
    allowShell: options.allowShell,
    osSandbox: options.osSandbox,
    parallel: options.parallel,
    startedBy: str(b, "by", false) ?? "http",
  });
  if (await app.store.getRun(runId)) {
    throw new OpsUsageError(`run ${runId} already exists in ${app.dbPath}`);
  }
  runs.accepted.add(runId);
  runs.add(runId, startOpsRun(app, runId, config).finally(() => runs.accepted.delete(runId)));
  return c.json({
    runId,
    status: "started",
    links: {
      status: `/runs/${runId}/status`,
      events: `/runs/${runId}/events`,
      explain: `/runs/${runId}/explain`,
    },
  }, 202);
}

/** `GET /runs/:id/events`: the run's audit entries as Server-Sent Events, until the run ends. */
function events(c: Context, app: OpsApp, runId: string, pollMs: number) {
  return streamSSE(c, async (stream) => {
    let after = Number(c.req.header("last-event-id") ?? 0) || 0;
    let closed = false;
    stream.onAbort(() => {
      closed = true;
    });
    /** Sends the entries written since the last one sent. */
    const flush = async () => {
      for (const e of app.audit.list(runId, after)) {
        after = e.seq;
        await stream.writeSSE({ id: String(e.seq), event: e.kind, data: JSON.stringify(e) });
        if (e.runId === runId && (e.kind === "run.completed" || e.kind === "run.failed")) {
          closed = true;
        }
      }
    };
    while (!closed) {
      await flush();
      if (!closed) {
        const run = await app.store.getRun(runId);
        if (run?.status === "waiting") {
          // The run may have begun to wait since the flush above: what it wrote before (its
          // approval request) goes out before `waiting`.
          await flush();
          if (!closed) await stream.writeSSE({ event: "waiting", data: JSON.stringify({ runId }) });
        }
        await stream.sleep(pollMs);
      }
    }
  });
}

/** `loom-ops serve`: runs the server until interrupted. */
export async function serve(o: { dbPath: string; flags: Flags; io: CliIo }): Promise<number> {
  const { flags, io } = o;
  const port = Number(flags.port ?? 8766);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OpsUsageError("--port must be a port number");
  }
  const allowShell = allowShellOf(flags);
  const osSandbox = osSandboxOf(flags);
  // Fail closed before listening: without bubblewrap, --allow-shell serves nothing.
  if (allowShell && osSandbox === "bwrap") requireOsSandbox();
  const app = openApp({
    dbPath: o.dbPath,
    create: true,
    planner: flags["mock-llm"] ? new MockPlanner() : (llmPlannerFromEnv((line) => io.err(line)) ??
      new UnconfiguredPlanner(`start the server with --mock-llm, or ${LLM_SETUP}`)),
    progress: (line) => io.err(line),
    auditKeyPath: flags["audit-key"],
  });
  const token = Deno.env.get("LOOM_OPS_HTTP_TOKEN") || undefined;
  const studio = createStudioHandler({ store: app.store, basePath: "/studio", token });
  const { hono, settled } = createServer(app, {
    workspace: workspaceOf(flags),
    stateDir: stateDirOf(flags, o.dbPath),
    allowShell,
    osSandbox,
    parallel: parallelOf(flags),
    token,
    studio,
  });
  const ac = new AbortController();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      signal: ac.signal,
      onListen: ({ port }) => io.err(`loom-ops serving on http://127.0.0.1:${port}`),
    }, hono.fetch);
  } catch (e) {
    await studio.close();
    app.close();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new OpsUsageError(`port ${port} is already in use`);
    }
    throw e;
  }
  const stop = () => {
    void studio.close(); // ends its event streams, which would keep the server from finishing
    ac.abort();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  await settled();
  app.close();
  return 0;
}

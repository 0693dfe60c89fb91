/**
 * `loom-ops gateway telegram`: an optional approval gateway. It long-polls the Telegram Bot API,
 * announces open approval requests to the allowed chats, and turns `/approve RUN STEP [comment]`,
 * `/deny RUN STEP comment`, `/status RUN`, `/explain RUN` and `/supervise INCIDENT` into the same
 * actions as the CLI. Only chats listed in `TELEGRAM_ALLOWED_CHAT_IDS` are heard; every command
 * heard is an audit entry naming the Telegram user, and an approval's approver is the user's
 * Telegram username (it must be named by the gate). The API base URL is configurable
 * (`TELEGRAM_API_BASE`), which is how the tests point it at a local fake Bot API.
 *
 * @module
 */
import { formatExplain } from "@loom/runner";
import {
  buildRunConfig,
  decide,
  explainOps,
  openApp,
  type OpsApp,
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
import { formatStatus } from "./format_status.ts";
import { LLM_SETUP, llmPlannerFromEnv } from "./llm_planner.ts";
import { MockPlanner, UnconfiguredPlanner } from "./planner.ts";
import type { RunResult } from "@loom/runner";
import type { OpsOutcome } from "./agents.ts";

/** Gateway settings. */
export interface GatewayOptions {
  /** Bot token. */
  token: string;
  /** Bot API base URL (default `https://api.telegram.org`). */
  apiBase: string;
  /** Chats that are heard and notified. */
  allowedChats: number[];
  /** Workspace, state dir, shell and parallelism of runs started with `/supervise`. */
  workspace: string;
  /** State directory for commands. */
  stateDir: string;
  /** Whether runs execute commands for real. */
  allowShell: boolean;
  /** The OS sandbox of real commands (default `bwrap`; `none` is `--no-os-sandbox`). */
  osSandbox?: "bwrap" | "none";
  /** Parallel steps. */
  parallel: number;
  /** Long-poll timeout in seconds (Telegram's `timeout` parameter). */
  pollTimeoutS?: number;
  /** First retry delay after a failed Bot API call in ms (default 1000; doubles up to 60 s). */
  retryBaseMs?: number;
  /** Called once the Bot API has accepted the token (`getMe`), before any polling. */
  onReady?: (bot: { username?: string }) => void;
}

/** Longest wait between retries of an unreachable Bot API. */
const MAX_RETRY_MS = 60_000;

/** The delay before retry number `failures` (1-based): bounded exponential backoff. */
export function retryDelayMs(failures: number, baseMs = 1000): number {
  return Math.min(baseMs * 2 ** Math.min(failures - 1, 30), Math.max(MAX_RETRY_MS, baseMs));
}

/** The part of a Telegram update the gateway reads. */
interface Update {
  update_id: number;
  message?: {
    text?: string;
    chat: { id: number };
    from?: { id: number; username?: string; first_name?: string };
  };
}

const HELP = [
  "loom-ops commands:",
  "/approve RUN STEP [comment]",
  "/deny RUN STEP comment",
  "/status RUN",
  "/explain RUN",
  "/supervise INCIDENT",
].join("\n");

/** The configuration help printed when no token is set. */
export const TELEGRAM_SETUP =
  `the Telegram gateway is not configured: set TELEGRAM_BOT_TOKEN (from @BotFather) and
TELEGRAM_ALLOWED_CHAT_IDS (comma-separated chat ids that may approve); optionally
TELEGRAM_API_BASE (default https://api.telegram.org). Then run: loom-ops gateway telegram`;

/** The Bot API refused the token: retrying cannot help. */
export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnauthorizedError";
  }
}

/** A small Bot API client over fetch. */
export class BotApi {
  readonly #base: string;
  constructor(apiBase: string, token: string) {
    this.#base = `${apiBase.replace(/\/$/, "")}/bot${token}`;
  }
  /** Calls a Bot API method and returns its `result`. */
  async call<T>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const res = await fetch(`${this.#base}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(params),
      signal,
    });
    const body = await res.json().catch(() => ({ ok: false, description: `HTTP ${res.status}` }));
    if (res.status === 401) {
      throw new UnauthorizedError("Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized)");
    }
    if (!body.ok) throw new Error(`Telegram ${method} failed: ${body.description ?? res.status}`);
    return body.result as T;
  }
}

/** Parses the comma-separated chat id list. */
export function parseChatIds(text: string | undefined): number[] {
  return (text ?? "").split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n)) {
      throw new OpsUsageError(`TELEGRAM_ALLOWED_CHAT_IDS: "${s}" is not a chat id`);
    }
    return n;
  });
}

function outcomeText(result: RunResult<OpsOutcome>): string {
  if (result.status === "failed") return `run ${result.runId} failed: ${result.error?.message}`;
  if (result.status === "waiting") return `run ${result.runId} is waiting for ${result.waitingFor}`;
  return `run ${result.runId} is ${result.status}`;
}

/**
 * Runs the gateway until `signal` aborts: polls updates, answers allowed chats, and announces
 * each open approval request once per chat (the announcement is recorded in the audit trail, so
 * a restarted gateway does not repeat it).
 */
export async function runGateway(
  app: OpsApp,
  options: GatewayOptions,
  signal: AbortSignal,
  log: (line: string) => void = () => {},
): Promise<void> {
  const api = new BotApi(options.apiBase, options.token);
  const allowed = new Set(options.allowedChats);
  let offset = 0;
  const say = (chat: number, text: string) =>
    api.call("sendMessage", { chat_id: chat, text: text.slice(0, 4000) }, signal);

  const announce = async () => {
    for (const p of pendingApprovals(app)) {
      for (const chat of allowed) {
        const once = `telegram:notified:${p.runId}:${p.step}:${chat}`;
        if (app.audit.has(once)) continue;
        await say(
          chat,
          `Approval needed: run ${p.runId}, step ${p.step}\n$ ${p.argv.join(" ")}\n` +
            `${p.reason ? `why: ${p.reason}\n` : ""}approvers: ${p.approvers.join(", ")}\n` +
            `/approve ${p.runId} ${p.step}\n/deny ${p.runId} ${p.step} <reason>`,
        );
        await app.audit.append({
          runId: p.runId,
          kind: "gateway.command",
          actor: "telegram",
          step: p.step,
          data: { action: "notified", chat },
          once,
        });
      }
    }
  };

  let failures = 0;
  let ready = false;
  while (!signal.aborted) {
    try {
      if (!ready) {
        // The token is checked before anything is announced or polled.
        const me = await api.call<{ username?: string }>("getMe", {}, signal);
        ready = true;
        options.onReady?.(me);
      }
      await announce();
      const updates = await api.call<Update[]>(
        "getUpdates",
        { offset, timeout: options.pollTimeoutS ?? 25, allowed_updates: ["message"] },
        signal,
      );
      for (const u of updates) {
        offset = Math.max(offset, u.update_id + 1);
        const m = u.message;
        if (!m?.text) continue;
        if (!allowed.has(m.chat.id)) {
          log(
            `telegram: ignored a message from chat ${m.chat.id} (not in TELEGRAM_ALLOWED_CHAT_IDS)`,
          );
          continue;
        }
        const reply = await handle(app, options, u);
        if (reply) await say(m.chat.id, reply);
      }
      failures = 0;
    } catch (e) {
      if (signal.aborted) break;
      if (e instanceof UnauthorizedError) throw new OpsUsageError(e.message);
      failures++;
      const delay = retryDelayMs(failures, options.retryBaseMs);
      const why = e instanceof TypeError
        ? `cannot reach the Bot API at ${options.apiBase} (${e.message})`
        : (e as Error).message;
      log(`telegram: ${why}; retrying in ${formatDelay(delay)} (failure ${failures})`);
      await abortableSleep(delay, signal);
    }
  }
}

function formatDelay(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

async function handle(app: OpsApp, options: GatewayOptions, u: Update): Promise<string> {
  const m = u.message!;
  // Telegram usernames are case-insensitive; gates name people in lower case.
  const username = (m.from?.username ?? "").toLowerCase();
  const user = { id: m.from?.id, username, chat: m.chat.id };
  const [rawCmd, ...args] = m.text!.trim().split(/\s+/);
  const cmd = rawCmd.replace(/@.*$/, "").toLowerCase();
  const runId = args[0];
  const heard = (data: Record<string, unknown>) =>
    app.audit.append({
      runId: runId && cmd !== "/supervise" ? runId : "telegram",
      kind: "gateway.command",
      actor: `telegram:@${username || user.id}`,
      step: cmd === "/approve" || cmd === "/deny" ? args[1] ?? null : null,
      data: { text: m.text, telegram: user, ...data },
    });
  try {
    switch (cmd) {
      case "/approve":
      case "/deny": {
        await heard({ action: cmd.slice(1) });
        if (!username) return "set a Telegram username first: approvals are recorded by username";
        if (args.length < 2) {
          return `usage: ${cmd} RUN STEP ${cmd === "/deny" ? "reason" : "[comment]"}`;
        }
        const comment = args.slice(2).join(" ") || undefined;
        if (cmd === "/deny" && !comment) return "usage: /deny RUN STEP reason";
        const result = await decide(app, {
          runId: args[0],
          step: args[1],
          by: username,
          decision: cmd === "/approve" ? "approve" : "deny",
          comment,
          via: "telegram",
          details: { telegram: user },
        });
        return `${cmd === "/approve" ? "approved" : "denied"} by @${username}. ${
          outcomeText(result)
        }`;
      }
      case "/status":
        await heard({ action: "status" });
        if (!runId) return "usage: /status RUN";
        return formatStatus(await statusOf(app, runId));
      case "/explain":
        await heard({ action: "explain" });
        if (!runId) return "usage: /explain RUN";
        return formatExplain(await explainOps(app, runId));
      case "/supervise": {
        const incident = args.join(" ");
        const id = `tg-${u.update_id}`;
        await heard({ action: "supervise", runId: id });
        const config = buildRunConfig({
          mode: "supervise",
          incident,
          workspace: options.workspace,
          stateDir: options.stateDir,
          allowShell: options.allowShell,
          osSandbox: options.osSandbox,
          parallel: options.parallel,
          startedBy: `telegram:@${username || user.id}`,
        });
        return outcomeText(await startOpsRun(app, id, config));
      }
      default:
        return HELP;
    }
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** `loom-ops gateway telegram`. */
export async function runTelegramGateway(
  o: { dbPath: string; flags: Flags; io: CliIo },
): Promise<number> {
  const token = Deno.env.get("TELEGRAM_BOT_TOKEN");
  if (!token) {
    o.io.err(`error: ${TELEGRAM_SETUP}`);
    return 2;
  }
  const allowedChats = parseChatIds(Deno.env.get("TELEGRAM_ALLOWED_CHAT_IDS"));
  if (allowedChats.length === 0) {
    throw new OpsUsageError("TELEGRAM_ALLOWED_CHAT_IDS is empty: no chat would be heard");
  }
  // Fail closed before listening: without bubblewrap, --allow-shell runs nothing.
  if (allowShellOf(o.flags) && osSandboxOf(o.flags) === "bwrap") requireOsSandbox();
  const app = openApp({
    dbPath: o.dbPath,
    create: true,
    planner: o.flags["mock-llm"]
      ? new MockPlanner()
      : (llmPlannerFromEnv((line) => o.io.err(line)) ??
        new UnconfiguredPlanner(`start the gateway with --mock-llm, or ${LLM_SETUP}`)),
    progress: (line) => o.io.err(line),
    auditKeyPath: o.flags["audit-key"],
  });
  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await runGateway(
      app,
      {
        token,
        apiBase: Deno.env.get("TELEGRAM_API_BASE") ?? "https://api.telegram.org",
        allowedChats,
        workspace: workspaceOf(o.flags),
        stateDir: stateDirOf(o.flags, o.dbPath),
        allowShell: allowShellOf(o.flags),
        osSandbox: osSandboxOf(o.flags),
        parallel: parallelOf(o.flags),
        onReady: (bot) =>
          o.io.err(
            `loom-ops Telegram gateway: token accepted${
              bot.username ? ` (@${bot.username})` : ""
            }; listening for chats ${allowedChats.join(", ")}`,
          ),
      },
      ac.signal,
      (line) => o.io.err(line),
    );
  } finally {
    app.close();
  }
  return 0;
}

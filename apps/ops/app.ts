/**
 * The loom-ops service layer shared by the CLI, the HTTP server and the Telegram gateway: open
 * the databases, start runs, decide approvals, report status. Every action a person takes goes
 * through here, so each is checked and audited the same way whatever the channel.
 *
 * @module
 */
import {
  explainRun,
  type Explanation,
  openStore,
  resumeRun,
  RunnerError,
  type RunObserver,
  type RunResult,
  sendSignal,
  startRun,
  type Store,
} from "@loom/runner";
import {
  type ApprovalDecision,
  approvalSignal,
  createOpsAgents,
  mayApprove,
  type OpsAgents,
  type OpsDeps,
  type OpsOutcome,
  type RunConfig,
} from "./agents.ts";
import { Allowlist } from "./allowlist.ts";
import { type AuditEntry, AuditLog } from "./audit.ts";
import { ANCHOR_RUN_ID, storeAnchor } from "./audit_anchor.ts";
import { auditKeyPath, loadAuditKey } from "./audit_key.ts";
import { verifyAudit, type VerifyReport } from "./audit_verify.ts";
import { Memory } from "./memory.ts";
import { openOpsDb, OpsDbError, opsDbPath } from "./ops_db.ts";
import { bindInputs, type Plan } from "./plan.ts";
import type { Planner } from "./planner.ts";
import { parseRunbookYaml } from "./runbook.ts";
import { checkBubblewrap, OsSandboxUnavailableError, within } from "./sandbox.ts";
import type { DatabaseSync } from "node:sqlite";

/** An error the user caused (bad input, unknown run, refused approver): exit code 2. */
export class OpsUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OpsUsageError";
  }
}

/** An approver the gate does not name (HTTP 403; still exit code 2 on the CLI). */
export class OpsForbiddenError extends OpsUsageError {
  constructor(message: string) {
    super(message);
    this.name = "OpsForbiddenError";
  }
}

/** Name of the workspace allowlist file. */
export const ALLOWLIST_FILE = "ops.shell.allowlist.json";

/** Open databases and agents for one process. */
export interface OpsApp {
  /** The runner's store (`--db`). */
  store: Store;
  /** The ops database (`<db>.ops`). */
  db: DatabaseSync;
  /** Audit trail. */
  audit: AuditLog;
  /** Workspace memory. */
  memory: Memory;
  /** The agents. */
  agents: OpsAgents;
  /** Path of the runner database. */
  dbPath: string;
  /** Path of the audit key file. */
  auditKeyPath: string;
  /** Files no command may see: both databases (with their WAL files) and the audit key. */
  hidden: string[];
  /** Verifies the audit trail against its key and the runner database, writing nothing. */
  verifyAudit(): Promise<VerifyReport>;
  /** Closes both databases. */
  close(): void;
}

/** Options of {@link openApp}. */
export interface OpenAppOptions {
  /** Runner database path. */
  dbPath: string;
  /** Create the files when missing (run commands) or refuse (inspection commands). */
  create: boolean;
  /** The planner for `supervise`. */
  planner: Planner;
  /** Progress sink. */
  progress?: (line: string) => void;
  /** Executor override (tests). */
  executorFor?: OpsDeps["executorFor"];
  /**
   * The audit key file (default: `$LOOM_OPS_AUDIT_KEY`, else `~/.config/loom-ops/audit.key`);
   * created with mode 0600 on the first audit entry.
   */
  auditKeyPath?: string;
}

/** Opens the runner store and the ops database next to it. */
export function openApp(options: OpenAppOptions): OpsApp {
  if (!options.create) {
    try {
      Deno.statSync(options.dbPath);
    } catch {
      throw new OpsUsageError(`no loom-ops database at ${options.dbPath} (pass --db)`);
    }
  }
  const keyPath = auditKeyPath(options.auditKeyPath);
  const store = openStore(options.dbPath);
  let db: DatabaseSync;
  try {
    refuseLostAuditFile(store, options.dbPath);
    db = openOpsDb(opsDbPath(options.dbPath));
  } catch (e) {
    store.close();
    throw e;
  }
  const audit = new AuditLog(db, {
    key: (o) => loadAuditKey(keyPath, o),
    keyPath,
    anchor: storeAnchor(store),
  });
  const memory = new Memory(db);
  const hidden = protectedFiles(options.dbPath, keyPath);
  const agents = createOpsAgents({
    audit,
    memory,
    planner: options.planner,
    progress: options.progress,
    executorFor: options.executorFor,
    hidden,
  });
  return {
    store,
    db,
    audit,
    memory,
    agents,
    dbPath: options.dbPath,
    auditKeyPath: keyPath,
    hidden,
    async verifyAudit() {
      return await verifyAudit({
        opsPath: opsDbPath(options.dbPath),
        store,
        key: await loadAuditKey(keyPath, { create: false }),
        keyPath,
      });
    },
    close() {
      store.close();
      db.close();
    },
  };
}

/**
 * Refuses to start a new, empty audit file next to a runner database that anchored entries of
 * an old one: the old file was deleted or moved, and a fresh one would hide that.
 */
function refuseLostAuditFile(store: Store, dbPath: string): void {
  const opsPath = opsDbPath(dbPath);
  try {
    Deno.statSync(opsPath);
    return;
  } catch { /* missing: is it lost? */ }
  const anchors = store.listEvents(ANCHOR_RUN_ID, { limit: 1 });
  if (Array.isArray(anchors) && anchors.length) {
    throw new OpsDbError(
      `the audit file ${opsPath} is missing, but ${dbPath} records entries of it; restore it from a backup (audit --verify reports what is lost)`,
    );
  }
}

/**
 * The files of this process that no command may see: the runner database and the ops file,
 * each with its SQLite companions, and the audit key, as absolute paths.
 */
export function protectedFiles(dbPath: string, keyPath: string): string[] {
  const absolute = (p: string) => {
    const dir = p.includes("/") ? p.replace(/\/[^/]*$/, "") || "/" : ".";
    const name = p.replace(/^.*\//, "");
    try {
      return `${Deno.realPathSync(dir).replace(/\/$/, "")}/${name}`;
    } catch {
      return p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
    }
  };
  const files = [];
  for (const db of [dbPath, opsDbPath(dbPath)]) {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) files.push(absolute(`${db}${suffix}`));
  }
  return [...files, absolute(keyPath)];
}

/** Loads the workspace allowlist, or undefined when the workspace has none. */
export function loadWorkspaceAllowlist(workspace: string): Allowlist | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${workspace}/${ALLOWLIST_FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return Allowlist.fromJson(text, workspace);
  } catch (e) {
    throw new OpsUsageError(`${workspace}/${ALLOWLIST_FILE}: ${(e as Error).message}`);
  }
}

/**
 * The allowlist a run uses: the runbook's own narrowed by the workspace's, or whichever of the
 * two exists. Neither is a usage error: nothing may run without an allowlist.
 */
export function effectiveAllowlist(workspace: string, plan?: Plan): Allowlist {
  const ws = loadWorkspaceAllowlist(workspace);
  const own = plan?.allowlist ? new Allowlist(plan.allowlist) : undefined;
  if (own && ws) return own.within(ws);
  if (own) return own;
  if (ws) return ws;
  const example = exampleWorkspace();
  throw new OpsUsageError(
    `no allowlist: add ${ALLOWLIST_FILE} to the workspace ${workspace} or an allowlist to the runbook${
      example ? ` (to try the example workspace, pass --workspace ${example})` : ""
    }`,
  );
}

/**
 * The example workspace that comes with loom-ops (its own folder: playbooks, runbooks, an
 * allowlist and harmless stand-in tools), as the path to pass from the current directory
 * (`apps/ops` from the repository root); undefined when it is not on disk (loaded from a
 * registry, or compiled into a binary).
 */
export function exampleWorkspace(): string | undefined {
  const url = new URL(".", import.meta.url);
  if (url.protocol !== "file:") return undefined;
  const dir = decodeURIComponent(url.pathname).replace(/\/$/, "");
  try {
    if (!Deno.statSync(`${dir}/${ALLOWLIST_FILE}`).isFile) return undefined;
  } catch {
    return undefined;
  }
  const cwd = Deno.cwd();
  return dir.startsWith(`${cwd}/`) ? dir.slice(cwd.length + 1) : dir;
}

/** A runbook path as given, or else relative to the workspace (`runbooks/x.yaml` from anywhere). */
export function resolveRunbookPath(file: string, workspace: string): string {
  const exists = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  if (exists(file) || file.startsWith("/")) return file;
  const inWorkspace = `${workspace}/${file}`;
  return exists(inWorkspace) ? inWorkspace : file;
}

/** Reads, validates and binds a YAML runbook file (errors are usage errors). */
export function loadRunbook(file: string, inputs: Record<string, string>): Plan {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    throw new OpsUsageError(`cannot read runbook ${file}`);
  }
  const plan = parseRunbookYaml(text, file);
  try {
    return bindInputs(plan, inputs);
  } catch (e) {
    throw new OpsUsageError((e as Error).message);
  }
}

/**
 * Refuses a plan up front when any of its commands is outside the allowlist, so nothing runs;
 * the refusal is an audit entry.
 */
export async function precheckPlan(
  app: OpsApp,
  runId: string,
  plan: Plan,
  allowlist: Allowlist,
): Promise<void> {
  for (const step of [...plan.steps, ...plan.rollback]) {
    for (const argv of [step.run, step.verify?.run].filter((a): a is string[] => !!a)) {
      const d = allowlist.check(argv);
      if (!d.allowed) {
        await app.audit.append({
          runId,
          kind: "command.refused",
          actor: "loom-ops",
          step: step.id,
          data: { argv, by: "loom-ops", reason: d.reason, phase: "precheck" },
        });
        throw new OpsUsageError(
          `runbook ${plan.name}, step ${step.id}: ${d.reason}; nothing was run`,
        );
      }
    }
  }
}

/** What a caller (CLI, HTTP, Telegram) asks for when starting a run. */
export interface RunRequest {
  /** `runbook` (plan from `file`) or `supervise` (plan from `incident`). */
  mode: "runbook" | "supervise";
  /** YAML runbook path (runbook mode). */
  file?: string;
  /** Input values for the runbook. */
  inputs?: Record<string, string>;
  /** Incident text (supervise mode). */
  incident?: string;
  /** Absolute workspace path. */
  workspace: string;
  /** Absolute state directory for commands. */
  stateDir: string;
  /** Run commands for real. */
  allowShell: boolean;
  /**
   * The OS sandbox of real commands (default `bwrap`: bubblewrap must be installed and work);
   * `none` only when the user asked for it (`--no-os-sandbox`).
   */
  osSandbox?: "bwrap" | "none";
  /** Parallel steps. */
  parallel: number;
  /** Who starts it. */
  startedBy: string;
}

/**
 * Turns a request into a run configuration: reads and validates the runbook, binds its inputs
 * and works out the allowlist. Touches no database, so bad input fails before any file exists.
 */
export function buildRunConfig(req: RunRequest): RunConfig {
  const osSandbox = req.osSandbox ?? "bwrap";
  if (req.allowShell && osSandbox === "bwrap") requireOsSandbox();
  const base = {
    workspace: req.workspace,
    stateDir: req.stateDir,
    allowShell: req.allowShell,
    // Only real commands have an OS sandbox (a mock run's stored config is unchanged).
    ...(req.allowShell ? { osSandbox } : {}),
    parallel: req.parallel,
    startedBy: req.startedBy,
  };
  if (req.mode === "runbook") {
    if (!req.file) throw new OpsUsageError("runbook needs the path of a YAML runbook");
    const plan = loadRunbook(resolveRunbookPath(req.file, req.workspace), req.inputs ?? {});
    const allowlist = effectiveAllowlist(req.workspace, plan);
    return { ...base, mode: "runbook", plan, allowlist: allowlist.toJSON() };
  }
  const incident = (req.incident ?? "").trim();
  if (!incident) {
    throw new OpsUsageError('supervise needs the incident text, e.g. "incident: API latency"');
  }
  const allowlist = effectiveAllowlist(req.workspace);
  return { ...base, mode: "supervise", incident, allowlist: allowlist.toJSON() };
}

/**
 * Checks that bubblewrap works here (fail closed: without it, `--allow-shell` runs nothing).
 *
 * @throws {OpsUsageError} One sentence saying how to install it, or to pass `--no-os-sandbox`.
 */
export function requireOsSandbox(): string {
  try {
    return checkBubblewrap();
  } catch (e) {
    if (e instanceof OsSandboxUnavailableError) throw new OpsUsageError(e.message);
    throw e;
  }
}

/** Starts a new run of the supervisor (a runbook's commands are checked against the allowlist first). */
export async function startOpsRun(
  app: OpsApp,
  runId: string,
  config: RunConfig,
  observer?: RunObserver,
): Promise<RunResult<OpsOutcome>> {
  if (await app.store.getRun(runId)) {
    throw new OpsUsageError(`run ${runId} already exists in ${app.dbPath}`);
  }
  const exposed = app.hidden.find((f) => within(f, config.stateDir));
  if (config.allowShell && exposed) {
    throw new OpsUsageError(
      `the state directory ${config.stateDir} holds ${exposed}, and commands may write there; pass another --state-dir`,
    );
  }
  if (config.plan) {
    await precheckPlan(app, runId, config.plan, Allowlist.fromPlain(config.allowlist));
  }
  await app.audit.append({
    runId,
    kind: "run.started",
    actor: config.startedBy,
    data: {
      mode: config.mode,
      incident: config.incident,
      runbook: config.plan?.source,
      executor: config.allowShell ? "shell" : "mock",
      // Which OS sandbox real commands run in; `none` is the explicit --no-os-sandbox.
      osSandbox: config.allowShell ? config.osSandbox ?? "bwrap" : undefined,
      allowlist: config.allowlist.allow,
    },
    once: `${runId}:started`,
  });
  return await startRun(app.agents.supervisor, {
    store: app.store,
    runId,
    input: config,
    observer,
  });
}

/** Resumes a run (after a crash, or after a decision). */
export async function resumeOpsRun(
  app: OpsApp,
  runId: string,
  observer?: RunObserver,
): Promise<RunResult<OpsOutcome>> {
  const run = await app.store.getRun(runId);
  if (!run) throw new OpsUsageError(`run ${runId} does not exist in ${app.dbPath}`);
  if (run.agentName !== app.agents.supervisor.name) {
    throw new OpsUsageError(`run ${runId} is a sub-run; resume its supervisor instead`);
  }
  if (run.status === "completed" || run.status === "failed") {
    // Nothing left to do: resuming a finished run shows its stored outcome (idempotent, like loom-run).
    const last = await app.store.lastStep(runId);
    return {
      runId,
      status: run.status,
      result: run.result ? JSON.parse(run.result) as OpsOutcome : undefined,
      error: run.status === "failed"
        ? { message: run.error ?? "unknown error", category: run.errorCategory ?? "unknown" }
        : undefined,
      steps: last ? last.step + 1 : 0,
      stepsThisRun: 0,
      state: undefined,
    };
  }
  await app.audit.append({
    runId,
    kind: "run.resumed",
    actor: "loom-ops",
    data: { from: run.status },
  });
  return await resumeRun(app.agents.supervisor, { store: app.store, runId, observer });
}

/** An approval request that has not been decided yet. */
export interface PendingApproval {
  /** Run id. */
  runId: string;
  /** Step id. */
  step: string;
  /** Who may decide. */
  approvers: string[];
  /** Why the gate exists. */
  reason?: string;
  /** The gated command. */
  argv: string[];
  /** When it was requested. */
  requestedAt: string;
}

/** Approval requests of a run (or of all runs) without a decision. */
export function pendingApprovals(app: OpsApp, runId?: string): PendingApproval[] {
  const open = new Map<string, PendingApproval>();
  for (const e of app.audit.list(runId)) {
    const k = `${e.runId}\u0000${e.step}`;
    if (e.kind === "approval.requested") {
      open.set(k, {
        runId: e.runId,
        step: e.step ?? "",
        approvers: (e.data.approvers as string[]) ?? [],
        reason: e.data.reason as string | undefined,
        argv: (e.data.argv as string[]) ?? [],
        requestedAt: e.ts,
      });
    } else if (e.kind === "approval.granted" || e.kind === "approval.denied") open.delete(k);
  }
  return [...open.values()];
}

/** A decision request from any channel. */
export interface DecisionRequest {
  /** Run id. */
  runId: string;
  /** Step id. */
  step: string;
  /** Approver. */
  by: string;
  /** approve or deny. */
  decision: "approve" | "deny";
  /** Comment. */
  comment?: string;
  /** Channel: cli, http, telegram. */
  via: string;
  /** Extra audit data (e.g. the Telegram user). */
  details?: Record<string, unknown>;
}

/**
 * Records an approval or denial and resumes the run. Refuses (with an audit entry) an approver
 * the gate does not name, and refuses a step that is not waiting for approval.
 */
export async function decide(
  app: OpsApp,
  req: DecisionRequest,
  observer?: RunObserver,
): Promise<RunResult<OpsOutcome>> {
  const run = await app.store.getRun(req.runId);
  if (!run) throw new OpsUsageError(`run ${req.runId} does not exist in ${app.dbPath}`);
  const pending = pendingApprovals(app, req.runId).find((p) =>
    p.runId === req.runId && p.step === req.step
  );
  if (!pending || run.status !== "waiting") {
    const open = pendingApprovals(app, req.runId).filter((p) => p.runId === req.runId)
      .map((p) => p.step);
    throw new OpsUsageError(
      `step ${req.step} of run ${req.runId} is not waiting for approval (run is ${run.status}${
        open.length ? `; waiting: ${open.join(", ")}` : ""
      })`,
    );
  }
  if (!req.by.trim()) throw new OpsUsageError("--by must name the approver");
  if (!mayApprove(pending.approvers, req.by)) {
    await app.audit.append({
      runId: req.runId,
      kind: "approval.refused",
      actor: req.by,
      step: req.step,
      data: {
        by: req.by,
        decision: req.decision,
        via: req.via,
        reason: `not one of ${pending.approvers.join(", ")}`,
        ...req.details,
      },
    });
    throw new OpsForbiddenError(
      `${req.by} may not ${req.decision} step ${req.step} (allowed: ${
        pending.approvers.join(", ")
      })`,
    );
  }
  const decision: ApprovalDecision = {
    decision: req.decision,
    by: req.by,
    comment: req.comment,
    via: req.via,
    at: new Date().toISOString(),
  };
  await app.audit.append({
    runId: req.runId,
    kind: req.decision === "approve" ? "approval.granted" : "approval.denied",
    actor: req.by,
    step: req.step,
    data: { ...decision, ...req.details },
  });
  await sendSignal(app.store, req.runId, approvalSignal(req.step), decision);
  return await resumeRun(app.agents.supervisor, { store: app.store, runId: req.runId, observer });
}

/** One row of the status table. */
export interface StepView {
  /** Step id. */
  id: string;
  /** The command. */
  run: string[];
  /** pending, waiting-approval, succeeded, failed, denied, refused, skipped, running. */
  status: string;
  /** Attempts seen. */
  attempts: number;
  /** Last exit code. */
  exitCode?: number | null;
  /** Approver, when approved. */
  approvedBy?: string;
  /** Last verification or failure reason. */
  note?: string;
}

/** What `status` shows. */
export interface StatusView {
  /** Run id. */
  runId: string;
  /** Runner status. */
  status: string;
  /** The plan name, once planned. */
  plan?: string;
  /** Open approval requests. */
  waitingFor: PendingApproval[];
  /** Step table. */
  steps: StepView[];
  /** The error of a failed run. */
  error?: string;
}

/** Builds the status view of a run from the runner and the audit trail. */
export async function statusOf(app: OpsApp, runId: string): Promise<StatusView> {
  const run = await app.store.getRun(runId);
  if (!run) throw new OpsUsageError(`run ${runId} does not exist in ${app.dbPath}`);
  const entries = app.audit.list(runId);
  const view: StatusView = {
    runId,
    status: run.status,
    waitingFor: pendingApprovals(app, runId).filter((p) => p.runId === runId),
    steps: [],
  };
  if (run.status === "failed") {
    view.error = (await explainRun(app.store, runId)).error?.message;
  }
  const rows = new Map<string, StepView>();
  for (const e of entries) {
    if (e.kind === "plan") {
      view.plan = String(e.data.name);
      const all = [
        ...(e.data.steps as { id: string; run: string[] }[]),
        ...((e.data.rollback as { id: string; run: string[] }[]) ?? []),
      ];
      for (const s of all) {
        rows.set(s.id, { id: s.id, run: s.run, status: "pending", attempts: 0 });
      }
    }
    if ((e.kind === "run.completed" || e.kind === "run.failed") && e.runId === runId) {
      // The supervisor's final step table is authoritative (it knows skipped steps, too).
      const final = (e.data.steps ?? {}) as Record<string, { phase: string; reason?: string }>;
      for (const [id, st] of Object.entries(final)) {
        const row = rows.get(id);
        if (row) {
          row.status = st.phase;
          if (st.reason) row.note = st.reason;
        }
      }
      continue;
    }
    const row = e.step ? rows.get(e.step) : undefined;
    if (!row) continue;
    applyEntry(row, e);
  }
  for (const p of view.waitingFor) {
    const row = rows.get(p.step);
    if (row) row.status = "waiting-approval";
  }
  for (const row of rows.values()) {
    // An exit code belongs to a finished step; a step still running (or re-run after a crash)
    // would otherwise show the previous attempt's exit.
    if (UNFINISHED.has(row.status)) delete row.exitCode;
  }
  view.steps = [...rows.values()];
  return view;
}

const UNFINISHED = new Set(["pending", "running", "waiting-approval", "approved"]);

function applyEntry(row: StepView, e: AuditEntry): void {
  const d = e.data;
  switch (e.kind) {
    case "command.started":
      if (d.purpose === "command") {
        row.attempts = Math.max(row.attempts, Number(d.attempt));
        row.status = "running";
      }
      break;
    case "command.finished":
      if (d.purpose === "command") row.exitCode = d.exitCode as number | null;
      break;
    case "command.refused":
      row.status = "refused";
      row.note = String(d.reason);
      break;
    case "verification":
      row.status = d.verdict === "ok" ? "succeeded" : d.verdict === "retry" ? "retrying" : "failed";
      row.note = d.reason as string | undefined;
      break;
    case "approval.granted":
      row.approvedBy = String(d.by);
      row.status = "approved";
      break;
    case "approval.denied":
      row.status = "denied";
      row.note = `denied by ${d.by}${d.comment ? `: ${d.comment}` : ""}`;
      break;
  }
}

/** The explanation of a run (or sub-run), with its sub-runs' ids. */
export async function explainOps(app: OpsApp, runId: string): Promise<Explanation> {
  const run = await app.store.getRun(runId);
  if (!run) throw new OpsUsageError(`run ${runId} does not exist in ${app.dbPath}`);
  return await explainRun(app.store, runId);
}

/** Turns a runner error for a user's mistake into a usage error. */
export function asUsage(e: unknown): unknown {
  return e instanceof RunnerError ? new OpsUsageError(e.message) : e;
}

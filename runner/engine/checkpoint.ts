/**
 * Checkpoints: a state as stored (the agent's `encode`/`decode`, JSON text) and the checkpoint an
 * invocation starts from, migrated to the agent's version when an older one wrote it.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { encodeJson } from "../json.ts";
import type { RunRecord, Store } from "../store/store.ts";
import { type Agent, agentSourceHash } from "./agent.ts";
import type { StepLogger } from "./context.ts";

type AnyAgent = Agent<unknown, unknown, unknown>;

/** A stored state (JSON text) as the agent's step receives it. */
export function decodeState(agent: AnyAgent, json: string): unknown {
  const raw = JSON.parse(json);
  return agent.decode ? agent.decode(raw) : raw;
}

/** A state as stored: JSON text of the agent's encoding of it (`path` names it in errors). */
export function encodeState(agent: AnyAgent, state: unknown, path = "state"): string {
  return encodeJson(agent.encode ? agent.encode(state) : state, path);
}

/** Where an invocation starts: the next step and the state before it. */
export interface Checkpoint {
  /** Index of the next step. */
  step: number;
  /** The state before it, decoded. */
  state: unknown;
  /** True when the lease was lost while a migration was stored (`state` is then undefined). */
  lost?: true;
}

/**
 * Loads the last committed checkpoint of a run whose lease `owner` holds: the state before the
 * next step (or the state a migration or an edit put in its place). A checkpoint of an older
 * agent version is migrated and stored as that replacement; on a resume with the same version, a
 * changed agent source is recorded and logged as a warning.
 *
 * @returns The checkpoint (`lost` when the lease was lost while the migration was stored).
 * @throws {RunnerError} When the checkpoint was not kept (the database is damaged).
 */
export async function loadCheckpoint(
  agent: AnyAgent,
  store: Store,
  run: RunRecord,
  owner: string,
  resumed: boolean,
  logger: StepLogger,
): Promise<Checkpoint> {
  const { runId } = run;
  const last = await store.lastStep(runId);
  const step = last ? last.step + 1 : run.firstStep;
  const stored = run.patchedStep === step ? run.patchedState : last ? last.state : run.initialState;
  if (stored === null) {
    throw new RunnerError(
      `run ${runId} has no stored checkpoint before step ${step}; the database is damaged`,
    );
  }
  let json: string | undefined = stored;
  if (run.agentVersion !== agent.version) {
    json = await migrate(agent, store, run, owner, step, stored);
    if (json === undefined) return { step, state: undefined, lost: true };
  } else if (resumed) {
    await noteSourceChange(agent, store, run, owner, logger);
  }
  return { step, state: decodeState(agent, json) };
}

/** Migrates a checkpoint to the agent's version and stores it; undefined when the lease is lost. */
async function migrate(
  agent: AnyAgent,
  store: Store,
  run: RunRecord,
  owner: string,
  step: number,
  json: string,
): Promise<string | undefined> {
  const migrated = agent.migrate!(JSON.parse(json), run.agentVersion);
  const stateJson = encodeState(agent, migrated, "migrated state");
  const ok = await store.updateOwnedRun(run.runId, owner, {
    agentVersion: agent.version,
    agentHash: agentSourceHash(agent),
    patchedStep: step,
    patchedState: stateJson,
  });
  if (!ok) return undefined;
  await store.addEvent(
    run.runId,
    "migrated",
    `state migrated from version ${run.agentVersion} to ${agent.version} before step ${step}`,
  );
  return stateJson;
}

/** Records (and warns) when the agent's source changed since the run last started or resumed. */
async function noteSourceChange(
  agent: AnyAgent,
  store: Store,
  run: RunRecord,
  owner: string,
  logger: StepLogger,
): Promise<void> {
  const hash = agentSourceHash(agent);
  if (hash === null || run.agentHash === null || hash === run.agentHash) return;
  await store.updateOwnedRun(run.runId, owner, { agentHash: hash });
  await store.addEvent(
    run.runId,
    "source-changed",
    `warning: the agent's source changed since the last start/resume (hash ${run.agentHash} -> ${hash}); resumed with the same version ${agent.version}`,
  );
  logger.warn(
    `agent ${agent.name} source changed since run ${run.runId} last ran; resuming (same version)`,
  );
}

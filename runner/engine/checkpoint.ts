/**
 * Checkpoints: a state as stored (the agent's `encode`/`decode`, JSON text), how each step's
 * checkpoint is written (whole, or as a delta against the one before: `CheckpointWriter`), and
 * the checkpoint an invocation starts from, migrated to the agent's version when an older one
 * wrote it.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { encodeJson } from "../json.ts";
import { encodeDelta, NotJsonError, TrackedState, type TrustOptions } from "../store/delta.ts";
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

/**
 * Name of the environment variable that makes an agent's `immutableState` promise checked:
 * `LOOM_CHECK_IMMUTABLE=1` compares every part trusted by reference value by value too, and fails
 * the step with the path of what it mutated (for tests and development; it costs a full walk).
 */
export const CHECK_IMMUTABLE_ENV = "LOOM_CHECK_IMMUTABLE";

/** Read once, like the test crash hook: only when env access to it is already granted. */
function readCheckImmutable(): boolean {
  try {
    const env = { name: "env", variable: CHECK_IMMUTABLE_ENV } as const;
    if (Deno.permissions.querySync(env).state !== "granted") return false;
    const value = Deno.env.get(CHECK_IMMUTABLE_ENV);
    return value !== undefined && value !== "" && value !== "0";
  } catch {
    return false;
  }
}

const checkImmutable = readCheckImmutable();

/** When `CheckpointWriter` stores a checkpoint whole (a snapshot) instead of as a delta. */
export interface SnapshotPolicy {
  /**
   * States whose JSON text is shorter than this (UTF-16 code units) are stored whole at every
   * step: for them a delta saves little and costs a walk.
   */
  wholeBelow: number;
  /** Most deltas in a row: reading a checkpoint replays at most this many. */
  maxDeltas: number;
  /**
   * A snapshot is stored when the deltas since the last one would outgrow this fraction of the
   * state's text, so reading a checkpoint reads at most about (1 + ratio) times its size.
   */
  deltaRatio: number;
}

/** The snapshot policy of every run. */
export const SNAPSHOT_POLICY: Readonly<SnapshotPolicy> = Object.freeze({
  wholeBelow: 2048,
  maxDeltas: 10_000,
  deltaRatio: 0.8,
});

/** A step's checkpoint as committed: whole (`state`) or as a delta (`delta`). */
export type StoredCheckpoint = { state: string; delta: null } | { state: null; delta: string };

/**
 * Writes the checkpoints of one invocation, step after step: a small state whole, a larger one
 * as a delta against the checkpoint it wrote before (`store/delta.ts`), and whole again when the
 * `SnapshotPolicy` says so. Its first checkpoint is always whole, so a delta never refers to a
 * checkpoint another invocation wrote (or one a migration or an edit replaced). Every checkpoint
 * it returns must be committed, or the invocation must end.
 */
export class CheckpointWriter {
  #tracked: TrackedState | undefined;
  /** The state could not be tracked (nested deeper than the walk goes): store it whole. */
  #untrackable = false;
  #deltas = 0;
  #deltaChars = 0;
  /** Snapshots in a row whose first delta already outweighed the state. */
  #outweighed = 0;
  /** Steps left to store whole without tracking (the state changed wholesale lately). */
  #pause = 0;

  /** Which references into the agent's states the walk trusts (`TrackedState`). */
  readonly #trust: Readonly<TrustOptions>;

  /**
   * A writer for `agent`'s states; `check` defaults to `LOOM_CHECK_IMMUTABLE` (see
   * {@linkcode CHECK_IMMUTABLE_ENV}).
   */
  constructor(
    readonly agent: AnyAgent,
    readonly policy: SnapshotPolicy = SNAPSHOT_POLICY,
    check: boolean = checkImmutable,
  ) {
    this.#trust = { trustIdentity: agent.immutableState === true, check };
  }

  /**
   * The checkpoint of the state a step recurred with.
   * @throws {NotSerializableError} When the state is not JSON, naming the path of the value.
   */
  write(state: unknown): StoredCheckpoint {
    const encoded = this.agent.encode ? this.agent.encode(state) : state;
    const tracked = this.#tracked;
    if (tracked === undefined) return this.#whole(encoded);
    let delta: string;
    try {
      delta = encodeDelta(tracked.update(encoded));
    } catch (e) {
      this.#tracked = undefined; // half-updated
      if (!(e instanceof NotJsonError)) throw e;
      return this.#whole(encoded); // throws the precise error, or stores a very deep state
    }
    const { wholeBelow, maxDeltas, deltaRatio } = this.policy;
    if (tracked.length < wholeBelow / 2) {
      this.#tracked = undefined;
      return { state: JSON.stringify(encoded), delta: null };
    }
    if (
      this.#deltas >= maxDeltas || this.#deltaChars + delta.length > deltaRatio * tracked.length
    ) {
      if (this.#deltas === 0 && ++this.#outweighed >= 2) {
        // The state changes wholesale at every step: walking it is wasted work. Store it whole
        // (today's cost) for a while, 4 steps then twice as long each time, up to 256.
        this.#tracked = undefined;
        this.#pause = 2 ** Math.min(this.#outweighed, 8);
      }
      this.#deltas = this.#deltaChars = 0;
      return { state: JSON.stringify(encoded), delta: null };
    }
    this.#outweighed = 0;
    this.#deltas++;
    this.#deltaChars += delta.length;
    return { state: null, delta };
  }

  /** A whole checkpoint; deltas follow it once the state is large enough. */
  #whole(encoded: unknown): StoredCheckpoint {
    const json = encodeJson(encoded, "state");
    if (this.#pause > 0) {
      this.#pause--;
      return { state: json, delta: null };
    }
    if (json.length >= this.policy.wholeBelow && !this.#untrackable) {
      try {
        // Tracked from the agent's own objects, so the next step's unchanged ones are recognised.
        this.#tracked = TrackedState.of(encoded, this.#trust).tracked;
        this.#deltas = this.#deltaChars = 0;
      } catch (e) {
        if (!(e instanceof NotJsonError)) throw e;
        this.#untrackable = true;
      }
    }
    return { state: json, delta: null };
  }
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

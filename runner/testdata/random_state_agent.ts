// A state that changes at random (`store/_random_states.ts`): arrays growing and shrinking, keys
// added, removed and reordered, nested changes made in place or as immutable updates, non-ASCII
// text, and values the agent's encode/decode transform (a Date, a Set). Each step's change comes
// from (seed, step), so a resumed process makes the same changes. `expectedCheckpoints` replays
// the run in memory: the JSON text each checkpoint must read back as.
import { defineAgent, recur } from "@loom/runner";
import { type Json, nextState } from "../store/_random_states.ts";
import { seededRandom } from "../testing/seed.ts";

/** The input: the seed, the number of steps, and padding that keeps the state large. */
export interface RandomStateInput {
  seed: number;
  n: number;
  pad: number;
}

interface RandomState {
  seed: number;
  n: number;
  i: number;
  data: { [key: string]: Json };
  when: Date;
  tags: Set<string>;
  pad: string;
}

function initial(input: RandomStateInput): RandomState {
  return {
    seed: input.seed,
    n: input.n,
    i: 0,
    data: { msgs: [], n: 0 },
    when: new Date(0),
    tags: new Set(["a"]),
    pad: "ü✓·".repeat(input.pad),
  };
}

function encode(s: RandomState) {
  return { ...s, when: s.when.toISOString(), tags: [...s.tags] };
}

/** One step: the state after step `state.i`, or the result once `n` steps ran. */
function advance(state: RandomState): RandomState {
  const r = seededRandom(state.seed * 7919 + state.i);
  const data = nextState(r, state.data);
  const tags = r.next() < 0.2 ? new Set([...state.tags, `t${state.i}`]) : state.tags;
  const when = r.next() < 0.3 ? new Date(state.i * 1000) : state.when;
  return { ...state, i: state.i + 1, data, tags, when };
}

function decode(raw: unknown): RandomState {
  const s = raw as ReturnType<typeof encode>;
  return { ...s, when: new Date(s.when), tags: new Set(s.tags) };
}

export default defineAgent({
  name: "random-state",
  initialState: initial,
  encode,
  decode,
  step(state) {
    if (state.i >= state.n) return state.i;
    return recur(advance(state));
  },
});

/**
 * The JSON text of the checkpoint after each step (index = step), replayed in memory. A run
 * resumed before step `s` (in `resumedAt`) continues from its stored checkpoint, decoded: the
 * replay does the same round trip there (keys whose value was undefined are gone after it).
 */
export function expectedCheckpoints(input: RandomStateInput, resumedAt: number[] = []): string[] {
  let state = initial(input);
  const out: string[] = [];
  while (state.i < state.n) {
    if (resumedAt.includes(state.i)) state = decode(JSON.parse(out[out.length - 1]));
    state = advance(state);
    out.push(JSON.stringify(encode(state)));
  }
  return out;
}

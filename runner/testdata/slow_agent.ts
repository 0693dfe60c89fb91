// Lease-test fixture: slow steps, so a second process finds the run being advanced.
import { defineAgent, recur } from "@loom/runner";

export default defineAgent({
  name: "slow",
  initialState: (input?: { n?: number; ms?: number }) => ({ i: 0, n: input?.n ?? 200, ms: input?.ms ?? 30 }),
  async step(state) {
    await new Promise((r) => setTimeout(r, state.ms));
    return state.i >= state.n ? state.i : recur({ ...state, i: state.i + 1 });
  },
});

// Test agent for the studio: counts from `current` to `target`, one step per increment, so a
// fork from step N with an edited state (another target) ends with another count.
import { defineAgent, recur } from "@loom/runner";

export default defineAgent({
  name: "studio-counter",
  initialState: (input?: { target?: number }) => ({ current: 0, target: input?.target ?? 5 }),
  step(state) {
    if (state.current >= state.target) return { counted: state.current };
    return recur({ ...state, current: state.current + 1 });
  },
});

// Trace-mode fixture: a loop with one `return` and one `recur` exit (runner/trace_test.ts).
import { defineAgent, recur } from "@loom/runner";

export default defineAgent({
  name: "looper",
  initialState: () => ({ n: 0 }),
  step(state: { n: number }) {
    if (state.n >= 2) return { n: state.n };
    return recur({ n: state.n + 1 });
  },
});

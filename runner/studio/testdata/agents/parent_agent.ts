// Test agent for the studio: a supervisor that runs two counters as child runs, so the runs page
// has a parent with children to expand.
import { defineAgent } from "@loom/runner";
import counter from "./counter_agent.ts";

export default defineAgent({
  name: "studio-parent",
  initialState: () => ({ targets: [2, 3] }),
  async step(state, ctx) {
    const results = [];
    for (const [i, target] of state.targets.entries()) {
      results.push(await ctx.child(counter, { runId: `${ctx.runId}-child-${i + 1}`, input: { target } }));
    }
    return { children: results };
  },
});

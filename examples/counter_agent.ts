/**
 * The counter agent from the runner README: counts to a target, one committed step per increment.
 *
 *     deno task runner run examples/counter_agent.ts --run-id demo --db runs.sqlite --max-steps 5
 *     deno task runner resume examples/counter_agent.ts --run-id demo --db runs.sqlite
 *     deno task runner explain --run-id demo --db runs.sqlite
 *
 * Input (optional): `--input '{"target": 100}'`.
 */
import { defineAgent, recur } from "@loom/runner";

export default defineAgent({
  name: "counter",
  initialState: (input?: { target?: number }) => ({ current: 0, target: input?.target ?? 10 }),
  step(state, ctx) {
    if (state.current >= state.target) return { current: state.current, steps: ctx.step };
    return recur({ ...state, current: state.current + 1 });
  },
});

// Timer fixture: a tool call, then a durable sleep; the result says how long the sleep took in
// wall time since the tool call (so a restart must not restart the timer).
import { defineAgent } from "@loom/runner";

const effects = Deno.env.get("LOOM_EFFECTS");

export default defineAgent({
  name: "sleeper",
  initialState: (input?: { ms?: number }) => ({ ms: input?.ms ?? 2000 }),
  async step(state, ctx) {
    const t0 = await ctx.callTool("clock", {}, () => {
      if (effects) Deno.writeTextFileSync(effects, "clock\n", { append: true });
      return Date.now();
    });
    await ctx.sleep(state.ms);
    return { sleptMs: Date.now() - t0 };
  },
});

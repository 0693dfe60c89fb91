import { defineAgent, LoomError, recur } from "./mod.ts";
let n = 0;
export default defineAgent({
  name: "demo",
  retry: { maxAttempts: 3, initialDelayMs: 5 },
  initialState: () => ({ i: 0 }),
  async step(s, ctx) {
    await ctx.callTool("fetch", { i: s.i }, () => {
      if (++n % 3 === 0) throw new LoomError("rate limited", { category: "transient" });
      return { ok: s.i };
    }, { retry: { initialDelayMs: 1 } });
    if (s.i === 3) throw new LoomError("quota exceeded for project", { category: "business" });
    return recur({ i: s.i + 1 });
  },
});

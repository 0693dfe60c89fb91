// Test agent for the studio: a loom-ops-style supervisor whose plan step "deploy" waits at an
// approval gate (the signal `approval:deploy`), then finishes with who approved or denied.
import { defineAgent, recur } from "@loom/runner";

interface Decision {
  decision: "approve" | "deny";
  by: string;
  comment?: string;
}

export default defineAgent({
  name: "studio-gate",
  initialState: (input?: { service?: string }) => ({
    phase: "plan" as "plan" | "gate" | "done",
    plan: {
      steps: [{
        id: "deploy",
        run: ["deployctl", "rollout", input?.service ?? "web"],
        approve: { by: ["ann", "bob"], reason: "production rollout" },
      }],
    },
    decision: null as Decision | null,
  }),
  async step(state, ctx) {
    if (state.phase === "plan") {
      const checked = await ctx.callTool("preflight", { service: state.plan.steps[0].run[2] }, () => ({
        healthy: true,
      }));
      if (!checked.healthy) throw new Error("preflight failed");
      return recur({ ...state, phase: "gate" as const });
    }
    if (state.phase === "gate") {
      const decision = await ctx.waitForSignal<Decision>("approval:deploy", {
        validate: (d) => {
          const x = d as Decision;
          if (!x || (x.decision !== "approve" && x.decision !== "deny") || typeof x.by !== "string") {
            throw new Error("an approval needs a decision and an approver");
          }
          return x;
        },
      });
      if (!decision || "timedOut" in decision) throw new Error("the approval timed out");
      return recur({ ...state, phase: "done" as const, decision });
    }
    return { deployed: state.decision?.decision === "approve", by: state.decision?.by ?? null };
  },
});

// Test fixture: a tool call, then a durable wait for "approve", then another tool call.
// Every real tool execution appends a line to $LOOM_EFFECTS (when set) so tests can count them.
import { defineAgent, isSignalTimeout, recur } from "@loom/runner";

function effect(line: string): void {
  const file = Deno.env.get("LOOM_EFFECTS");
  if (file) Deno.writeTextFileSync(file, line + "\n", { append: true });
}

export default defineAgent({
  name: "approval",
  initialState: (input?: { timeoutMs?: number }) => ({
    phase: "plan" as "plan" | "done",
    timeoutMs: input?.timeoutMs ?? null as number | null,
    approvedBy: null as string | null,
  }),
  async step(state, ctx) {
    if (state.phase === "done") return { approvedBy: state.approvedBy };
    const plan = await ctx.callTool("prepare", { what: "release" }, (args, info) => {
      effect(`prepare ${info.key}`);
      return { plan: `ship ${args.what}` };
    });
    const answer = await ctx.waitForSignal("approve", {
      timeoutMs: state.timeoutMs ?? undefined,
      validate: (d) => {
        if (typeof d !== "object" || d === null || typeof (d as { by?: unknown }).by !== "string") {
          throw new Error("payload needs a string field by");
        }
        return d as { by: string };
      },
    });
    if (isSignalTimeout(answer)) return { approvedBy: null, timedOut: true, plan: plan.plan };
    await ctx.callTool("deploy", { plan: plan.plan, by: answer.by }, (_args, info) => {
      effect(`deploy ${info.key}`);
      return { ok: true };
    });
    return recur({ ...state, phase: "done" as const, approvedBy: answer.by });
  },
});

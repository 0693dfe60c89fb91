/**
 * A deploy gate for the regression lab: build, then wait (durably) up to `approvalMs` for an
 * `approve` signal, then deploy; no approval in time means the deploy is escalated, not done.
 *
 * Input: `{ version, approvalMs? }`.
 */
import { defineAgent, isSignalTimeout, recur } from "@loom/runner";

export default defineAgent({
  name: "deploy-gate",
  initialState: (input: { version: string; approvalMs?: number }) => ({
    version: input.version,
    approvalMs: input.approvalMs ?? 300,
    artifact: null as string | null,
  }),
  async step(state, ctx) {
    if (state.artifact === null) {
      const artifact = await ctx.callTool(
        "build",
        { version: state.version },
        (a: { version: string }) => `app-${a.version}.tar.gz`,
      );
      return recur({ ...state, artifact });
    }
    const approval = await ctx.waitForSignal<{ by: string }>("approve", {
      timeoutMs: state.approvalMs,
    });
    if (isSignalTimeout(approval)) {
      return { deployed: false, reason: `no approval within ${state.approvalMs} ms; escalated` };
    }
    await ctx.callTool(
      "deploy",
      { artifact: state.artifact, by: approval.by },
      (a: { artifact: string }) => ({ deployed: a.artifact }),
    );
    return { deployed: true, by: approval.by };
  },
});

/**
 * Human-in-the-loop with a durable wait: plan (a tool call), wait for an `approve` signal, deploy.
 * The process may exit while waiting; the tool call before the wait is never run again.
 *
 *     deno task runner run examples/approval_agent.ts --run-id rel-1 --db runs.sqlite
 *     deno task runner signal --run-id rel-1 --db runs.sqlite --name approve --data '{"by":"ann"}'
 *     deno task runner resume examples/approval_agent.ts --run-id rel-1 --db runs.sqlite
 */
import { defineAgent, isSignalTimeout, recur } from "@loom/runner";

export default defineAgent({
  name: "approval",
  initialState: (input?: { release?: string }) => ({
    release: input?.release ?? "v1.2.3",
    deployed: false,
  }),
  async step(state, ctx) {
    if (state.deployed) return { release: state.release, deployed: true };
    const plan = await ctx.callTool("plan", { release: state.release }, (args, info) => {
      ctx.log.info(`planning ${args.release} (idempotency key ${info.key})`);
      return { steps: ["drain", "switch", "verify"] };
    });
    const answer = await ctx.waitForSignal("approve", {
      timeoutMs: 24 * 3600_000,
      validate: (d) => {
        const by = (d as { by?: unknown } | null)?.by;
        if (typeof by !== "string") throw new Error('approve needs {"by": "<name>"}');
        return { by };
      },
    });
    if (isSignalTimeout(answer)) return { release: state.release, deployed: false };
    await ctx.callTool("deploy", { release: state.release, plan, by: answer.by }, (args) => {
      ctx.log.info(`deploying ${args.release}, approved by ${args.by}`);
      return { ok: true };
    });
    return recur({ ...state, deployed: true });
  },
});

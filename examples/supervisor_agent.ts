/**
 * A supervisor built on durable child runs: one child per task, each a run of its own (inspect
 * them with `list`/`explain`); resuming the supervisor resumes unfinished children, and
 * cancelling it cancels them.
 *
 *     deno task runner run examples/supervisor_agent.ts --run-id sup --db runs.sqlite
 *     deno task runner explain --run-id sup --db runs.sqlite
 */
import { defineAgent, recur } from "@loom/runner";

const worker = defineAgent({
  name: "worker",
  initialState: (input: { task: string }) => ({ task: input.task, progress: 0 }),
  async step(state, ctx) {
    if (state.progress >= 3) return `${state.task}: done in ${ctx.step} steps`;
    await ctx.callTool("work", { task: state.task, part: state.progress }, () => true);
    return recur({ ...state, progress: state.progress + 1 });
  },
});

export default defineAgent({
  name: "supervisor",
  initialState: (input?: { tasks?: string[] }) => ({
    tasks: input?.tasks ?? ["lint", "test", "docs"],
    reports: [] as string[],
  }),
  async step(state, ctx) {
    const next = state.tasks[state.reports.length];
    if (next === undefined) return state.reports;
    const report = await ctx.child(worker, {
      runId: `${ctx.runId}/${next}`,
      input: { task: next },
    });
    return recur({ ...state, reports: [...state.reports, report] });
  },
});

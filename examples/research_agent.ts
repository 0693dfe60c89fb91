/**
 * A small agent-shaped loop for the demo: it "fetches" a few pages through `ctx.callTool`
 * (slowly, so there is time to kill it) and then writes a summary. Each real fetch appends a line
 * to the side-effect log named by `LOOM_DEMO_EFFECTS`, so you can count how often a tool really ran.
 *
 *     deno task runner run examples/research_agent.ts --run-id r1 --db runs.sqlite
 */
import { defineAgent, recur } from "@loom/runner";

interface State {
  topic: string;
  pages: string[];
  notes: string[];
}

export default defineAgent({
  name: "research",
  initialState: (input?: { topic?: string; pages?: number }): State => ({
    topic: input?.topic ?? "durable agent loops",
    pages: Array.from(
      { length: input?.pages ?? 6 },
      (_, i) => `https://example.test/page/${i + 1}`,
    ),
    notes: [],
  }),
  async step(state: State, ctx) {
    const next = state.pages[state.notes.length];
    if (next === undefined) {
      return {
        topic: state.topic,
        summary: `${state.notes.length} pages read`,
        notes: state.notes,
      };
    }
    const text = await ctx.callTool("fetch_page", { url: next }, async ({ url }, { key }) => {
      await new Promise((r) => setTimeout(r, 250)); // a slow network call
      const log = Deno.env.get("LOOM_DEMO_EFFECTS");
      if (log) await Deno.writeTextFile(log, `${key} ${url}\n`, { append: true });
      return `notes about ${state.topic} from ${url}`;
    });
    return recur({ ...state, notes: [...state.notes, text] });
  },
});

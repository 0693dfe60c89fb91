// Crash-test fixture: every step makes one tool call whose side effect is a line appended to
// $LOOM_EFFECTS ("<key> <maybeRanBefore>", the key being "<run>:<step>:effect:…"), then
// busy-waits a little so that SIGKILLs often land between the side effect and its record. The
// final result is checkable: sum of 2*i for i < n.
//
// With $LOOM_HOLD_FINAL=<path>, the final step waits until <path> exists (and creates
// "<path>.held" while it waits): a process the test means to kill cannot finish the run first.
import { defineAgent, recur } from "@loom/runner";

const effects = Deno.env.get("LOOM_EFFECTS");
const hold = Deno.env.get("LOOM_HOLD_FINAL");

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export default defineAgent({
  name: "crash",
  initialState: (input: { n: number; pad?: number }) => ({
    i: 0,
    sum: 0,
    n: input.n,
    pad: "x".repeat(input.pad ?? 0),
  }),
  async step(state, ctx) {
    if (state.i >= state.n) {
      if (hold && !exists(hold)) {
        Deno.writeTextFileSync(`${hold}.held`, "");
        while (!exists(hold)) await new Promise((r) => setTimeout(r, 5));
      }
      return { i: state.i, sum: state.sum };
    }
    const doubled = await ctx.callTool("effect", { i: state.i }, (args, info) => {
      if (effects) {
        Deno.writeTextFileSync(effects, `${info.key} ${info.maybeRanBefore}\n`, { append: true });
      }
      busy(Math.random() * 2);
      return args.i * 2;
    });
    return recur({ ...state, i: state.i + 1, sum: state.sum + doubled });
  },
});

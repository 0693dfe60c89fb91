// Owner-lock fixture, usable under least privilege (no env access): counts to `n`; at step
// `holdAt` it creates "<release>.held" and waits until the file <release> exists, so a test can
// keep a live owner inside a step for as long as it needs one.
import { defineAgent, recur } from "@loom/runner";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export default defineAgent({
  name: "held",
  initialState: (input: { n: number; holdAt?: number; release?: string }) => ({
    i: 0,
    n: input.n,
    holdAt: input.holdAt ?? -1,
    release: input.release ?? "",
  }),
  async step(state) {
    if (state.i === state.holdAt && state.release !== "") {
      Deno.writeTextFileSync(`${state.release}.held`, "");
      while (!exists(state.release)) await new Promise((r) => setTimeout(r, 5));
    }
    return state.i >= state.n ? { counted: state.i } : recur({ ...state, i: state.i + 1 });
  },
});

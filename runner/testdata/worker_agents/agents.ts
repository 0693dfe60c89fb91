// Test fixtures for the worker and PostgreSQL store tests (loaded by `worker --agents DIR`).
import { defineAgent, recur } from "@loom/runner";

/** The hash chain `chain` computes: a step applied twice (or skipped) changes the result. */
export function chainHash(n: number): number {
  let h = 0;
  for (let i = 0; i < n; i++) h = (h * 31 + i + 1) % 1_000_003;
  return h;
}

/** `n` steps of `delayMs` each; the result proves every step was applied exactly once. */
export const chain = defineAgent({
  name: "chain",
  initialState: (input: { n: number; delayMs?: number }) => ({
    i: 0,
    n: input.n,
    h: 0,
    delayMs: input.delayMs ?? 0,
  }),
  async step(s, ctx) {
    if (s.delayMs > 0) await new Promise((r) => setTimeout(r, s.delayMs));
    if (s.i >= s.n) return { i: s.i, h: s.h };
    return recur({ ...s, i: s.i + 1, h: (s.h * 31 + ctx.step + 1) % 1_000_003 });
  },
});

/** Waits for the signal `go`, then finishes with its payload. */
export const waiter = defineAgent({
  name: "waiter",
  initialState: () => ({ started: true }),
  async step(_s, ctx) {
    const data = await ctx.waitForSignal<{ value: number }>("go");
    return { got: data };
  },
});

/** Sleeps durably (suspending as `waiting` when `ms` is long), then finishes. */
export const sleeper = defineAgent({
  name: "sleeper",
  initialState: (input: { ms: number }) => ({ ms: input.ms, slept: false }),
  async step(s, ctx) {
    if (s.slept) return "woke";
    await ctx.sleep(s.ms);
    return recur({ ...s, slept: true });
  },
});

/**
 * `n` steps, each with one side effect through `ctx.callTool`: a line `<runId> <i> <maybeRanBefore>`
 * appended to the file `log`, so a test can count every side effect that happened.
 */
export const effects = defineAgent({
  name: "effects",
  initialState: (input: { n: number; log: string }) => ({ i: 0, n: input.n, log: input.log }),
  async step(s, ctx) {
    if (s.i >= s.n) return { done: s.i };
    await ctx.callTool("effect", { i: s.i }, (_args, info) => {
      Deno.writeTextFileSync(s.log, `${ctx.runId} ${s.i} ${info.maybeRanBefore}\n`, {
        append: true,
      });
      return s.i;
    });
    return recur({ ...s, i: s.i + 1 });
  },
});

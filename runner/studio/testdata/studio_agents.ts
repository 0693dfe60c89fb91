// Test fixtures of the studio: a loom-ops-style approval gate, and a counter that fails on demand.
import { defineAgent, LoomError, recur } from "@loom/runner";

/** The payload of loom-ops' `approval:<step>` signal (apps/ops/agents/approval.ts). */
interface ApprovalDecision {
  decision: "approve" | "deny";
  by: string;
  comment?: string;
  via: string;
  at: string;
}

/** Waits at the gate of plan step "restart", like a loom-ops supervisor. */
export const gate = defineAgent({
  name: "gate",
  initialState: () => ({
    plan: {
      name: "restart-api",
      steps: [{ id: "restart", run: ["svcctl", "restart", "api"], approve: { by: ["ann"], reason: "production" } }],
    },
    decision: null as ApprovalDecision | null,
  }),
  async step(state, ctx) {
    if (state.decision) return { decision: state.decision.decision, by: state.decision.by, comment: state.decision.comment ?? null };
    const d = await ctx.waitForSignal<ApprovalDecision>("approval:restart", {
      validate: (data) => {
        const x = data as ApprovalDecision;
        if (!x || (x.decision !== "approve" && x.decision !== "deny") || x.by !== "ann") {
          throw new Error("ann must decide");
        }
        return x;
      },
    });
    if ("timedOut" in d) throw new LoomError("timed out", { category: "business" });
    return recur({ ...state, decision: d });
  },
});

/** Counts to `target`; fails at step `failAt` unless the state says `fixed`. */
export const counter = defineAgent({
  name: "counter",
  initialState: (input?: { target?: number; failAt?: number }) => ({
    n: 0,
    target: input?.target ?? 3,
    failAt: input?.failAt ?? -1,
    fixed: false,
  }),
  retry: { maxAttempts: 1 },
  step(state) {
    if (state.n === state.failAt && !state.fixed) {
      throw new LoomError(`step ${state.n} fails on purpose`, { category: "business" });
    }
    if (state.n >= state.target) return { n: state.n };
    return recur({ ...state, n: state.n + 1 });
  },
});

/** Waits for a signal named "go", then completes with its data. */
export const waiter = defineAgent({
  name: "waiter",
  initialState: () => ({}),
  async step(_state, ctx) {
    return { got: await ctx.waitForSignal("go") };
  },
});

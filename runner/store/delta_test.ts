import assert from "node:assert/strict";
import { withSeed } from "../testing/seed.ts";
import { applyDelta, applyDeltas, encodeDelta, NotJsonError, TrackedState } from "./delta.ts";
import { type Json, nextState, randomValue } from "./_random_states.ts";

Deno.test(
  "delta: every state of a random history is rebuilt exactly from the one before",
  withSeed((r) => {
    for (let run = 0; run < 20; run++) {
      let state: { [key: string]: Json } = { msgs: [randomValue(r)], n: 0 };
      let { tracked, text } = TrackedState.of(state);
      assert.equal(text, JSON.stringify(state));
      let snapshot = text; // the chain of deltas since it rebuilds the same text
      const chain: string[] = [];
      for (let i = 0; i < 200; i++) {
        state = nextState(r, state);
        const want = JSON.stringify(state);
        const delta = encodeDelta(tracked.update(state));
        const got = applyDelta(text, delta);
        assert.equal(got, want, `run ${run} step ${i}: delta ${delta}`);
        assert.equal(tracked.length, want.length);
        chain.push(delta);
        assert.equal(applyDeltas(snapshot, chain), want, `run ${run} step ${i}: chain`);
        text = got;
        if (r.next() < 0.05) {
          ({ tracked, text } = TrackedState.of(JSON.parse(text)));
          snapshot = text;
          chain.length = 0;
        }
      }
    }
  }),
);

Deno.test("delta: an appended message costs about the message, not the state", () => {
  const big = "x".repeat(1000);
  let state = { messages: [] as { role: string; text: string }[], turn: 0 };
  const { tracked } = TrackedState.of(state);
  for (let i = 0; i < 100; i++) {
    state = { ...state, turn: i, messages: [...state.messages, { role: "user", text: big + i }] };
    const delta = encodeDelta(tracked.update(state));
    assert.ok(delta.length < 1100, `step ${i}: ${delta.length} characters`);
  }
  assert.equal(tracked.length, JSON.stringify(state).length);
});

Deno.test("delta: a state mutated in place is still compared by value", () => {
  const state = { items: [{ v: 1 }], name: "a" };
  let { tracked, text } = TrackedState.of(state);
  state.items[0].v = 2;
  state.items.push({ v: 3 });
  text = applyDelta(text, encodeDelta(tracked.update(state)));
  assert.equal(text, JSON.stringify(state));
  state.name = "ü";
  text = applyDelta(text, encodeDelta(tracked.update(state)));
  assert.equal(text, JSON.stringify(state));
});

Deno.test("delta: values JSON cannot store are refused", () => {
  for (
    const bad of [
      { a: () => 1 },
      { a: [undefined] },
      { a: NaN },
      { a: new Date(0) },
      { a: 1n },
      { a: Symbol("s") },
    ]
  ) {
    const { tracked } = TrackedState.of({ a: 1 });
    assert.throws(() => tracked.update(bad), NotJsonError, String(Object.keys(bad)));
  }
  const cyclic: Record<string, unknown> = { a: {} };
  (cyclic.a as Record<string, unknown>).self = cyclic;
  assert.throws(() => TrackedState.of({ a: 1 }).tracked.update(cyclic), NotJsonError);
});

import assert from "node:assert/strict";
import { withSeed } from "../testing/seed.ts";
import {
  applyDelta,
  applyDeltas,
  encodeDelta,
  MutatedStateError,
  NotJsonError,
  TrackedState,
} from "./delta.ts";
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

/** Every container reachable from `value`, parents first. */
function containers(value: unknown, out: object[] = []): object[] {
  if (typeof value !== "object" || value === null) return out;
  out.push(value);
  for (const item of Object.values(value)) containers(item, out);
  return out;
}

Deno.test(
  "delta: frozen parts are trusted by reference, unfrozen ones below them still compared",
  withSeed((r) => {
    for (let run = 0; run < 20; run++) {
      let state: { [key: string]: Json } = { msgs: [randomValue(r)], n: 0 };
      let { tracked, text } = TrackedState.of(state);
      for (let i = 0; i < 200; i++) {
        const loose = containers(state).filter((c) => !Object.isFrozen(c));
        if (loose.length > 0 && r.next() < 0.3) {
          // In place, below frozen parents: an unfrozen container reached through frozen ones.
          const c = loose[r.int(0, loose.length - 1)] as Record<string, Json> | Json[];
          if (Array.isArray(c)) c.push(randomValue(r));
          else c[`m${r.int(0, 3)}`] = randomValue(r);
        } else {
          state = nextState(r, state, true);
        }
        for (const c of containers(state)) if (r.next() < 0.7) Object.freeze(c);
        const want = JSON.stringify(state);
        text = applyDelta(text, encodeDelta(tracked.update(state)));
        assert.equal(text, want, `run ${run} step ${i}`);
        assert.equal(tracked.length, want.length);
      }
    }
  }),
);

Deno.test(
  "delta: with trustIdentity, immutable histories read back exactly (and pass the check)",
  withSeed((r) => {
    for (const check of [false, true]) {
      for (let run = 0; run < 20; run++) {
        let state: { [key: string]: Json } = { msgs: [randomValue(r)], n: 0 };
        let { tracked, text } = TrackedState.of(state, { trustIdentity: true, check });
        const snapshot = text;
        const chain: string[] = [];
        for (let i = 0; i < 200; i++) {
          state = nextState(r, state, true);
          if (r.next() < 0.3) state = { ...state, msgs: [...asArray(state.msgs), randomValue(r)] };
          const want = JSON.stringify(state);
          const delta = encodeDelta(tracked.update(state));
          text = applyDelta(text, delta);
          assert.equal(text, want, `check ${check} run ${run} step ${i}`);
          chain.push(delta);
        }
        assert.equal(applyDeltas(snapshot, chain), text);
      }
    }
  }),
);

function asArray(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}

Deno.test("delta: with trustIdentity the shared messages of a grown array are not read", () => {
  let reads = 0;
  const message = (i: number) => {
    const m = { role: "user", text: `message ${i} ü` };
    // A getter counts every read of the message's content by the walk.
    return Object.defineProperty(m, "text", {
      get: () => (reads++, `message ${i} ü`),
      enumerable: true,
    });
  };
  for (const trustIdentity of [true, false]) {
    let state = { turn: 0, messages: [0, 1, 2, 3].map(message) };
    const { tracked } = TrackedState.of(state, { trustIdentity, check: false });
    let text = JSON.stringify(state);
    reads = 0;
    for (let i = 4; i < 100; i++) {
      state = { ...state, turn: i, messages: [...state.messages, message(i)] };
      text = applyDelta(text, encodeDelta(tracked.update(state)));
    }
    // With trust: one read per new message (to render it); without: every message at every step.
    if (trustIdentity) assert.equal(reads, 96);
    else assert.ok(reads > 96 * 50, `${reads} reads`);
    assert.equal(text, JSON.stringify(state));
  }
});

Deno.test("delta: with trustIdentity and check, a mutated state fails with the path", () => {
  const state = { turn: 0, messages: [{ role: "user", text: "hi" }], meta: { "k ü": [1, 2] } };
  const trust = { trustIdentity: true, check: true };
  const cases: [(s: typeof state) => typeof state, RegExp][] = [
    [
      (s) => (s.messages.push({ role: "bot", text: "yo" }), { ...s, turn: 1 }),
      /at state\.messages,/,
    ],
    [(s) => (s.messages[0].text = "ho", { ...s, turn: 1 }), /at state\.messages\[0\]\.text,/],
    [(s) => (s.meta["k ü"].pop(), { ...s, turn: 1 }), /at state\.meta\["k ü"\],/],
    [(s) => (s.turn = 5, s), /at state\.turn,/],
  ];
  for (const [mutate, path] of cases) {
    const s = structuredClone(state);
    const { tracked } = TrackedState.of(s, trust);
    assert.throws(
      () => tracked.update(mutate(s)),
      (e) => e instanceof MutatedStateError && path.test(e.message),
    );
  }
  // Without the check the same mutation goes unseen (what the promise is about).
  const s = structuredClone(state);
  const { tracked, text } = TrackedState.of(s, { trustIdentity: true, check: false });
  s.messages.push({ role: "bot", text: "yo" });
  assert.equal(
    applyDelta(text, encodeDelta(tracked.update({ ...s, turn: 1 }))),
    JSON.stringify({ ...state, turn: 1 }),
  );
});

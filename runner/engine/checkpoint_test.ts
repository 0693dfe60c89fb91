import assert from "node:assert/strict";
import { NotSerializableError } from "../errors.ts";
import { encodeJson } from "../json.ts";
import { applyDelta, MutatedStateError } from "../store/delta.ts";
import { defineAgent } from "./agent.ts";
import { CheckpointWriter, SNAPSHOT_POLICY, type StoredCheckpoint } from "./checkpoint.ts";

type AnyAgent = ConstructorParameters<typeof CheckpointWriter>[0];

const agent = defineAgent({
  name: "w",
  initialState: () => ({}),
  step: () => null,
}) as unknown as AnyAgent;

/** What a store would read back: the whole text, or the delta applied to the one before. */
function rebuild(prev: string | undefined, c: StoredCheckpoint): string {
  if (c.state !== null) return c.state;
  assert.ok(prev !== undefined, "a delta needs the checkpoint before it");
  return applyDelta(prev, c.delta);
}

Deno.test("checkpoint writer: small states whole, large ones as deltas, whole again after a shrink", () => {
  const w = new CheckpointWriter(agent);
  const big = (n: number) => ({
    notes: Array.from({ length: n }, (_, i) => `note ${i} ü`.repeat(20)),
  });
  const states: unknown[] = [
    { a: 1 },
    big(1),
    big(20),
    big(21),
    big(22),
    { a: 2 }, // shrinks below half the threshold: whole again
    big(30),
    big(31),
    ["a root array", 1, null],
    "a root string".repeat(300),
    "another root string".repeat(300),
    big(31),
  ];
  const kinds: string[] = [];
  let prev: string | undefined;
  for (const s of states) {
    const c = w.write(s);
    kinds.push(c.state !== null ? "whole" : "delta");
    const text = rebuild(prev, c);
    assert.equal(text, JSON.stringify(s));
    prev = text;
  }
  assert.deepEqual(kinds, [
    "whole",
    "whole",
    "whole", // the first state past the threshold is whole; deltas follow it
    "delta",
    "delta",
    "whole",
    "whole",
    "delta",
    "whole", // replaced by a small array: whole (the delta would outweigh it)
    "whole",
    "whole",
    "whole",
  ]);
});

Deno.test("checkpoint writer: a value JSON cannot store fails with encodeJson's message, and the next checkpoint is whole", () => {
  const w = new CheckpointWriter(agent);
  const state = { notes: Array.from({ length: 40 }, (_, i) => `note ${i}`.repeat(10)), when: 1 };
  assert.equal(w.write(state).state, JSON.stringify(state));
  state.notes.push("more");
  assert.notEqual(w.write(state).delta, null);
  const bad = { ...state, when: new Date(0) };
  const expected = (() => {
    try {
      encodeJson(bad, "state");
    } catch (e) {
      return e as NotSerializableError;
    }
  })();
  assert.ok(expected instanceof NotSerializableError);
  assert.throws(() => w.write(bad), (e: unknown) => {
    assert.ok(e instanceof NotSerializableError);
    assert.equal(e.message, expected.message);
    assert.equal(e.path, "state.when");
    return true;
  });
  // The failed attempt left nothing behind: the retry's checkpoint is whole and exact.
  const retried = w.write(state);
  assert.equal(retried.state, JSON.stringify(state));
});

Deno.test("checkpoint writer: a snapshot follows when the deltas outweigh the state", () => {
  const w = new CheckpointWriter(agent);
  // Ten chunks; each step rewrites one, so each delta is about a tenth of the state.
  const chunks = Array.from({ length: 10 }, () => "a".repeat(400));
  const kinds: string[] = [];
  let since = 0;
  for (let i = 0; i < 60; i++) {
    chunks[i % 10] = String.fromCharCode(98 + (i % 20)).repeat(400);
    const state = { chunks: [...chunks] };
    const c = w.write(state);
    kinds.push(c.state !== null ? "whole" : "delta");
    since = c.delta === null ? 0 : since + c.delta.length;
    assert.ok(since <= SNAPSHOT_POLICY.deltaRatio * JSON.stringify(state).length, kinds.join(" "));
  }
  assert.equal(kinds[0], "whole");
  const deltas = kinds.filter((k) => k === "delta").length;
  assert.ok(deltas > 30 && deltas < 58, kinds.join(" ")); // mostly deltas, with snapshots
});

Deno.test("checkpoint writer: encode's output is what is stored", () => {
  const w = new CheckpointWriter(
    defineAgent({
      name: "e",
      initialState: () => ({ items: new Map<string, string>() }),
      encode: (s: { items: Map<string, string> }) => ({ items: [...s.items] }),
      decode: (raw: unknown) => ({ items: new Map((raw as { items: [string, string][] }).items) }),
      step: () => null,
    }) as unknown as AnyAgent,
  );
  const items = new Map<string, string>();
  let prev: string | undefined;
  for (let i = 0; i < 30; i++) {
    items.set(`k${i}`, "vålue ".repeat(30));
    const text = rebuild(prev, w.write({ items }));
    assert.equal(text, JSON.stringify({ items: [...items] }));
    prev = text;
  }
});

Deno.test("checkpoint writer: a state that changes wholesale is stored whole, and deltas come back when it grows again", () => {
  const w = new CheckpointWriter(agent);
  const kinds: string[] = [];
  let prev: string | undefined;
  const write = (s: unknown) => {
    const c = w.write(s);
    kinds.push(c.state !== null ? "whole" : "delta");
    prev = rebuild(prev, c);
    assert.equal(prev, JSON.stringify(s));
  };
  // Every step rewrites the whole state.
  for (let i = 0; i < 40; i++) write({ blob: String(i % 7).repeat(5000) });
  assert.deepEqual(kinds.filter((k) => k !== "whole"), [], kinds.join(" "));
  // Then it only grows: deltas again once the pause is over.
  const notes: string[] = [];
  for (let i = 0; i < 300; i++) {
    notes.push(`note ${i}`.repeat(10));
    write({ blob: "x".repeat(5000), notes: [...notes] });
  }
  const late = kinds.slice(-100);
  assert.ok(late.filter((k) => k === "delta").length >= 95, late.join(" "));
});

/** A chat-like state past the whole-below threshold, one more message per step. */
type Chat = { turn: number; messages: { role: string; text: string }[] };
const message = (i: number) => ({
  role: i % 2 ? "assistant" : "user",
  text: `message ${i} ü `.repeat(30),
});

Deno.test("checkpoint writer: an agent mutating its state in place without immutableState still gets exact checkpoints", () => {
  const w = new CheckpointWriter(agent, SNAPSHOT_POLICY, false);
  const state: Chat = { turn: 0, messages: [0, 1, 2, 3, 4, 5, 6, 7].map(message) };
  let prev: string | undefined;
  const kinds = new Set<string>();
  for (let i = 8; i < 60; i++) {
    state.messages.push(message(i)); // in place: the same objects at every step
    state.turn = i;
    if (i % 7 === 0) state.messages[1].text += " edited";
    const c = w.write(state);
    kinds.add(c.state !== null ? "whole" : "delta");
    prev = rebuild(prev, c);
    assert.equal(prev, JSON.stringify(state), `step ${i}`);
  }
  assert.ok(kinds.has("delta"));
});

Deno.test("checkpoint writer: immutableState trusts references; with the check, a step that mutates fails naming the path", () => {
  const immutable = defineAgent({
    name: "imm",
    initialState: () => ({}),
    step: () => null,
    immutableState: true,
  }) as unknown as AnyAgent;
  // Immutable updates: exact checkpoints, with and without the check.
  for (const check of [false, true]) {
    const w = new CheckpointWriter(immutable, SNAPSHOT_POLICY, check);
    let state: Chat = { turn: 0, messages: [0, 1, 2, 3, 4, 5, 6, 7].map(message) };
    let prev: string | undefined;
    for (let i = 8; i < 60; i++) {
      state = { ...state, turn: i, messages: [...state.messages, message(i)] };
      if (i % 7 === 0) {
        const messages = [...state.messages];
        messages[1] = { ...messages[1], text: messages[1].text + " edited" };
        state = { ...state, messages };
      }
      prev = rebuild(prev, w.write(state));
      assert.equal(prev, JSON.stringify(state), `check ${check} step ${i}`);
    }
  }
  // A step that breaks the promise: caught by the check, with the path of what it changed.
  const w = new CheckpointWriter(immutable, SNAPSHOT_POLICY, true);
  const state: Chat = { turn: 0, messages: [0, 1, 2, 3, 4, 5, 6, 7].map(message) };
  w.write(state);
  w.write({ ...state, turn: 1 });
  state.messages[2].text = "changed in place";
  assert.throws(
    () => w.write({ ...state, turn: 2 }),
    (e) =>
      e instanceof MutatedStateError && e.path === "state.messages[2].text" &&
      /immutableState: true/.test(e.message),
  );
  // The writer starts over with a whole checkpoint after the failure.
  const c = w.write({ ...state, turn: 3 });
  assert.equal(c.state, JSON.stringify({ ...state, turn: 3 }));
});

Deno.test("checkpoint writer: LOOM_CHECK_IMMUTABLE=1 fails the run of an immutableState agent that mutates, naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-check-immutable-" });
  try {
    const script = `${dir}/mutating.ts`;
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { defineAgent, openStore, recur, startRun } from ${JSON.stringify(mod)};
const agent = defineAgent({
  name: "mutating",
  immutableState: true,
  initialState: () => ({ turn: 0, notes: Array.from({ length: 10 }, (_, i) => "note " + i + " ".repeat(300)) }),
  step: (s, ctx) => {
    if (ctx.step === 5) return "done";
    s.notes.push("added in place " + ctx.step); // breaks the promise
    return recur({ ...s, turn: ctx.step });
  },
});
const store = openStore(":memory:");
const r = await startRun(agent, { store, runId: "m" });
console.log(JSON.stringify({ status: r.status, error: r.error?.message ?? null }));
store.close();
`,
    );
    const run = async (env: Record<string, string>) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--config",
          new URL("../../deno.json", import.meta.url).pathname,
          script,
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout)) as { status: string; error: string };
    };
    const checked = await run({ LOOM_CHECK_IMMUTABLE: "1" });
    assert.equal(checked.status, "failed");
    assert.match(
      checked.error,
      /mutated the state it received at state\.notes, .*immutableState: true/,
    );
    // Unchecked, the broken promise goes unseen (the run completes, with wrong checkpoints).
    const unchecked = await run({ LOOM_CHECK_IMMUTABLE: "" });
    assert.equal(unchecked.status, "completed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

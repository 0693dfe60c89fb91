import assert from "node:assert/strict";
import { assertJson, stableStringify } from "./json.ts";
import { NotSerializableError } from "./errors.ts";

function pathOf(value: unknown): string {
  try {
    assertJson(value, "state");
  } catch (e) {
    if (e instanceof NotSerializableError) return e.path;
    throw e;
  }
  return "ok";
}

Deno.test("assertJson names the path of the first non-JSON value", () => {
  assert.equal(pathOf({ a: [1, { f: () => 1 }] }), "state.a[1].f");
  assert.equal(pathOf({ when: new Date() }), "state.when");
  assert.equal(pathOf({ big: 1n }), "state.big");
  assert.equal(pathOf({ n: NaN }), "state.n");
  assert.equal(pathOf({ n: Infinity }), "state.n");
  assert.equal(pathOf({ m: new Map() }), "state.m");
  assert.equal(pathOf({ "odd key": { s: Symbol("x") } }), 'state["odd key"].s');
  assert.equal(pathOf([1, undefined]), "state[1]");
  const cyclic: Record<string, unknown> = { x: 1 };
  cyclic.self = cyclic;
  assert.equal(pathOf(cyclic), "state.self");
  class Point {
    constructor(public x: number) {}
  }
  assert.equal(pathOf({ p: new Point(1) }), "state.p");
  assert.equal(pathOf(undefined), "state");
});

Deno.test("assertJson accepts plain JSON, shared (non-cyclic) references and undefined properties", () => {
  const shared = { a: 1 };
  assert.equal(
    pathOf({ x: shared, y: shared, z: undefined, s: "ü", n: null, o: Object.create(null) }),
    "ok",
  );
});

Deno.test("the error message names the path and the kind of value", () => {
  assert.throws(
    () => assertJson({ items: [{ at: new Date(0) }] }, "state"),
    /state\.items\[0\]\.at is an instance of Date, which cannot be stored as JSON/,
  );
});

Deno.test("stableStringify sorts keys at every level and drops undefined properties", () => {
  assert.equal(
    stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }),
    '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(stableStringify({ a: 1, b: 2 }), stableStringify({ b: 2, a: 1 }));
  assert.equal(stableStringify("é"), '"é"');
});

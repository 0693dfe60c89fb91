/**
 * Random state histories for the delta checkpoint tests: a state that grows and shrinks (arrays,
 * keys added, removed and reordered, nested changes, non-ASCII strings), changed either with an
 * immutable update that shares the untouched parts or in place (the previous state mutated).
 *
 * @module
 */
import type { SeededRandom } from "../testing/seed.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Json[] | { [key: string]: Json };

const WORDS = ["a", "ünï", "日本語", "✓ ok", "emoji 🙂", "tab\t", 'quote "q"', "\\", "1", "10"];

function randomString(r: SeededRandom): string {
  const n = r.int(0, 4);
  let s = "";
  for (let i = 0; i < n; i++) s += WORDS[r.int(0, WORDS.length - 1)];
  if (r.next() < 0.1) s += "x".repeat(r.int(100, 600)); // a long one now and then
  return s;
}

function randomKey(r: SeededRandom): string {
  const keys = ["a", "b", "msgs", "k ü", "1", "10", "z", "__proto__", "n", ""];
  return keys[r.int(0, keys.length - 1)];
}

/** A random JSON value of at most `depth` levels. */
export function randomValue(r: SeededRandom, depth = 2): Json {
  const kind = r.int(0, depth > 0 ? 6 : 4);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.next() < 0.5;
    case 2:
      return r.next() < 0.5 ? r.int(-1000, 1000) : (r.next() - 0.5) * 1e6;
    case 3:
    case 4:
      return randomString(r);
    case 5: {
      const out: Json[] = [];
      for (let i = r.int(0, 4); i > 0; i--) out.push(randomValue(r, depth - 1));
      return out;
    }
    default: {
      const out: { [key: string]: Json } = {};
      for (let i = r.int(0, 4); i > 0; i--) define(out, randomKey(r), randomValue(r, depth - 1));
      return out;
    }
  }
}

/** Sets an own property (also `__proto__`, as `JSON.parse` would). */
function define(o: { [key: string]: Json }, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function isContainer(v: unknown): v is Container {
  return typeof v === "object" && v !== null;
}

function copy(c: Container): Container {
  if (Array.isArray(c)) return [...c];
  const out: { [key: string]: Json } = {};
  for (const k of Object.keys(c)) define(out, k, c[k]);
  return out;
}

/**
 * The next state: one to three random changes to `state`, made as an immutable update (the
 * containers on the way copied) or in place; only immutable updates when `immutableOnly`.
 */
export function nextState(r: SeededRandom, state: { [key: string]: Json }, immutableOnly = false): {
  [key: string]: Json;
} {
  const immutable = immutableOnly || r.next() < 0.6;
  let root = immutable ? copy(state) as { [key: string]: Json } : state;
  for (let changes = r.int(1, 3); changes > 0; changes--) {
    // Walk down to a random container, copying it on the way when immutable.
    let c: Container = root;
    for (let depth = 0; depth < 4 && r.next() < 0.6; depth++) {
      const keys: string[] = Object.keys(c);
      if (keys.length === 0) break;
      const k: string = keys[r.int(0, keys.length - 1)];
      const child: Json = (c as Record<string, Json>)[k];
      if (!isContainer(child)) break;
      const next: Container = immutable ? copy(child) : child;
      if (Array.isArray(c)) c[Number(k)] = next;
      else define(c, k, next);
      c = next;
    }
    change(r, c);
  }
  if (r.next() < 0.05) root = reorder(r, root);
  return root;
}

function change(r: SeededRandom, c: Container): void {
  if (Array.isArray(c)) {
    const op = r.int(0, 5);
    if (op <= 1) c.push(randomValue(r));
    else if (op === 2 && c.length > 0) c.pop();
    else if (op === 3 && c.length > 0) c.shift();
    else if (op === 4) c.splice(r.int(0, c.length), r.int(0, 2), randomValue(r, 1));
    else if (c.length > 0) c[r.int(0, c.length - 1)] = randomValue(r);
    return;
  }
  const keys = Object.keys(c);
  const op = r.int(0, 4);
  if (op === 0 && keys.length > 0) delete c[keys[r.int(0, keys.length - 1)]];
  else if (op === 1) (c as Record<string, unknown>)[`u${r.int(0, 3)}`] = undefined;
  else define(c, randomKey(r), randomValue(r));
}

function reorder(r: SeededRandom, o: { [key: string]: Json }): { [key: string]: Json } {
  const keys = Object.keys(o);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  const out: { [key: string]: Json } = {};
  for (const k of keys) define(out, k, o[k]);
  return out;
}

/** A history of `n` states from a random start, with each state's JSON text as it was then. */
export function randomHistory(
  r: SeededRandom,
  n: number,
): { states: { [key: string]: Json }[]; texts: string[] } {
  let state: { [key: string]: Json } = { msgs: [], n: 0 };
  const states = [], texts = [];
  for (let i = 0; i < n; i++) {
    state = nextState(r, state);
    states.push(state);
    texts.push(JSON.stringify(state));
  }
  return { states, texts };
}

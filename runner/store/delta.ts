/**
 * Delta checkpoints: the change from one checkpoint's JSON text to the next, as text splices.
 *
 * A delta is a list of splices: each replaces `removed` characters (UTF-16 code units) at offset
 * `at` of the older text with `inserted`; offsets refer to the older text and ascend, so
 * `applyDelta` applies them from the last. Its text is a JSON array of numbers, a newline, and the
 * inserted texts one after the other: `[at, removed, length, at, removed, length, ...]\n` +
 * inserted texts (JSON fragments, which hold no raw newline). The inserted texts are sliced out,
 * never parsed, so replaying a chain costs little more than reading it. Applying a delta gives exactly the text `JSON.stringify` gives for the newer state (same
 * key order, same escapes), so a reader cannot tell a rebuilt checkpoint from a whole one.
 *
 * `TrackedState` computes deltas without serialising the state: it keeps its own copy of the
 * last checkpoint's shape (containers, primitive values and the text length of every value) and
 * walks the next state against it. Unchanged strings compare by reference first, so a state that
 * gained one message costs a walk over its containers plus the text of the new message, not the
 * text of the whole state. The copy is private: a state the agent mutated in place is still
 * compared value by value. References into the agent's objects are trusted only where they
 * cannot have changed (`TrustOptions`): a container identical (`===`) to the one a tracked node
 * was last compared with is skipped without walking when its whole subtree was frozen
 * (`Object.isFrozen`) then, or, with `trustIdentity` (the agent promises never to mutate the
 * state it receives), always; so is the prefix of an array whose first items are the old array's
 * by reference, at the cost of one comparison per item. The walk also
 * validates what is new, like `assertJson`; when it finds a value JSON cannot store it throws
 * {@linkcode NotJsonError} and the caller re-checks with `encodeJson` for the precise message.
 *
 * @module
 */

/** One splice of a delta: offset in the older text, characters removed, text inserted. */
export type Splice = [at: number, removed: number, inserted: string];

/** Applies a delta (JSON text, see the module doc) to the checkpoint text it was made against. */
export function applyDelta(base: string, delta: string): string {
  return applyDeltas(base, [delta]);
}

/**
 * Applies deltas in order, each to the text the ones before it gave. The text is kept as pieces
 * of the texts it came from until the end, so a long chain costs about its deltas plus one copy
 * of the result, not a copy of the text per delta.
 */
export function applyDeltas(base: string, deltas: readonly string[]): string {
  const pieces = new Pieces(base);
  for (const delta of deltas) {
    const newline = delta.indexOf("\n");
    const d = JSON.parse(delta.slice(0, newline)) as number[];
    // Where each inserted text starts, then the splices from the last.
    const starts: number[] = new Array(d.length / 3);
    for (let i = 0, at = newline + 1; i < d.length; i += 3) {
      starts[i / 3] = at;
      at += d[i + 2];
    }
    for (let i = d.length - 3; i >= 0; i -= 3) {
      const from = starts[i / 3];
      pieces.splice(d[i], d[i + 1], delta.slice(from, from + d[i + 2]));
    }
  }
  return pieces.text();
}

/** A text as a list of pieces (slices of other texts), cheap to splice near its end. */
class Pieces {
  #parts: string[];
  #length: number;

  constructor(text: string) {
    this.#parts = [text];
    this.#length = text.length;
  }

  /** Replaces `removed` characters at `at` with `inserted`. */
  splice(at: number, removed: number, inserted: string): void {
    const parts = this.#parts;
    // Find the piece holding offset `at`, from the end (most changes are appends).
    let i = parts.length - 1;
    let start = this.#length - (parts[i]?.length ?? 0);
    while (i > 0 && start > at) {
      i--;
      start -= parts[i].length;
    }
    // The pieces [i, j) cover [start, end) with end >= at + removed.
    let j = i;
    let end = start;
    while (j < parts.length && end < at + removed) end += parts[j++].length;
    if (j === i && j < parts.length && end === at) end += parts[j++].length;
    const first = parts[i] ?? "";
    const last = j > i ? parts[j - 1] : "";
    const head = first.slice(0, at - start);
    const tail = j > i ? last.slice(last.length - (end - at - removed)) : "";
    const replaced = [head, inserted, tail].filter((p) => p.length > 0);
    parts.splice(i, j - i, ...replaced);
    if (parts.length === 0) parts.push("");
    this.#length += inserted.length - removed;
  }

  /** The whole text. */
  text(): string {
    return this.#parts.length === 1 ? this.#parts[0] : this.#parts.join("");
  }
}

/** Encodes splices (ascending, non-overlapping, offsets in the older text) as a delta's text. */
export function encodeDelta(splices: readonly Splice[]): string {
  const numbers: number[] = new Array(splices.length * 3);
  let inserted = "";
  for (let i = 0; i < splices.length; i++) {
    const [at, removed, text] = splices[i];
    numbers[3 * i] = at;
    numbers[3 * i + 1] = removed;
    numbers[3 * i + 2] = text.length;
    inserted += text;
  }
  return `[${numbers.join(",")}]\n${inserted}`;
}

/** Thrown by `TrackedState.update` for a value JSON cannot store (or nested deeper than 64). */
export class NotJsonError extends Error {
  constructor() {
    super("the state is not plain JSON");
    this.name = "NotJsonError";
  }
}

/**
 * Thrown by `TrackedState.update` under `TrustOptions.check` when a container trusted by
 * reference was changed in place since the last checkpoint.
 */
export class MutatedStateError extends Error {
  /** Path of the first changed value, e.g. `state.messages[3].text`. */
  readonly path: string;

  /** `path` names the first changed value. */
  constructor(path: string) {
    super(
      `the step mutated the state it received at ${path}, but the agent declares immutableState: true; copy what you change instead (e.g. { ...state, messages: [...state.messages, m] })`,
    );
    this.name = "MutatedStateError";
    this.path = path;
  }
}

/** Which references into the agent's objects `TrackedState` trusts (see the module doc). */
export interface TrustOptions {
  /**
   * Trust every container identical (`===`) to the one a tracked node was last compared with,
   * not only frozen ones: the agent never mutates a state it received.
   */
  trustIdentity: boolean;
  /**
   * Also compare every trusted container value by value and throw {@linkcode MutatedStateError}
   * when it changed (for tests and development: it costs the whole walk again).
   */
  check: boolean;
}

const NO_TRUST: Readonly<TrustOptions> = Object.freeze({ trustIdentity: false, check: false });

const MAX_DEPTH = 64;

/**
 * An array as tracked: its items (primitives or tracked containers) and their text lengths;
 * `src` is the agent's array it was last compared with, `frozen` whether that array and every
 * container below it were frozen then (so none of them can have changed since).
 */
class Arr {
  constructor(
    readonly items: unknown[],
    readonly lens: number[],
    public len: number,
    public src: unknown[],
    public frozen: boolean,
  ) {}
}

/** An object as tracked: keys in text order, `"key":` lengths, values and text lengths; as `Arr`. */
class Obj {
  constructor(
    readonly keys: string[],
    readonly keyLens: number[],
    readonly vals: unknown[],
    readonly lens: number[],
    public len: number,
    public src: object,
    public frozen: boolean,
  ) {}
}

/** Whether a tracked value is a primitive or a container whose whole subtree was frozen. */
function isFrozenNode(node: unknown): boolean {
  return !(node instanceof Arr || node instanceof Obj) || node.frozen;
}

/** A tracked value with its JSON text. */
interface Built {
  node: unknown;
  text: string;
}

/**
 * The fast path of the walk: `next` has the same keys in the same order as `old`, every value a
 * primitive equal to the tracked one (so nothing below it to walk). An unchanged message of a chat
 * costs this loop.
 */
function unchangedFlat(old: Obj, next: Record<string, unknown>): boolean {
  const { keys, vals } = old;
  const n = keys.length;
  let i = 0;
  for (const key in next) {
    const item = next[key];
    if (item === undefined) continue;
    if (i === n || keys[i] !== key || vals[i] !== item) return false;
    i++;
  }
  return i === n && Object.getOwnPropertySymbols(next).length === 0;
}

function buildPrimitive(value: unknown): Built {
  switch (typeof value) {
    case "string":
      return { node: value, text: JSON.stringify(value) };
    case "boolean":
      return { node: value, text: value ? "true" : "false" };
    case "number":
      if (!Number.isFinite(value)) throw new NotJsonError();
      return { node: value, text: JSON.stringify(value) };
    default:
      if (value === null) return { node: null, text: "null" };
      throw new NotJsonError();
  }
}

/** Tracks a new value (validating it as `assertJson` does) and renders its text. */
function build(value: unknown, depth: number): Built {
  if (typeof value !== "object" || value === null) return buildPrimitive(value);
  if (depth > MAX_DEPTH) throw new NotJsonError();
  if (Array.isArray(value)) {
    const items: unknown[] = new Array(value.length);
    const lens: number[] = new Array(value.length);
    const parts: string[] = new Array(value.length);
    let frozen = Object.isFrozen(value);
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) throw new NotJsonError();
      const b = build(value[i], depth + 1);
      items[i] = b.node;
      lens[i] = b.text.length;
      parts[i] = b.text;
      if (frozen) frozen = isFrozenNode(b.node);
    }
    const text = `[${parts.join(",")}]`;
    return { node: new Arr(items, lens, text.length, value, frozen), text };
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new NotJsonError();
  if (Object.getOwnPropertySymbols(value).length > 0) throw new NotJsonError();
  const keys: string[] = [], keyLens: number[] = [], vals: unknown[] = [], lens: number[] = [];
  const parts: string[] = [];
  let frozen = Object.isFrozen(value);
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    const b = build(item, depth + 1);
    const k = `${JSON.stringify(key)}:`;
    keys.push(key);
    keyLens.push(k.length);
    vals.push(b.node);
    lens.push(b.text.length);
    parts.push(k + b.text);
    if (frozen) frozen = isFrozenNode(b.node);
  }
  const text = `{${parts.join(",")}}`;
  return { node: new Obj(keys, keyLens, vals, lens, text.length, value, frozen), text };
}

/**
 * The shape of the last stored checkpoint, and the deltas from it to the next state. Create it
 * from a checkpoint with `TrackedState.of`; `update` moves it to the next state.
 */
export class TrackedState {
  #root: unknown;
  #len: number;
  /** The change of length of the value `#value` last diffed. */
  #change = 0;
  readonly #trustAll: boolean;
  readonly #check: boolean;

  private constructor(built: Built, trust: Readonly<TrustOptions>) {
    this.#root = built.node;
    this.#len = built.text.length;
    this.#trustAll = trust.trustIdentity;
    this.#check = trust.check;
  }

  /**
   * Tracks a JSON value (the state a checkpoint was written from, or a parsed one) and returns its
   * JSON text too. The tracked copy is private, but remembers which of the value's containers it
   * was made from, for `trust`.
   * @throws {NotJsonError} When the value is not plain JSON.
   */
  static of(
    value: unknown,
    trust: Readonly<TrustOptions> = NO_TRUST,
  ): { tracked: TrackedState; text: string } {
    const built = build(value, 0);
    return { tracked: new TrackedState(built, trust), text: built.text };
  }

  /** Length of the tracked checkpoint's JSON text (UTF-16 code units). */
  get length(): number {
    return this.#len;
  }

  /**
   * Moves to `next` and returns the splices from the old text to the new one. After a
   * `NotJsonError` or a `MutatedStateError` the tracked state is half-updated: discard it.
   * @throws {NotJsonError} When `next` is not plain JSON.
   * @throws {MutatedStateError} Under `TrustOptions.check`, when a trusted container changed.
   */
  update(next: unknown): Splice[] {
    const out: Splice[] = [];
    this.#root = this.#value(this.#root, this.#len, next, 0, 0, out);
    this.#len += this.#change;
    return out;
  }

  /** Whether `node` may be taken as unchanged because `next` is its container by reference. */
  #trusted(node: Arr | Obj, next: object): boolean {
    if (node.src !== next || !(this.#trustAll || node.frozen)) return false;
    if (this.#check) {
      const inside = firstDifference(node, next);
      if (inside !== undefined) {
        throw new MutatedStateError(`state${pathTo(this.#root, node) ?? ""}${inside}`);
      }
    }
    return true;
  }

  /**
   * Diffs one value (`oldLen` long at offset `at` of the old text) and returns its tracked node:
   * `old` updated in place, or a new one. Its change of length is left in `#change`.
   */
  #value(
    old: unknown,
    oldLen: number,
    next: unknown,
    at: number,
    depth: number,
    out: Splice[],
  ): unknown {
    if (old === next && (typeof next !== "object" || next === null)) {
      this.#change = 0;
      return old;
    }
    if (typeof next === "object" && next !== null && depth <= MAX_DEPTH) {
      if (Array.isArray(next)) {
        if (old instanceof Arr) {
          this.#change = this.#trusted(old, next) ? 0 : this.#array(old, next, at, depth, out);
          return old;
        }
      } else if (old instanceof Obj) {
        if (this.#trusted(old, next)) {
          this.#change = 0;
          return old;
        }
        const proto = Object.getPrototypeOf(next);
        if (proto !== Object.prototype && proto !== null) throw new NotJsonError();
        this.#change = this.#object(old, next as Record<string, unknown>, at, depth, out);
        return old;
      }
    }
    const b = build(next, depth);
    out.push([at, oldLen, b.text]);
    this.#change = b.text.length - oldLen;
    return b.node;
  }

  /**
   * How many first items of `next` are the old array's by reference and can be skipped: none
   * unless the old array is trusted not to have changed since (then its items are the ones the
   * tracked items were made from). Under `check` none, so that every item is checked.
   */
  #sharedPrefix(old: Arr, next: unknown[], common: number): number {
    if (this.#check || !(this.#trustAll || old.frozen)) return 0;
    const src = old.src;
    let k = 0;
    while (k < common && next[k] === src[k]) k++;
    return k;
  }

  #array(old: Arr, next: unknown[], at: number, depth: number, out: Splice[]): number {
    const n = old.items.length, m = next.length;
    const end = at + old.len - 1; // offset of "]" in the old text
    let change = 0;
    const common = n < m ? n : m;
    const start = this.#sharedPrefix(old, next, common);
    let p = itemOffset(old, at, end, start); // offset of item i in the old text
    // Skipped items keep their frozen flags: all set when the old array was frozen.
    let frozen = Object.isFrozen(next) && (start === 0 || old.frozen);
    for (let i = start; i < common; i++) {
      const item = next[i];
      if (item === undefined) throw new NotJsonError();
      const was = old.items[i];
      const oldLen = old.lens[i];
      if (was !== item || typeof item === "object") {
        const node = this.#value(was, oldLen, item, p, depth + 1, out);
        if (node !== was) old.items[i] = node;
        const c = this.#change;
        if (c !== 0) {
          old.lens[i] += c;
          change += c;
        }
      }
      if (frozen) frozen = isFrozenNode(old.items[i]);
      p += oldLen + 1;
    }
    if (m > n) {
      const parts: string[] = [];
      for (let i = n; i < m; i++) {
        if (next[i] === undefined) throw new NotJsonError();
        const b = build(next[i], depth + 1);
        old.items.push(b.node);
        old.lens.push(b.text.length);
        parts.push(b.text);
        if (frozen) frozen = isFrozenNode(b.node);
      }
      const text = (n > 0 ? "," : "") + parts.join(",");
      out.push([end, 0, text]);
      change += text.length;
    } else if (m < n) {
      // From the comma after item m - 1 (or the first item) to the "]".
      const from = m === 0 ? at + 1 : p - 1;
      out.push([from, end - from, ""]);
      old.items.length = m;
      old.lens.length = m;
      change -= end - from;
    }
    old.len += change;
    old.src = next;
    old.frozen = frozen;
    return change;
  }

  #object(
    old: Obj,
    next: Record<string, unknown>,
    at: number,
    depth: number,
    out: Splice[],
  ): number {
    if (unchangedFlat(old, next)) {
      old.src = next;
      old.frozen = Object.isFrozen(next);
      return 0;
    }
    const n = old.keys.length;
    let change = 0;
    let p = at + 1; // offset of entry i in the old text
    let i = 0;
    let rest: [string, unknown][] | undefined;
    let frozen = Object.isFrozen(next);
    for (const key in next) {
      const item = next[key];
      if (item === undefined) continue;
      if (rest === undefined && i < n && old.keys[i] === key) {
        const was = old.vals[i];
        const oldLen = old.lens[i];
        if (was !== item || typeof item === "object") {
          const node = this.#value(was, oldLen, item, p + old.keyLens[i], depth + 1, out);
          if (node !== was) old.vals[i] = node;
          const c = this.#change;
          if (c !== 0) {
            old.lens[i] += c;
            change += c;
          }
        }
        if (frozen) frozen = isFrozenNode(old.vals[i]);
        p += old.keyLens[i] + oldLen + 1;
        i++;
      } else {
        (rest ??= []).push([key, item]);
      }
    }
    if (Object.getOwnPropertySymbols(next).length > 0) throw new NotJsonError();
    old.src = next;
    if (rest === undefined && i === n) {
      old.frozen = frozen;
      old.len += change;
      return change;
    }
    // Keys added, removed or reordered from entry i on: replace that tail of the text.
    const end = at + old.len - 1; // offset of "}" in the old text
    const from = i === 0 ? at + 1 : p - 1;
    const parts: string[] = [];
    old.keys.length =
      old.keyLens.length =
      old.vals.length =
      old.lens.length =
        i;
    for (const [key, item] of rest ?? []) {
      const b = build(item, depth + 1);
      const k = `${JSON.stringify(key)}:`;
      old.keys.push(key);
      old.keyLens.push(k.length);
      old.vals.push(b.node);
      old.lens.push(b.text.length);
      parts.push(k + b.text);
      if (frozen) frozen = isFrozenNode(b.node);
    }
    old.frozen = frozen;
    const text = (i > 0 && parts.length > 0 ? "," : "") + parts.join(",");
    out.push([from, end - from, text]);
    change += text.length - (end - from);
    old.len += change;
    return change;
  }
}

/**
 * Offset in the old text of item `i` of a tracked array at `at` whose "]" is at `end`, summed
 * from the nearer end (a grown array's shared prefix is not walked item by item).
 */
function itemOffset(old: Arr, at: number, end: number, i: number): number {
  const n = old.items.length;
  if (i === 0) return at + 1;
  if (i >= n) return end + 1; // past the last item: only used for an append
  if (i <= n / 2) {
    let p = at + 1;
    for (let j = 0; j < i; j++) p += old.lens[j] + 1;
    return p;
  }
  let p = end + 1;
  for (let j = n - 1; j >= i; j--) p -= old.lens[j] + 1;
  return p;
}

/** A path segment as `json.ts` names it: `.key`, `["odd key"]` or `[3]`. */
function segment(key: string | number): string {
  if (typeof key === "number") return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** The path (below the tracked node) of the first value where `value` differs from `node`. */
function firstDifference(node: unknown, value: unknown): string | undefined {
  if (node instanceof Arr) {
    if (!Array.isArray(value) || value.length !== node.items.length) return "";
    for (let i = 0; i < value.length; i++) {
      const inside = firstDifference(node.items[i], value[i]);
      if (inside !== undefined) return segment(i) + inside;
    }
    return undefined;
  }
  if (node instanceof Obj) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "";
    let i = 0;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue;
      if (i >= node.keys.length || node.keys[i] !== key) return segment(key);
      const inside = firstDifference(node.vals[i], item);
      if (inside !== undefined) return segment(key) + inside;
      i++;
    }
    return i === node.keys.length ? undefined : segment(node.keys[i]);
  }
  return node === value ? undefined : "";
}

/** The path from `root` to the tracked node `target` (found by identity), for error messages. */
function pathTo(root: unknown, target: unknown): string | undefined {
  if (root === target) return "";
  const children = root instanceof Arr
    ? root.items.map((item, i) => [i, item] as const)
    : root instanceof Obj
    ? root.vals.map((item, i) => [root.keys[i], item] as const)
    : [];
  for (const [key, child] of children) {
    const below = pathTo(child, target);
    if (below !== undefined) return segment(key) + below;
  }
  return undefined;
}

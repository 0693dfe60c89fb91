import { deepEqual, equal, match, ok } from "node:assert/strict";
import { capture, looksSecret, REDACTED, scrubSecrets, toSpanError } from "./capture.ts";

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).length;

Deno.test("values are capped near maxBytes with a visible truncation marker", () => {
  for (const maxBytes of [64, 256, 1024, 4096]) {
    const big = {
      text: "é".repeat(5000), // 2 bytes each in UTF-8
      list: Array.from({ length: 2000 }, (_, i) => ({ i, s: `item ${i}` })),
      nested: { deep: { deeper: "z".repeat(3000) } },
    };
    const c = capture(big, { maxBytes });
    ok(c.truncated);
    // Markers may overshoot the cap by a bounded amount, never by the size of the input.
    ok(bytes(c.value) <= maxBytes + 200, `${bytes(c.value)} bytes for cap ${maxBytes}`);
    match(JSON.stringify(c.value), /truncated/);
  }
  const c = capture({ list: Array.from({ length: 100 }, (_, i) => i) }, { maxBytes: 120 });
  const list = (c.value as { list: unknown[] }).list;
  match(String(list[list.length - 1]), /^\[truncated: \d+ more items\]$/);
  const keys = capture(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])), {
    maxBytes: 100,
  });
  match(String((keys.value as Record<string, unknown>)["[truncated]"]), /^\d+ more keys$/);
});

Deno.test("small values pass through unchanged", () => {
  const v = { a: 1, b: [true, null, "x"], c: { d: -2.5 } };
  const c = capture(v);
  deepEqual(c.value, v);
  equal(c.truncated, false);
  equal(c.redactions, 0);
});

Deno.test("a string is never cut inside a surrogate pair", () => {
  const c = capture("😀".repeat(100), { maxBytes: 100 });
  const s = c.value as string;
  ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(s), "lone high surrogate");
  match(s, /^(😀)+… \[truncated, 400 bytes in total\]$/);
});

Deno.test("cycles and non-JSON values are rendered, never thrown", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.me = a;
  const shared = { x: 1 };
  class Point {
    constructor(public x: number) {}
  }
  const hostile = {
    get boom(): never {
      throw new Error("getter exploded");
    },
  };
  const c = capture({
    a,
    twice: [shared, shared], // shared, not cyclic
    u: undefined,
    n: NaN,
    inf: -Infinity,
    big: 12n,
    sym: Symbol("s"),
    f: function named() {},
    cls: Point,
    pt: new Point(3),
    date: new Date("2020-01-02T03:04:05Z"),
    bad: new Date("nope"),
    re: /x+/g,
    map: new Map([["k", { v: 1 }]]),
    set: new Set([1, 2]),
    bin: new Uint8Array(12),
    err: new RangeError("out"),
    hostile,
    p: Promise.resolve(1),
  });
  const v = c.value as Record<string, unknown>;
  deepEqual(v.a, { name: "a", me: "[Circular]" });
  deepEqual(v.twice, [{ x: 1 }, { x: 1 }]);
  equal(v.u, "[undefined]");
  equal(v.n, "NaN");
  equal(v.inf, "-Infinity");
  equal(v.big, "12n");
  equal(v.sym, "Symbol(s)");
  equal(v.f, "[Function named]");
  equal(v.cls, "[class Point]");
  deepEqual(v.pt, { x: 3 });
  equal(v.date, "2020-01-02T03:04:05.000Z");
  equal(v.bad, "Invalid Date");
  equal(v.re, "/x+/g");
  deepEqual(v.map, { "[Map]": [["k", { v: 1 }]] });
  deepEqual(v.set, { "[Set]": [1, 2] });
  equal(v.bin, "[Uint8Array 12 bytes]");
  equal((v.err as Record<string, unknown>).type, "RangeError");
  equal((v.err as Record<string, unknown>).message, "out");
  deepEqual(v.hostile, { boom: "[Throws: getter exploded]" });
  equal(v.p, "[Promise]");
  ok(JSON.parse(JSON.stringify(v)));
  equal(capture(undefined).value, undefined);
});

Deno.test("secret-looking keys are redacted case- and separator-insensitively; token counts are not", () => {
  for (
    const k of [
      "api_key",
      "apiKey",
      "API-KEY",
      "token",
      "access_token",
      "refreshToken",
      "password",
      "db_password",
      "Authorization",
      "client_secret",
      "Cookie",
      "x-auth-token",
    ]
  ) {
    ok(looksSecret(k), k);
  }
  for (
    const k of [
      "max_tokens",
      "input_tokens",
      "outputTokens",
      "tokenizer",
      "path",
      "author",
      "keyboard",
    ]
  ) {
    ok(!looksSecret(k), k);
  }
  const c = capture({
    user: "ada",
    API_KEY: "k",
    nested: [{ Password: "p", max_tokens: 5 }],
    token: null,
  });
  deepEqual(c.value, {
    user: "ada",
    API_KEY: REDACTED,
    nested: [{ Password: REDACTED, max_tokens: 5 }],
    token: null,
  });
  equal(c.redactions, 2);
});

Deno.test("credentials inside strings are masked", () => {
  equal(
    scrubSecrets("curl -H 'Authorization: Bearer abc.def-ghi_jkl'"),
    `curl -H 'Authorization: Bearer ${REDACTED}'`,
  );
  equal(scrubSecrets("key sk-ant-abcdefghijklmnopqrstu here"), `key ${REDACTED} here`);
  equal(scrubSecrets("ghp_abcdefghijklmnopqrstuvwxyz0123"), REDACTED);
  equal(scrubSecrets("plain text, a bearer of news"), "plain text, a bearer of news");
});

Deno.test("the redaction hook sees keys and paths, and its replacements are counted", () => {
  const seen: string[] = [];
  const c = capture({ user: { email: "ada@example.com", name: "Ada" }, note: "call 555-1234" }, {
    redact: (value, { key, path }) => {
      seen.push(path.join("."));
      if (key === "email") return REDACTED;
      if (typeof value === "string") return value.replace(/\d{3}-\d{4}/g, "[phone]");
      return value;
    },
  });
  deepEqual(c.value, { user: { email: REDACTED, name: "Ada" }, note: "call [phone]" });
  equal(c.redactions, 2);
  ok(seen.includes("user.email") && seen.includes(""));
  // A hook that throws hides the value rather than leaking it.
  const boom = capture({ a: "secret-ish" }, {
    redact: (v, { key }) => {
      if (key === "a") throw new Error("bug");
      return v;
    },
  });
  deepEqual(boom.value, { a: REDACTED });
});

Deno.test("default redaction can be turned off", () => {
  deepEqual(capture({ token: "t" }, { defaultRedaction: false }).value, { token: "t" });
});

Deno.test("toSpanError turns anything thrown into plain data", () => {
  const e = toSpanError(new TypeError("nope"));
  equal(e.type, "TypeError");
  equal(e.message, "nope");
  ok(e.stack?.includes("nope"));
  deepEqual(toSpanError("just a string"), { type: "string", message: "just a string" });
  deepEqual(toSpanError({ code: 7 }), { type: "object", message: '{"code":7}' });
  class MyError extends Error {}
  equal(toSpanError(new MyError("x")).type, "MyError");
});

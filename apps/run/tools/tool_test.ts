import assert from "node:assert/strict";
import { tool } from "./tool.ts";
import { OUTPUT_CAP } from "./types.ts";

const signal = new AbortController().signal;

Deno.test("tool: run's result becomes the model's text (strings as they are, the rest as JSON, capped)", async () => {
  const echo = tool({
    name: "echo",
    description: "Echoes.",
    parameters: { type: "object", properties: { value: {} } },
    run: ({ value }) => value,
  });
  assert.equal(echo.source, "tool");
  assert.equal(await echo.run({ value: "plain" }, { signal }), "plain");
  assert.equal(await echo.run({ value: { a: [1, 2] } }, { signal }), '{"a":[1,2]}');
  assert.equal(await echo.run({}, { signal }), "");
  const long = await echo.run({ value: "x".repeat(OUTPUT_CAP + 5) }, { signal });
  assert.match(long, /\[\.\.\. output truncated: 5 more characters\]$/);
});

Deno.test("tool: the context carries the run, the idempotency key and the call id", async () => {
  const seen: unknown[] = [];
  const probe = tool({
    name: "probe",
    description: "Shows its context.",
    parameters: { type: "object", properties: {} },
    run: (_args, ctx) => {
      seen.push({ runId: ctx.runId, key: ctx.key, callId: ctx.callId, attempt: ctx.attempt });
      ctx.warn("careful");
      return "ok";
    },
  });
  const warnings: string[] = [];
  await probe.run({}, {
    signal,
    runId: "r1",
    key: "tool:1:call_1",
    callId: "call_1",
    attempt: 2,
    warn: (m) => warnings.push(m),
  });
  assert.deepEqual(seen, [{ runId: "r1", key: "tool:1:call_1", callId: "call_1", attempt: 2 }]);
  assert.deepEqual(warnings, ["careful"]);
});

Deno.test("tool: the arguments are typed from the schema", () => {
  const typed = tool({
    name: "typed",
    description: "Types.",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string" },
        days: { type: "integer" },
        unit: { enum: ["C", "F"] },
        tags: { type: "array", items: { type: "string" } },
      },
      required: ["city"],
    },
    run: ({ city, days, unit, tags }) => {
      const c: string = city;
      const d: number | undefined = days;
      const u: "C" | "F" | undefined = unit;
      const t: string[] | undefined = tags;
      // @ts-expect-error: days is optional, so it may be undefined
      const strict: number = days;
      return [c, d, u, t, strict];
    },
  });
  assert.equal(typed.name, "typed");
});

Deno.test("tool: a malformed definition is refused at once, saying what was wrong", () => {
  const run = () => "";
  const parameters = { type: "object" } as const;
  assert.throws(
    () => tool({ name: "has space", description: "d", parameters, run }),
    /Cannot create a tool as 'name' must be 1 to 64 letters, digits, '_' or '-': current value is "has space"/,
  );
  assert.throws(
    () => tool({ name: "t", description: "", parameters, run }),
    /Cannot create tool 't' as 'description' must be a non-empty string: current value is ""/,
  );
  assert.throws(
    () => tool({ name: "t", description: "d", parameters: { type: "string" }, run }),
    /'parameters' must be a JSON Schema with type "object"/,
  );
  assert.throws(
    () => tool({ name: "t", description: "d", parameters, run, timeoutMs: 0 }),
    (e) =>
      e instanceof RangeError &&
      /'timeoutMs' must be a positive number: current value is 0/.test(e.message),
  );
  assert.throws(
    () => tool({ name: "t", description: "d", parameters, run, retry: { maxAttempts: 0 } }),
    /'retry.maxAttempts' must be a positive integer: current value is 0/,
  );
});

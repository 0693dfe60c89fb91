import assert from "node:assert/strict";
import { type JsonSchema, schemaErrors } from "./json_schema.ts";

const forecast: JsonSchema = {
  type: "object",
  properties: {
    city: { type: "string", minLength: 2 },
    days: { type: "integer", minimum: 1, maximum: 14 },
    unit: { enum: ["C", "F"] },
    tags: { type: "array", items: { type: "string" }, maxItems: 2, uniqueItems: true },
    at: { type: "object", properties: { lat: { type: "number" } }, required: ["lat"] },
  },
  required: ["city"],
  additionalProperties: false,
};

Deno.test("json schema: a valid value has no problems", () => {
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo" }), []);
  assert.deepEqual(
    schemaErrors(forecast, {
      city: "Oslo",
      days: 3,
      unit: "F",
      tags: ["a", "b"],
      at: { lat: 59.9 },
    }),
    [],
  );
});

Deno.test("json schema: each broken keyword is named with the path of the value", () => {
  assert.deepEqual(schemaErrors(forecast, {}), ["$.city is required"]);
  assert.deepEqual(schemaErrors(forecast, { city: 42 }), [
    "$.city must be a string (got number 42)",
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "O" }), [
    "$.city must have at least 2 characters (got 1)",
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", days: 2.5 }), [
    "$.days must be an integer (got number 2.5)",
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", days: 0 }), [
    "$.days must be ≥ 1 (got 0)",
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", days: 15 }), [
    "$.days must be ≤ 14 (got 15)",
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", unit: "K" }), [
    '$.unit must be one of "C", "F" (got "K")',
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", tags: ["a", 1, "a"] }), [
    "$.tags must have at most 2 items (got 3)",
    "$.tags[2] repeats an earlier item; items must be unique",
    "$.tags[1] must be a string (got number 1)",
  ]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", at: {} }), ["$.at.lat is required"]);
  assert.deepEqual(schemaErrors(forecast, { city: "Oslo", when: "now" }), [
    "$.when is not allowed (known: city, days, unit, tags, at)",
  ]);
  assert.deepEqual(schemaErrors(forecast, ["Oslo"]), ['$ must be an object (got array ["Oslo"])']);
});

Deno.test("json schema: type lists, const, pattern, exclusive bounds, additionalProperties schemas", () => {
  assert.deepEqual(schemaErrors({ type: ["string", "null"] }, null), []);
  assert.deepEqual(schemaErrors({ type: ["string", "null"] }, 1), [
    "$ must be a string or a null (got number 1)",
  ]);
  assert.deepEqual(schemaErrors({ type: "number" }, 3), [], "an integer is a number");
  assert.deepEqual(schemaErrors({ const: "yes" }, "no"), ['$ must be "yes" (got "no")']);
  assert.deepEqual(schemaErrors({ type: "string", pattern: "^[a-z]+$" }, "Abc"), [
    '$ must match /^[a-z]+$/ (got "Abc")',
  ]);
  assert.deepEqual(schemaErrors({ exclusiveMinimum: 0, exclusiveMaximum: 1 }, 1), [
    "$ must be < 1 (got 1)",
  ]);
  const strings: JsonSchema = { type: "object", additionalProperties: { type: "string" } };
  assert.deepEqual(schemaErrors(strings, { a: "x", "b c": 2 }), [
    '$["b c"] must be a string (got number 2)',
  ]);
});

Deno.test("json schema: anyOf, oneOf and allOf", () => {
  const idOrName: JsonSchema = { anyOf: [{ type: "integer" }, { type: "string", minLength: 1 }] };
  assert.deepEqual(schemaErrors(idOrName, 7), []);
  assert.deepEqual(schemaErrors(idOrName, ""), ["$ matches none of the 2 allowed shapes (anyOf)"]);
  const exactlyOne: JsonSchema = { oneOf: [{ type: "number" }, { type: "integer" }] };
  assert.deepEqual(schemaErrors(exactlyOne, 1.5), []);
  assert.deepEqual(schemaErrors(exactlyOne, 1), [
    "$ must match exactly one of the 2 allowed shapes (oneOf); it matches 2",
  ]);
  assert.deepEqual(schemaErrors({ allOf: [{ minimum: 1 }, { maximum: 3 }] }, 5), [
    "$ must be ≤ 3 (got 5)",
  ]);
});

Deno.test("json schema: unknown keywords and uncompilable patterns are ignored, never failed", () => {
  const server: JsonSchema = {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    properties: {
      path: { type: "string", format: "uri-reference", pattern: "(?<=a)(" },
      node: { $ref: "#/definitions/node" },
    },
    definitions: { node: { type: "object" } },
  };
  assert.deepEqual(schemaErrors(server, { path: "x", node: 42 }), []);
  assert.deepEqual(schemaErrors(true as unknown as JsonSchema, "anything"), []);
});

Deno.test("json schema: at most 10 problems are listed", () => {
  const many: JsonSchema = { type: "array", items: { type: "string" } };
  assert.equal(schemaErrors(many, Array.from({ length: 30 }, (_, i) => i)).length, 10);
});

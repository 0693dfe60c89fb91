/**
 * A small JSON Schema validator for the subset tool parameters use: `type` (one or a list;
 * `integer` included), `properties`, `required`, `additionalProperties` (`false` or a schema),
 * `items`, `enum`, `const`, `minimum`/`maximum`, `exclusiveMinimum`/`exclusiveMaximum`,
 * `minLength`/`maxLength`, `pattern`, `minItems`/`maxItems`, `uniqueItems`, and
 * `anyOf`/`oneOf`/`allOf`. Keywords it does not know (`$ref`, `format`, `description`, ...) are
 * ignored, never failed: a schema from an MCP server may use more than this subset, and an
 * unknown keyword must not make a valid call fail.
 *
 * @module
 */

/** A JSON Schema, as tools declare their parameters (the subset above is checked). */
export interface JsonSchema {
  /** `string`, `number`, `integer`, `boolean`, `object`, `array`, `null`, or a list of them. */
  type?: JsonType | readonly JsonType[];
  /** What it is, for the model. */
  description?: string;
  /** Schemas of an object's properties. */
  properties?: Readonly<Record<string, JsonSchema>>;
  /** Properties an object must have. */
  required?: readonly string[];
  /** `false` refuses properties not in `properties`; a schema checks them. */
  additionalProperties?: boolean | JsonSchema;
  /** Schema of an array's items. */
  items?: JsonSchema;
  /** The allowed values. */
  enum?: readonly unknown[];
  /** The one allowed value. */
  const?: unknown;
  /** Smallest number allowed. */
  minimum?: number;
  /** Largest number allowed. */
  maximum?: number;
  /** Numbers must be greater. */
  exclusiveMinimum?: number;
  /** Numbers must be smaller. */
  exclusiveMaximum?: number;
  /** Shortest string, in characters. */
  minLength?: number;
  /** Longest string, in characters. */
  maxLength?: number;
  /** Regular expression a string must match (ECMAScript, unanchored as in JSON Schema). */
  pattern?: string;
  /** Fewest items. */
  minItems?: number;
  /** Most items. */
  maxItems?: number;
  /** Items must differ from each other. */
  uniqueItems?: boolean;
  /** At least one of these schemas must hold. */
  anyOf?: readonly JsonSchema[];
  /** Exactly one of these schemas must hold. */
  oneOf?: readonly JsonSchema[];
  /** All of these schemas must hold. */
  allOf?: readonly JsonSchema[];
  /** Other keywords are allowed and ignored. */
  [keyword: string]: unknown;
}

/** The JSON types a schema's `type` can name. */
export type JsonType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "null";

const MAX_PROBLEMS = 10;

/** The JSON type of a value as a schema names it (`integer` for whole numbers). */
function typeOf(value: unknown): JsonType | "undefined" | "other" {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "number":
      return Number.isInteger(value) ? "integer" : "number";
    case "object":
      return "object";
    case "undefined":
      return "undefined";
    default:
      return "other";
  }
}

function hasType(value: unknown, type: JsonType): boolean {
  const actual = typeOf(value);
  if (type === "number") return actual === "number" || actual === "integer";
  return actual === type;
}

/** A value as a short text for a message. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `$.a.b[2]` style path of a property. */
function child(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values (for `enum`, `const`, `uniqueItems`). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function checkNumber(schema: JsonSchema, value: number, path: string, out: string[]): void {
  if (typeof schema.minimum === "number" && value < schema.minimum) {
    out.push(`${path} must be ≥ ${schema.minimum} (got ${value})`);
  }
  if (typeof schema.maximum === "number" && value > schema.maximum) {
    out.push(`${path} must be ≤ ${schema.maximum} (got ${value})`);
  }
  if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
    out.push(`${path} must be > ${schema.exclusiveMinimum} (got ${value})`);
  }
  if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
    out.push(`${path} must be < ${schema.exclusiveMaximum} (got ${value})`);
  }
}

function checkString(schema: JsonSchema, value: string, path: string, out: string[]): void {
  const length = [...value].length;
  if (typeof schema.minLength === "number" && length < schema.minLength) {
    out.push(`${path} must have at least ${schema.minLength} characters (got ${length})`);
  }
  if (typeof schema.maxLength === "number" && length > schema.maxLength) {
    out.push(`${path} must have at most ${schema.maxLength} characters (got ${length})`);
  }
  if (typeof schema.pattern === "string") {
    let re: RegExp | undefined;
    try {
      re = new RegExp(schema.pattern, "u");
    } catch {
      re = undefined; // a pattern this engine cannot compile is not checked
    }
    if (re && !re.test(value)) {
      out.push(`${path} must match /${schema.pattern}/ (got ${show(value)})`);
    }
  }
}

function checkArray(schema: JsonSchema, value: unknown[], path: string, out: string[]): void {
  if (typeof schema.minItems === "number" && value.length < schema.minItems) {
    out.push(`${path} must have at least ${schema.minItems} items (got ${value.length})`);
  }
  if (typeof schema.maxItems === "number" && value.length > schema.maxItems) {
    out.push(`${path} must have at most ${schema.maxItems} items (got ${value.length})`);
  }
  if (schema.uniqueItems === true) {
    const twin = value.findIndex((x, i) => value.slice(0, i).some((y) => jsonEqual(x, y)));
    if (twin >= 0) out.push(`${child(path, twin)} repeats an earlier item; items must be unique`);
  }
  if (isObject(schema.items)) {
    value.forEach((item, i) => check(schema.items as JsonSchema, item, child(path, i), out));
  }
}

function checkObject(
  schema: JsonSchema,
  value: Record<string, unknown>,
  path: string,
  out: string[],
): void {
  const properties = isObject(schema.properties) ? schema.properties : {};
  for (const name of Array.isArray(schema.required) ? schema.required : []) {
    if (!Object.hasOwn(value, name) || value[name] === undefined) {
      out.push(`${child(path, name)} is required`);
    }
  }
  for (const [name, item] of Object.entries(value)) {
    if (Object.hasOwn(properties, name)) {
      check(properties[name], item, child(path, name), out);
    } else if (schema.additionalProperties === false) {
      const known = Object.keys(properties);
      out.push(
        `${child(path, name)} is not allowed${
          known.length ? ` (known: ${known.join(", ")})` : " (no properties are)"
        }`,
      );
    } else if (isObject(schema.additionalProperties)) {
      check(schema.additionalProperties, item, child(path, name), out);
    }
  }
}

/** Checks one value against one schema, appending problems to `out`. */
function check(schema: unknown, value: unknown, path: string, out: string[]): void {
  if (!isObject(schema)) return; // `true`, or not a schema: anything goes
  const s = schema as JsonSchema;
  if (s.type !== undefined) {
    const types = (Array.isArray(s.type) ? s.type : [s.type]) as JsonType[];
    if (!types.some((t) => hasType(value, t))) {
      const actual = typeOf(value);
      out.push(
        `${path} must be ${
          types.map((t) => `${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`).join(" or ")
        } (got ${
          actual === "undefined"
            ? "nothing"
            : `${actual === "integer" ? "number" : actual} ${show(value)}`
        })`,
      );
      return; // the other keywords would only repeat the mismatch
    }
  }
  if (Array.isArray(s.enum) && !s.enum.some((v) => jsonEqual(v, value))) {
    out.push(`${path} must be one of ${s.enum.map(show).join(", ")} (got ${show(value)})`);
  }
  if (Object.hasOwn(s, "const") && !jsonEqual(s.const, value)) {
    out.push(`${path} must be ${show(s.const)} (got ${show(value)})`);
  }
  if (typeof value === "number") checkNumber(s, value, path, out);
  else if (typeof value === "string") checkString(s, value, path, out);
  else if (Array.isArray(value)) checkArray(s, value, path, out);
  else if (isObject(value)) checkObject(s, value, path, out);
  if (Array.isArray(s.allOf)) { for (const sub of s.allOf) check(sub, value, path, out); }
  if (Array.isArray(s.anyOf) && s.anyOf.length > 0) {
    const fits = s.anyOf.filter((sub) => schemaErrors(sub, value, path).length === 0).length;
    if (fits === 0) {
      out.push(`${path} matches none of the ${s.anyOf.length} allowed shapes (anyOf)`);
    }
  }
  if (Array.isArray(s.oneOf) && s.oneOf.length > 0) {
    const fits = s.oneOf.filter((sub) => schemaErrors(sub, value, path).length === 0).length;
    if (fits !== 1) {
      out.push(
        `${path} must match exactly one of the ${s.oneOf.length} allowed shapes (oneOf); it matches ${fits}`,
      );
    }
  }
}

/**
 * Checks a value against a JSON Schema (the subset in the module doc) and lists what is wrong,
 * one sentence fragment per problem with the path of the offending value (`$.city`,
 * `$.days[2]`). An empty list means the value is valid.
 *
 * @param schema The schema (a tool's `parameters`).
 * @param value The value (a tool call's parsed arguments).
 * @param path Name of the root in messages. @default "$"
 * @returns The problems, at most 10.
 *
 * @example
 * ```ts
 * import { schemaErrors } from "./json_schema.ts";
 *
 * const schema = {
 *   type: "object",
 *   properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } },
 *   required: ["city"],
 * } as const;
 * console.log(schemaErrors(schema, { city: "Oslo", days: 3 })); // []
 * console.log(schemaErrors(schema, { days: 0 }));
 * // ["$.city is required", "$.days must be ≥ 1 (got 0)"]
 * ```
 */
export function schemaErrors(schema: JsonSchema, value: unknown, path = "$"): string[] {
  const out: string[] = [];
  check(schema, value, path, out);
  return out.slice(0, MAX_PROBLEMS);
}

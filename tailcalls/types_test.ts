// Importing the fixture makes `deno test` type-check it (see testdata/types_fixture.ts); the
// runtime checks below make sure the well-typed loops in it also behave as typed.
import assert from "node:assert/strict";
import { countdown, describe, endless, isEven, label, lines } from "./testdata/types_fixture.ts";

Deno.test("types fixture: its well-typed loops run and return what their types say", async () => {
  assert.equal(await countdown(10, 0), 10);
  assert.equal(await label(1), "big 4");
  assert.equal(await isEven(10), true);
  assert.equal(await describe(-1), "big 4");
  assert.equal(await describe(7), 7);
  assert.deepEqual(await Array.fromAsync(lines(1)), ["page 1", "page 2", "page 3"]);
  const iterator = endless(0);
  assert.equal((await iterator.next()).value, 0);
  assert.deepEqual(await iterator.return(), { done: true, value: undefined });
});

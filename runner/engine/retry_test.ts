import assert from "node:assert/strict";
import { backoffDelay, resolveRetry, shouldRetry } from "./retry.ts";
import { classifyError, LoomError } from "../errors.ts";
import { newOwnerId, ownerIsGone, parseOwner } from "./lease.ts";

Deno.test("backoff grows exponentially, is capped, and jitter stays within its fraction", () => {
  const p = resolveRetry({ initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitter: 0 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(p, n)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
  const j = resolveRetry({ initialDelayMs: 1000, jitter: 0.5 });
  assert.equal(backoffDelay(j, 1, () => 0), 500);
  assert.equal(backoffDelay(j, 1, () => 1), 1000);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(j, 1);
    assert.ok(d >= 500 && d <= 1000, String(d));
  }
});

Deno.test("only listed categories are retried, up to maxAttempts", () => {
  const p = resolveRetry({ maxAttempts: 3 });
  assert.equal(shouldRetry(p, "transient", 1), true);
  assert.equal(shouldRetry(p, "transient", 3), false);
  assert.equal(shouldRetry(p, "unknown", 1), false);
  const q = resolveRetry({ retryOn: ["transient", "unknown"] });
  assert.equal(shouldRetry(q, "unknown", 1), true);
  assert.equal(resolveRetry({ maxAttempts: 0 }).maxAttempts, 1);
});

Deno.test("classification: policy first, then category, status, error types", () => {
  class RateLimited extends Error {}
  assert.equal(
    classifyError(new RateLimited("x"), (e) => e instanceof RateLimited ? "transient" : undefined),
    "transient",
  );
  assert.equal(classifyError(new LoomError("x", { category: "permission" })), "permission");
  assert.equal(classifyError({ category: "business" }), "business");
  assert.equal(classifyError(Object.assign(new Error("x"), { status: 429 })), "transient");
  assert.equal(classifyError(Object.assign(new Error("x"), { status: 403 })), "permission");
  assert.equal(classifyError(Object.assign(new Error("x"), { status: 422 })), "validation");
  assert.equal(classifyError(new DOMException("t", "TimeoutError")), "transient");
  assert.equal(classifyError(new TypeError("error sending request: fetch failed")), "transient");
  assert.equal(classifyError(new TypeError("x is not a function")), "unknown");
  assert.equal(classifyError(new Deno.errors.NotCapable("no")), "permission");
  assert.equal(classifyError("a string"), "unknown");
});

Deno.test("lease owners: host:pid:token; a gone pid on this host is detected, others are not", () => {
  const me = newOwnerId();
  const p = parseOwner(me)!;
  assert.equal(p.pid, Deno.pid);
  assert.equal(ownerIsGone(me), false); // ourselves
  assert.equal(ownerIsGone(`${p.host}:999999999:abc`), true); // no such pid here
  assert.equal(ownerIsGone("other-host:1:abc"), false); // cannot tell: wait for expiry
  assert.equal(parseOwner("garbage"), undefined);
});

/**
 * Seeded randomness for tests: every random choice a test makes comes from one seed, the seed
 * is printed when the test fails, and `LOOM_TEST_SEED=<seed> deno task test` replays it.
 *
 * @module
 */

/** A seeded source of pseudo-random numbers. */
export interface SeededRandom {
  /** The seed this sequence comes from. */
  readonly seed: number;
  /** The next number in [0, 1). */
  next(): number;
  /** An integer in [min, max], both ends included. */
  int(min: number, max: number): number;
}

/**
 * A deterministic generator (mulberry32) for `seed`.
 *
 * @param seed Any 32-bit integer.
 * @returns The sequence for that seed; the same seed gives the same numbers.
 *
 * @example
 * ```ts
 * import { seededRandom } from "@loom/runner/testing";
 *
 * const a = seededRandom(42), b = seededRandom(42);
 * if (a.next() !== b.next()) throw new Error("not deterministic");
 * ```
 */
export function seededRandom(seed: number): SeededRandom {
  let t = seed >>> 0;
  const next = () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), t | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

/**
 * The seed for this test run: `LOOM_TEST_SEED` when set (to replay a failure), else a fresh one.
 *
 * @throws {TypeError} When `LOOM_TEST_SEED` is not an integer.
 */
export function testSeed(): number {
  const given = Deno.env.get("LOOM_TEST_SEED");
  if (given === undefined || given === "") return crypto.getRandomValues(new Uint32Array(1))[0];
  const seed = Number(given);
  if (!Number.isInteger(seed)) {
    throw new TypeError(`LOOM_TEST_SEED must be an integer: current value is "${given}"`);
  }
  return seed;
}

/**
 * Wraps a test body that makes random choices: it gets a {@linkcode SeededRandom}, and a failure
 * is re-thrown with the seed and the command that replays it.
 *
 * @param body The test body.
 * @returns A function to hand to `Deno.test`.
 *
 * @example
 * ```ts
 * import { withSeed } from "@loom/runner/testing";
 *
 * Deno.test("kills land at random points", withSeed(async (random) => {
 *   const delayMs = random.int(0, 50);
 *   await new Promise((r) => setTimeout(r, delayMs));
 * }));
 * ```
 */
export function withSeed(
  body: (random: SeededRandom, t: Deno.TestContext) => void | Promise<void>,
): (t: Deno.TestContext) => Promise<void> {
  return async (t) => {
    const random = seededRandom(testSeed());
    try {
      await body(random, t);
    } catch (e) {
      const replay = `replay with LOOM_TEST_SEED=${random.seed} deno task test`;
      if (e instanceof Error) {
        e.message = `${e.message}\n(seed ${random.seed}: ${replay})`;
        throw e;
      }
      throw new Error(`test failed with seed ${random.seed} (${replay})`, { cause: e });
    }
  };
}

/**
 * Which functions are loops: `tailrec` and `tailstream` tag the functions they return, so
 * `tailcall` can check its target and the trampoline can find the target's step body.
 *
 * @module
 */

/** Hidden key under which a loop function keeps its step body. */
const LOOP_STEP: unique symbol = Symbol("loom.tailcalls.step");

/** What kind of loop a function is; a transfer must stay within one kind. */
export type LoopKind = "tailrec" | "tailstream";

/** What a loop function keeps about itself. */
export interface LoopInfo {
  /** `tailrec` or `tailstream`. */
  readonly kind: LoopKind;
  /** The user's step function. */
  readonly step: (...args: never[]) => unknown;
}

/** Tags `loop` as a loop of `kind` running `step`, and names it and its step for stack traces. */
export function registerLoop<F extends (...args: never[]) => unknown>(
  loop: F,
  kind: LoopKind,
  step: (...args: never[]) => unknown,
  name: string,
): F {
  Object.defineProperty(loop, LOOP_STEP, { value: { kind, step } satisfies LoopInfo });
  Object.defineProperty(loop, "name", { value: name });
  // An anonymous step (the usual `tailrec(async (n) => ...)`) would show up as a nameless frame;
  // naming it after its loop makes an error's stack say which loop's step threw.
  if (step.name === "") Object.defineProperty(step, "name", { value: `${name} step` });
  return loop;
}

/** The loop info of `fn`, or `undefined` when `fn` is not a loop. */
export function loopInfo(fn: unknown): LoopInfo | undefined {
  return typeof fn === "function"
    ? (fn as unknown as { [LOOP_STEP]?: LoopInfo })[LOOP_STEP]
    : undefined;
}

/** The step of `target` for a transfer from a loop of `kind`; a clear TypeError otherwise. */
export function transferStep(target: unknown, kind: LoopKind): LoopInfo["step"] {
  const info = loopInfo(target);
  if (info === undefined) {
    throw new TypeError(`tailcall target is not a tailrec or tailstream loop`);
  }
  if (info.kind !== kind) {
    throw new TypeError(
      `a ${kind} loop cannot tailcall the ${info.kind} loop "${(target as () => void).name}"`,
    );
  }
  return info.step;
}

/**
 * The loop-exits phase of `summarize`: which exits the steps took, next to the exits the source
 * has, so a branch that never fired shows.
 *
 * @module
 */

import { LOOM_EXIT_KIND, LOOM_EXIT_LOCATION } from "./attributes.ts";
import type { ExitSite } from "./exits.ts";
import type { Span } from "./model.ts";
import type { ExitUsage } from "./summary.ts";

/** Splits a `file:line:col` location into its file and line (the column is not compared). */
function fileAndLine(location: string): string {
  const m = /^(.*):(\d+):(\d+)$/.exec(location);
  return m ? `${m[1]}:${m[2]}` : location;
}

/** The exits the source has (`meta.exits`), not taken yet, by kind + file:line. */
function possibleExits(possibleMeta: unknown): Map<string, ExitUsage> {
  const usage = new Map<string, ExitUsage>();
  if (!Array.isArray(possibleMeta)) return usage;
  for (const site of possibleMeta as ExitSite[]) {
    if (typeof site?.location !== "string" || (site.kind !== "recur" && site.kind !== "return")) {
      continue;
    }
    const key = `${site.kind} ${fileAndLine(site.location)}`;
    if (usage.has(key)) continue;
    usage.set(key, {
      kind: site.kind,
      location: site.location,
      ...(site.loop !== undefined ? { loop: site.loop } : {}),
      count: 0,
      taken: false,
      possible: true,
    });
  }
  return usage;
}

/**
 * Merges the exits steps took (span attributes) with the exits the source has (`meta.exits`).
 *
 * @param order The spans to count.
 * @param possibleMeta The trace's `meta.exits`, whatever it holds.
 * @returns The exits, by location.
 */
export function exitUsage(order: Span[], possibleMeta: unknown): ExitUsage[] {
  const usage = possibleExits(possibleMeta); // by kind + file:line
  for (const s of order) {
    const kind = s.attributes[LOOM_EXIT_KIND];
    const location = s.attributes[LOOM_EXIT_LOCATION];
    if ((kind !== "recur" && kind !== "return") || typeof location !== "string") continue;
    const key = `${kind} ${fileAndLine(location)}`;
    const u = usage.get(key) ??
      { kind, location, count: 0, taken: false, possible: false };
    u.count++;
    u.taken = true;
    usage.set(key, u);
  }
  return [...usage.values()].sort((a, b) =>
    a.location.localeCompare(b.location, undefined, { numeric: true })
  );
}

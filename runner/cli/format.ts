/**
 * Small text helpers for the CLI: aligned tables, times and durations.
 *
 * @module
 */

/** Renders rows as an aligned text table with a header line. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(headers), ...cells.map(line)].join("\n");
}

/** ISO time without milliseconds, or "-". */
export function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined
    ? "-"
    : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A duration in ms for display. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1) return `${ms.toFixed(3)}ms`;
  if (ms < 1000) return `${ms.toFixed(1)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

/** Cuts a string to `max` characters with an ellipsis. */
export function cut(text: string | null | undefined, max = 60): string {
  if (text === null || text === undefined) return "-";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A byte count for people: `812 B`, `4.0 KiB`, `515.3 MiB`, `1.20 GiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u >= 2 && v < 10 ? 2 : 1)} ${units[u]}`;
}

/**
 * xray page benchmark: a long runner-shaped trace (`longRunTrace`: steps with an LLM call and a
 * tool call each, a crash, a resume and a wait) of 10,000, 100,000 and — with `--max-spans
 * 1000000` — 1,000,000 spans, written as an HTML page by the current `writeHtml` (compressed
 * segments, streamed) and, as the baseline measured in the same run, by the viewer as it was
 * before issue 19 (one JSON data element; taken from git at `BASELINE_COMMIT`).
 *
 * For each page: file size, write time and how far the writing process's peak RSS rose above
 * what it held with the trace built (each write runs in its own process), then in headless
 * Chromium the time from navigation to usable (the page sets `data-ready` once the Overview is
 * drawn and every tab can open), the time to open the Spans tab after that, and the page's JS
 * heap once loaded (after a GC).
 *
 *     deno run -A bench/xray_bench.ts [--max-spans 100000] [--repeat 3] [--json] [--keep DIR]
 *
 * Chromium: `/usr/bin/chromium` or `LOOM_CHROMIUM`. Without git history the baseline is skipped.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { chromium, type Page } from "npm:playwright-core@1";
import type { TraceData } from "../xray/model.ts";
import { writeHtml } from "../xray/html.ts";
import { longRunTrace } from "../xray/testdata/fixtures.ts";

/** The last commit with the viewer as it was before issue 19 (one JSON data element). */
const BASELINE_COMMIT = "0492be5";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "max-spans": { type: "string" },
    repeat: { type: "string" },
    json: { type: "boolean" },
    keep: { type: "string" },
    // internal: write one page in this (child) process and report its time and memory
    "write-child": { type: "string" },
  },
});
if (values["write-child"]) {
  await writeChild(JSON.parse(values["write-child"]));
  Deno.exit(0);
}
const MAX_SPANS = Number(values["max-spans"] ?? 100_000);
const REPEAT = Number(values.repeat ?? 3);
if (!(MAX_SPANS >= 10_000) || !(REPEAT >= 1)) {
  console.error("--max-spans must be at least 10000 and --repeat at least 1");
  Deno.exit(2);
}
const SIZES = [10_000, 100_000, 1_000_000].filter((n) => n <= MAX_SPANS);
const CHROMIUM = Deno.env.get("LOOM_CHROMIUM") ?? "/usr/bin/chromium";

type Writer = (trace: TraceData, path: string) => Promise<void>;

/** The baseline writer: the xray folder at BASELINE_COMMIT, extracted from git into `dir`. */
async function baselineWriter(dir: string, extract = true): Promise<Writer | null> {
  const root = new URL("..", import.meta.url).pathname;
  try {
    if (extract) {
      const out = await new Deno.Command("git", {
        args: ["-C", root, "archive", BASELINE_COMMIT, "xray"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).trim());
      await Deno.writeFile(`${dir}/baseline.tar`, out.stdout);
      const tar = await new Deno.Command("tar", {
        args: ["-xf", `${dir}/baseline.tar`, "-C", dir],
      }).output();
      if (!tar.success) throw new Error("tar failed");
    }
    const mod = await import(`file://${dir}/xray/html.ts`);
    return mod.writeHtml as Writer;
  } catch (e) {
    console.error(`baseline skipped: ${(e as Error).message}`);
    return null;
  }
}

interface Write {
  bytes: number;
  writeMs: number;
  /** Peak resident memory of the writing process above what it held with the trace built. */
  writerMb: number;
}

/** `VmRSS` or `VmHWM` of this process, in MB. */
function procMb(field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * The child side of `measureWrite`: builds the trace, resets the process's peak-RSS mark, writes
 * the page and reports the time and how far the peak rose above the RSS before writing.
 */
async function writeChild(
  job: { format: Row["format"]; steps: number; path: string; dir: string },
): Promise<void> {
  const write = job.format === "new" ? writeHtml : await baselineWriter(job.dir, false);
  if (!write) throw new Error("no baseline writer");
  const trace = longRunTrace(job.steps);
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5"); // peak RSS := RSS now
  } catch { /* not Linux: the peak then includes building the trace */ }
  const before = procMb("VmRSS");
  const t0 = performance.now();
  await write(trace, job.path);
  const writeMs = performance.now() - t0;
  console.log(JSON.stringify({ writeMs, writerMb: procMb("VmHWM") - before }));
}

/** Writes a page in a child process (so its memory is its own) and reads the file's size. */
async function measureWrite(
  format: Row["format"],
  steps: number,
  path: string,
  dir: string,
): Promise<Write> {
  const job = JSON.stringify({ format, steps, path, dir });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--write-child", job],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) {
    throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "failed");
  }
  const { writeMs, writerMb } = JSON.parse(text);
  return { bytes: (await Deno.stat(path)).size, writeMs, writerMb };
}

interface Load {
  readyMs: number;
  spansTabMs: number;
  heapMb: number;
}

/** Opens a page in a fresh context: time to data-ready, then to the Spans tab's rows, and heap. */
async function measureLoad(
  browser: Awaited<ReturnType<typeof chromium.launch>>,
  path: string,
): Promise<Load> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page: Page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    const t0 = performance.now();
    await page.goto(`file://${path}`, { waitUntil: "commit", timeout: 600_000 });
    await page.waitForSelector("body[data-ready]", { state: "attached", timeout: 600_000 });
    const readyMs = performance.now() - t0;
    const t1 = performance.now();
    await page.click("#mode-spans");
    await page.waitForSelector("#view-spans .vrow", { timeout: 600_000 });
    const spansTabMs = performance.now() - t1;
    const cdp = await context.newCDPSession(page);
    await cdp.send("HeapProfiler.collectGarbage");
    const { usedSize } = await cdp.send("Runtime.getHeapUsage") as { usedSize: number };
    if (errors.length) throw new Error(errors.join("; "));
    return { readyMs, spansTabMs, heapMb: usedSize / 2 ** 20 };
  } finally {
    await context.close();
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row extends Write, Load {
  format: "baseline" | "new";
  spans: number;
  error?: string;
}

async function measure(
  format: Row["format"],
  steps: number,
  path: string,
  browser: Awaited<ReturnType<typeof chromium.launch>>,
  repeat: number,
): Promise<Row> {
  const spans = 3 * steps + 5; // longRunTrace's count
  try {
    const writes: Write[] = [];
    for (let k = 0; k < repeat; k++) writes.push(await measureWrite(format, steps, path, dir));
    const loads: Load[] = [];
    for (let k = 0; k < repeat; k++) loads.push(await measureLoad(browser, path));
    return {
      format,
      spans,
      bytes: writes[0].bytes,
      writeMs: median(writes.map((w) => w.writeMs)),
      writerMb: Math.max(...writes.map((w) => w.writerMb)),
      readyMs: median(loads.map((l) => l.readyMs)),
      spansTabMs: median(loads.map((l) => l.spansTabMs)),
      heapMb: median(loads.map((l) => l.heapMb)),
    };
  } catch (e) {
    const nan = NaN;
    return {
      format,
      spans,
      bytes: nan,
      writeMs: nan,
      writerMb: nan,
      readyMs: nan,
      spansTabMs: nan,
      heapMb: nan,
      error: (e as Error).message.split("\n")[0],
    };
  }
}

const fmt = (x: number, digits = 0) => Number.isFinite(x) ? x.toFixed(digits) : "–";
const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : "–";

function print(rows: Row[]): void {
  console.log(
    "spans      format     size MB  B/span  write ms  writer MB  ready ms  spans tab ms  page heap MB",
  );
  for (const r of rows) {
    console.log(
      [
        String(r.spans).padEnd(10),
        r.format.padEnd(9),
        fmt(r.bytes / 2 ** 20, 1).padStart(8),
        fmt(r.bytes / r.spans).padStart(7),
        fmt(r.writeMs).padStart(9),
        fmt(r.writerMb).padStart(10),
        fmt(r.readyMs).padStart(9),
        fmt(r.spansTabMs).padStart(13),
        fmt(r.heapMb).padStart(13),
        r.error ? `  (${r.error})` : "",
      ].join(" "),
    );
  }
  console.log("\nnew / baseline (below 1 is better):");
  for (const n of SIZES) {
    const a = rows.find((r) => r.spans >= n * 0.99 && r.spans <= n * 1.01 && r.format === "new");
    const b = rows.find((r) =>
      r.spans >= n * 0.99 && r.spans <= n * 1.01 && r.format === "baseline"
    );
    if (!a || !b) continue;
    console.log(
      `  ${String(a.spans).padEnd(9)} size ${ratio(a.bytes, b.bytes)}  write ${
        ratio(a.writeMs, b.writeMs)
      }  ready ${ratio(a.readyMs, b.readyMs)}  page heap ${ratio(a.heapMb, b.heapMb)}`,
    );
  }
}

const dir = values.keep ?? await Deno.makeTempDir({ prefix: "loom-xray-bench-" });
await Deno.mkdir(dir, { recursive: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const baseline = await baselineWriter(dir);
  const rows: Row[] = [];
  for (const n of SIZES) {
    const steps = Math.round((n - 5) / 3);
    const repeat = n >= 1_000_000 ? 1 : REPEAT;
    if (!values.json) console.error(`${3 * steps + 5} spans…`);
    rows.push(await measure("new", steps, `${dir}/new-${n}.html`, browser, repeat));
    if (baseline) {
      rows.push(await measure("baseline", steps, `${dir}/baseline-${n}.html`, browser, repeat));
    }
  }
  if (values.json) console.log(JSON.stringify({ baselineCommit: BASELINE_COMMIT, rows }));
  else print(rows);
} finally {
  await browser.close();
  if (!values.keep) await Deno.remove(dir, { recursive: true });
}

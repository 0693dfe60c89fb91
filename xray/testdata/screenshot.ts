/**
 * Renders the realistic fixture in headless Chromium and saves screenshots, for looking at the
 * viewer's design (not a test).
 *
 *   deno run -A xray/testdata/screenshot.ts [out-dir]   (default: .loom-tmp)
 *
 * Writes viewer.png (Spans tab, an LLM call selected), viewer-<tab>.png for the other tabs (the
 * Profile, Flame and Over time tabs included) and
 * viewer-dark.png (Timeline in the dark colour scheme).
 *
 * @module
 */

import { chromium } from "npm:playwright-core@1";
import { writeHtml } from "../html.ts";
import { realisticTrace } from "./fixtures.ts";

const outDir = Deno.args[0] ?? ".loom-tmp";
await Deno.mkdir(outDir, { recursive: true });
const dir = await Deno.makeTempDir();
const trace = realisticTrace();
const compare = realisticTrace();
compare.name = "repo-agent: after prompt change";
compare.spans.find((s) => s.name === "step 3")!.output = { messages: 9, files: [], notes: "" };
const browser = await chromium.launch({
  executablePath: Deno.env.get("LOOM_CHROMIUM") ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
  ],
});
try {
  const path = `${dir}/trace.html`;
  const comparePath = `${dir}/compare.html`;
  await writeHtml(trace, path);
  await writeHtml(trace, comparePath, { compare });
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const llm = trace.spans.filter((s) => s.kind === "llm")[2];
  await page.goto(`file://${path}#tab=spans&span=${llm.id}`);
  await page.waitForSelector("body[data-ready]");
  await page.screenshot({ path: `${outDir}/viewer.png` });
  for (const tab of ["overview", "timeline", "profile", "flame", "runs", "gantt", "graph", "errors", "state"]) {
    await page.click(`#mode-${tab}`);
    await page.waitForTimeout(150);
    await page.screenshot({ path: `${outDir}/viewer-${tab}.png` });
  }
  await page.goto(`file://${comparePath}#tab=diff`);
  await page.waitForSelector("body[data-ready]");
  await page.screenshot({ path: `${outDir}/viewer-diff.png` });
  const dark = await browser.newPage({
    viewport: { width: 1500, height: 950 },
    colorScheme: "dark",
  });
  await dark.goto(`file://${path}#tab=timeline&span=${llm.id}`);
  await dark.waitForSelector("body[data-ready]");
  await dark.screenshot({ path: `${outDir}/viewer-dark.png` });
  console.log(`screenshots written to ${outDir}/`);
} finally {
  await browser.close();
  await Deno.remove(dir, { recursive: true });
}

/**
 * The viewer in a real browser: headless Chromium (Debian's `/usr/bin/chromium`) driven by
 * playwright-core, pages opened from `file://` exactly as a user opens them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { launchChromium } from "./_test_chromium.ts";
import { type Browser, type Page } from "npm:playwright-core@1";
import { writeHtml } from "./html.ts";
import type { TraceData } from "./model.ts";
import { bigTrace, longRunTrace, realisticTrace } from "./testdata/fixtures.ts";

/** A page that records console errors, page errors and every request that is not the file. */
interface Watched {
  page: Page;
  problems: string[];
  requests: string[];
}

async function open(browser: Browser, path: string, hash = ""): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    if (r.url() !== `file://${path}${hash}` && r.url() !== `file://${path}`) requests.push(r.url());
  });
  await page.goto(`file://${path}${hash}`);
  await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
  return { page, problems, requests };
}

/**
 * Waits until the search box reports `text` ("matches / spans"). Event-based: a MutationObserver
 * in the page resolves on the change itself; the page-side deadline is only there to fail with
 * what was shown instead, and is generous because a loaded machine must never reach it.
 */
async function searchCount(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  // A function, not a string: the page's CSP (rightly) refuses the string evaluation that
  // waitForFunction uses, while evaluate hands this function over through the debugger.
  const seen = await page.locator("#search-count").evaluate(
    (el, { text, timeoutMs }) =>
      new Promise<string | null>((resolve) => {
        if (el.textContent === text) return resolve(text);
        // Deno's type library has no DOM; this runs in the page, where the browser has it.
        const { MutationObserver } = globalThis as unknown as {
          MutationObserver: new (onChange: () => void) => {
            observe(target: unknown, options: Record<string, boolean>): void;
            disconnect(): void;
          };
        };
        const observer = new MutationObserver(() => {
          if (el.textContent === text) finish();
        });
        const timer = setTimeout(finish, timeoutMs);
        function finish() {
          observer.disconnect();
          clearTimeout(timer);
          resolve(el.textContent);
        }
        observer.observe(el, { childList: true, characterData: true, subtree: true });
      }),
    { text, timeoutMs },
  );
  assert.equal(seen, text, `search count: expected ${text}, saw ${seen} after ${timeoutMs} ms`);
}

async function writeTrace(dir: string, name: string, trace: TraceData, compare?: TraceData) {
  const path = `${dir}/${name}.html`;
  await writeHtml(trace, path, compare ? { compare } : {});
  return path;
}

Deno.test({
  name: "viewer in headless Chromium",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    const browser = await launchChromium();
    try {
      const trace = realisticTrace();
      const path = await writeTrace(dir, "real", trace);

      await t.step(
        "opens from file:// with no console error, no request, no injected code",
        async () => {
          const { page, problems, requests } = await open(browser, path);
          assert.deepEqual(problems, []);
          assert.deepEqual(requests, []);
          assert.equal(
            await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
            undefined,
          );
          assert.equal(await page.evaluate("document.scripts.length"), 2);
          assert.equal(await page.locator("img, iframe, object, embed").count(), 0);
          const cards = await page.locator("#cards").innerText();
          assert.match(cards, /ERRORS\s*2/i, cards);
          assert.match(cards, /LLM CALLS\s*7/i);
          assert.match(cards, /TOKENS\s*14\.7k/i);
          // the root cause is named once on the overview, with the spans it only propagated through
          const overview = await page.locator("#view-overview").innerText();
          assert.match(overview, /ROOT CAUSE\s*RateLimitError/i);
          assert.match(overview, /propagated through 2 spans/);
          await page.close();
        },
      );

      await t.step("every tab renders without errors", async () => {
        const { page, problems, requests } = await open(browser, path);
        for (
          const tab of [
            "spans",
            "timeline",
            "profile",
            "flame",
            "runs",
            "gantt",
            "graph",
            "errors",
            "state",
            "raw",
            "overview",
          ]
        ) {
          await page.click(`#mode-${tab}`);
          const text = await page.locator(`#view-${tab}`).innerText();
          assert.ok(text.trim().length > 0, `${tab} has content`);
        }
        assert.ok((await page.locator("#view-graph svg g.gnode").count()) >= 5, "graph drawn");
        assert.match(
          await page.locator("#view-graph").innerText(),
          /\bnever\b/,
          "an exit never taken is shown",
        );
        assert.match(
          await page.locator("#view-state").innerText(),
          /tests\/io_test\.ts/,
          "state diff shown",
        );
        assert.ok(
          (await page.locator("#rawtrace").innerText()).includes(
            "</script><script>window.__pwned=1",
          ),
        );
        assert.deepEqual(problems, []);
        assert.deepEqual(requests, []);
        await page.close();
      });

      await t.step("clicking a span shows its detail; hostile values show as text", async () => {
        const { page, problems } = await open(browser, path, "#tab=spans");
        const tool = trace.spans.find((s) => s.kind === "tool" && s.name === "read_file")!;
        await page.click(`.vrow[data-span="${tool.id}"]`);
        const detail = page.locator("#detail");
        assert.match(await detail.locator(".dtitle").innerText(), /read_file/);
        const text = await detail.innerText();
        assert.match(text, /INPUT/i);
        assert.ok(text.includes("</script><script>window.__pwned=1</script>"), "shown literally");
        assert.equal(
          await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
          undefined,
        );
        // a step shows the state change against the previous step
        const step2 = trace.spans.find((s) => s.name === "step 2")!;
        await page.click(`.vrow[data-span="${step2.id}"]`);
        assert.match(await detail.innerText(), /STATE CHANGE SINCE STEP 1/i);
        assert.match(page.url(), new RegExp(`span=${step2.id}`), "deep link in the URL");
        // keyboard: down moves to the next row (step 2's first child), left goes back to the parent
        await page.locator("#view-spans .vlist").focus();
        await page.keyboard.press("ArrowDown");
        assert.match(await detail.locator(".dtitle").innerText(), /chat gpt-4o/);
        await page.keyboard.press("ArrowLeft");
        assert.match(await detail.locator(".dtitle").innerText(), /step 2/);
        // the timeline zooms
        await page.click("#mode-timeline");
        const range = page.locator("#tl-range");
        assert.match(await range.innerText(), /showing 0 ms – 10\.0 s of 10\.0 s/);
        await page.click("text=Zoom in");
        assert.match(await range.innerText(), /showing 2\.\d+ s – 7\.\d+ s of 10\.0 s/);
        assert.deepEqual(problems, []);
        await page.close();
      });

      await t.step("search matches names, tags and metadata; filters narrow the tree", async () => {
        const { page } = await open(browser, path, "#tab=spans");
        const rows = () => page.locator("#view-spans .vrow.match").count();
        await page.fill("#search", "ops-bot"); // only in the run span's meta
        await searchCount(page, "1 / 23");
        assert.equal(await rows(), 1);
        await page.fill("#search", "tag:retry");
        await searchCount(page, "2 / 23");
        await page.fill("#search", "cache miss"); // meta of one tool span: both words must match
        await searchCount(page, "1 / 23");
        await page.fill("#search", "");
        await page.click("#status-ok"); // hide ok spans: only the 4 failed ones are left
        await searchCount(page, "4 / 23");
        await page.click("#status-ok");
        await searchCount(page, "");
        await page.click("#status-error");
        await searchCount(page, "19 / 23");
        await page.close();
      });

      await t.step(
        "a 100,000-span trace loads, renders virtualised rows, searches and shows details",
        async () => {
          const big = bigTrace(33_333); // 33,333 * 3 + 1 = 100,000 spans
          assert.equal(big.spans.length, 100_000);
          const bigPath = await writeTrace(dir, "big", big);
          // Functional checks only: no test asserts how long loading takes (speed belongs in bench/).
          const { page, problems, requests } = await open(browser, bigPath);
          assert.match(await page.locator("#cards").innerText(), /SPANS\s*100,000/i);
          // the Overview groups the 100,000 spans instead of listing single instances
          const groups = page.locator("#time-groups tbody tr");
          assert.ok((await groups.count()) <= 12);
          assert.match(await groups.first().innerText(), /×33,333/);
          await page.click("#mode-spans");
          await page.waitForSelector("#view-spans .vrow");
          const rendered = await page.locator("#view-spans .vrow").count();
          assert.ok(rendered > 10 && rendered < 200, `virtualised: ${rendered} rows in the DOM`);
          // scroll to the end: the last span's row is rendered on demand
          await page.locator("#view-spans .vlist").evaluate((el) => el.scrollTop = el.scrollHeight);
          const last = big.spans[big.spans.length - 1];
          await page.waitForSelector(`.vrow[data-span="${last.id}"]`, { timeout: 60_000 });
          // its detail chunk is decoded when it is selected
          await page.click(`.vrow[data-span="${last.id}"]`);
          await page.waitForSelector("#detail .dsec h4:text-is('Input')", { timeout: 60_000 });
          assert.match(await page.locator("#detail").innerText(), /"n": 33332/);
          // a free-text search looks into every detail chunk (only the last step's meta matches)
          await page.fill("#search", "needle-in-meta");
          await searchCount(page, "1 / 100,000");
          await page.fill("#search", "kind:tool status:error");
          await searchCount(page, "666 / 100,000");
          await page.click("#mode-timeline");
          assert.ok((await page.locator("#view-timeline .vrow").count()) < 200);
          assert.deepEqual(problems, []);
          assert.deepEqual(requests, []);
          await page.close();
        },
      );

      await t.step("the totals cards never overflow, the cost card included", async () => {
        const unpriced = bigTrace(300); // 300 LLM calls, none priced: "n/a" and its note
        const { page, problems } = await open(browser, await writeTrace(dir, "cards", unpriced));
        const cards = page.locator("#cards .card");
        for (let k = 0; k < await cards.count(); k++) {
          const [scroll, client, text] = await cards.nth(k).evaluate((el) => [
            el.scrollWidth,
            el.clientWidth,
            (el as unknown as { innerText: string }).innerText,
          ]);
          assert.ok(scroll <= client, `card ${k} (${text}) overflows: ${scroll} > ${client}`);
        }
        assert.match(await page.locator("#cards").innerText(), /COST\s*n\/a/i);
        assert.deepEqual(problems, []);
        await page.close();
      });

      await t.step("the Profile tab aggregates, sorts, and a row filters the spans", async () => {
        const { page, problems } = await open(browser, path, "#tab=profile");
        const table = page.locator("#profile-table");
        await table.waitFor();
        const counts = async () =>
          (await table.locator("tbody tr td:nth-child(2)").allInnerTexts()).map((x) =>
            Number(x.replace(/,/g, ""))
          );
        await table.locator("th[data-key=count]").click();
        const desc = await counts();
        assert.deepEqual(desc, desc.slice().sort((a, b) => b - a), "count, most first");
        await table.locator("th[data-key=count]").click();
        const asc = await counts();
        assert.deepEqual(asc, asc.slice().sort((a, b) => a - b), "count, fewest first");
        // by kind: the rows add up to every span once
        await page.click("#profile-byKind");
        assert.equal((await counts()).reduce((a, b) => a + b, 0), trace.spans.length);
        // by name: "step #" holds the 7 steps; its row filters the span list to them
        await page.click("#profile-byName");
        const stepRow = table.locator("tbody tr", { hasText: "step #" });
        assert.match(await stepRow.innerText(), /step #\s+7\b/);
        await stepRow.click();
        assert.equal(await page.inputValue("#search"), 'kind:step group:"step #"');
        await searchCount(page, "7 / 23");
        assert.ok(await page.locator("#view-spans").isVisible());
        assert.deepEqual(problems, []);
        await page.close();
      });

      await t.step(
        "the flame graph renders, zooms into a frame and back, and highlights a search",
        async () => {
          const { page, problems } = await open(browser, path, "#tab=flame");
          const frames = page.locator("#flame-svg g.fl");
          await frames.first().waitFor();
          const all = await frames.count();
          assert.ok(all >= 8, `${all} frames`);
          // frames are coloured by kind
          assert.ok((await page.locator("#flame-svg g.fl rect.b-llm").count()) >= 1);
          await page.locator('#flame-svg g.fl[data-node="1"]').click(); // the steps' frame
          await page.locator("#flame-crumbs", { hasText: "step #" }).waitFor();
          assert.match(
            await page.locator("#flame-crumbs").innerText(),
            /all › repo-agent run › step #/,
          );
          assert.equal(await page.locator("#flame-svg g.fl.focus").getAttribute("data-node"), "1");
          await page.locator("#flame-crumbs .link", { hasText: "all" }).click();
          await page.locator('#flame-svg g.fl.focus[data-node="-1"]').waitFor();
          assert.equal(await frames.count(), all, "back to the whole tree");
          await page.fill("#flame-search", "run_tests");
          await page.locator("#flame-info", { hasText: "1 frame match" }).waitFor();
          assert.equal(await page.locator("#flame-svg g.fl.hit").count(), 1);
          assert.ok((await page.locator("#flame-svg g.fl.dim").count()) > 0);
          assert.deepEqual(problems, []);
          await page.close();
        },
      );

      await t.step("a run that crashed and resumed shows its processes and markers", async () => {
        const run = longRunTrace(300);
        const { page, problems } = await open(
          browser,
          await writeTrace(dir, "long", run),
          "#tab=timeline",
        );
        const lane = page.locator("#process-lane");
        await lane.waitFor();
        assert.equal(await lane.locator(".pband").count(), 3);
        for (const kind of ["start", "crash", "lease-takeover", "resume", "wait", "wake"]) {
          assert.equal(await lane.locator(`.pmark.${kind}`).count(), 1, kind);
        }
        assert.match(
          await lane.locator(".pband").first().innerText(),
          /process 1 · build-7:41213:k2fz9/,
        );
        assert.equal(await lane.locator(".pgap").count(), 2, "the time no process ran the run");
        await page.click("#mode-runs");
        const strip = page.locator("#strip-duration svg g.sbin");
        await strip.first().waitFor();
        assert.ok((await strip.count()) >= 100);
        assert.ok((await page.locator("#strip-tokens svg g.sbin").count()) >= 100);
        assert.ok((await page.locator("#strip-cost svg g.sbin").count()) >= 100);
        assert.equal(await page.locator("#strip-duration line.sline.crash").count(), 1);
        const processes = page.locator("#process-table tbody tr");
        assert.equal(await processes.count(), 3);
        assert.match(await processes.nth(0).innerText(), /0–100\s.*crashed/s);
        assert.match(await processes.nth(1).innerText(), /101–200\s.*waiting/s);
        // a bin opens its step
        await strip.first().click();
        assert.match(await page.locator("#detail .dtitle").innerText(), /step \d+/);
        assert.deepEqual(problems, []);
        await page.close();
      });

      await t.step(
        "a comparison shows both traces side by side with changed steps marked",
        async () => {
          const b = realisticTrace();
          b.name = "after the prompt change";
          const s1 = b.spans.find((s) => s.name === "step 1")!;
          s1.output = { messages: 99 };
          const cmpPath = await writeTrace(dir, "cmp", trace, b);
          const { page, problems } = await open(browser, cmpPath, "#tab=diff");
          const view = page.locator("#view-diff");
          assert.match(await view.innerText(), /after the prompt change/i);
          assert.equal(await view.locator(".vrow.changed").count(), 1);
          await view.locator(".vrow.changed").click();
          assert.match(await view.innerText(), /Step 1: differs/);
          assert.deepEqual(problems, []);
          await page.close();
        },
      );
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

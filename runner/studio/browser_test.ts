/**
 * Loom Studio in a real browser: headless Chromium (Debian's `/usr/bin/chromium`) driven by
 * playwright-core, against the real studio handler served on 127.0.0.1 over a real SQLite file.
 *
 * The test starts runs with the library (as a developer's process would), watches them appear
 * on the runs page without a reload, approves a loom-ops-style gate through the run page, sees
 * the run complete, forks a run from a step with an edited state (after the editor refused
 * invalid JSON), opens the compare page, and checks that no console error happened and no
 * request left the studio's origin. The embedded worker scenario (`--agents`) runs on a SQLite
 * file and on PostgreSQL: runs advance by themselves after an approval or a fork, and Resume
 * advances a paused run while the worker is busy. With `LOOM_STUDIO_SCREENSHOTS=DIR` it saves a
 * screenshot of each page into DIR.
 *
 * @module
 */

import assert from "node:assert/strict";
import { launchChromium } from "../../xray/_test_chromium.ts";
import { type Browser, type BrowserContext, type Page } from "npm:playwright-core@1";
import { type Agent, defineAgent, enqueueRun, resumeRun, startRun, type Store } from "../mod.ts";
import { POSTGRES_BACKEND, SQLITE_BACKEND, type StoreBackend } from "../testing/_stores.ts";
import { createStudioHandler } from "./handler.ts";
import gateAgent from "./testdata/agents/gate_agent.ts";
import counterAgent from "./testdata/agents/counter_agent.ts";
import parentAgent from "./testdata/agents/parent_agent.ts";

const SCREENS = Deno.env.get("LOOM_STUDIO_SCREENSHOTS");
/** Generous: only reached when the awaited state never comes, never on a slow machine. */
const TIMEOUT = 60_000;

/** Records console errors/warnings, page errors, and every request outside the studio. */
interface Watch {
  problems: string[];
  outside: string[];
  posts: string[];
}

async function watchContext(context: BrowserContext, origin: string): Promise<Watch> {
  const w: Watch = { problems: [], outside: [], posts: [] };
  // Every request is checked before it leaves: one to another origin is recorded and refused.
  await context.route(() => true, (route) => {
    const u = route.request().url();
    if (u.startsWith(origin + "/") || u.startsWith("data:") || u === "about:blank") {
      return route.continue();
    }
    w.outside.push(u);
    return route.abort();
  });
  context.on("page", (page) => watchPage(page, w));
  return w;
}

function watchPage(page: Page, w: Watch): void {
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      w.problems.push(`console ${m.type()} on ${page.url()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => w.problems.push(`page error on ${page.url()}: ${e.message}`));
  page.on("dialog", (d) => {
    w.problems.push(`dialog on ${page.url()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on("request", (r) => {
    if (r.method() === "POST") w.posts.push(new URL(r.url()).pathname);
  });
}

/** Saves `DIR/name.png` when `LOOM_STUDIO_SCREENSHOTS=DIR` is set: the whole page, or the window. */
async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  if (!SCREENS) return;
  await Deno.mkdir(SCREENS, { recursive: true });
  await page.screenshot({ path: `${SCREENS}/${name}.png`, fullPage });
}

/** Waits for the page script to have rendered (it sets `data-ready` on body). */
async function ready(page: Page): Promise<void> {
  await page.waitForSelector("body[data-ready]", { timeout: TIMEOUT });
}

/** What a test gets: the store, the studio's origin, a watched page. */
interface Studio {
  store: Store;
  /** The store's `--db` value, for a subprocess. */
  db: string;
  origin: string;
  page: Page;
  watch: Watch;
}

/** Where the studio runs: its store backend and the agents of its embedded worker. */
interface StudioSetup {
  /** SQLite (a fresh file) or PostgreSQL (a fresh schema). @default SQLITE_BACKEND */
  backend?: StoreBackend;
  /** Agents the embedded worker advances. @default none */
  agents?: Agent<unknown, unknown, unknown>[];
  /** Runs the embedded worker advances at once. @default 4 */
  workerConcurrency?: number;
  /** Where the studio is mounted, as loom-run and loom-ops mount it. @default "" */
  basePath?: string;
}

/**
 * Runs `fn` against the real studio handler served on 127.0.0.1 (port 0) over a fresh store,
 * with a 1280×800 page in headless Chromium; then checks that no console error happened and no
 * request left the studio, and tears everything down.
 */
async function withStudio(
  setup: StudioSetup,
  fn: (s: Studio) => Promise<void>,
): Promise<void> {
  const opened = await (setup.backend ?? SQLITE_BACKEND).open();
  const store = opened.store;
  const studioErrors: string[] = []; // the embedded worker's and the events watcher's
  const studio = createStudioHandler({
    store,
    agents: setup.agents,
    workerConcurrency: setup.workerConcurrency,
    basePath: setup.basePath,
    onError: (m) => studioErrors.push(m),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, studio);
  // Tests address pages as origin + path; a mounted studio's paths start with its base.
  const origin = `http://127.0.0.1:${server.addr.port}${setup.basePath ?? ""}`;
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const watch = await watchContext(context, origin);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await fn({ store, db: opened.db, origin, page, watch });
    await page.close();
    assert.deepEqual(watch.problems, [], "no console error or warning");
    assert.deepEqual(watch.outside, [], "no request outside the studio");
    assert.deepEqual(studioErrors, [], "no error in the studio's worker or events watcher");
  } finally {
    await browser?.close();
    await studio.close();
    await server.shutdown();
    await opened.cleanup();
  }
}

/** Waits until the trace iframe `sel` has loaded and xray's viewer in it has rendered. */
async function traceReady(page: Page, sel: string): Promise<void> {
  if (sel === "#trace") await page.locator('#trace[data-state="loaded"]').waitFor();
  await page.frameLocator(sel).locator("body[data-ready]").waitFor();
}

Deno.test({
  name: "studio in Chromium: live runs list, gate approval, fork with an edited state, compare",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStudio({}, async ({ store, db, origin, page, watch: w }) => {
      // 1. The runs page, empty; then runs started by another process appear without a reload.
      await page.goto(`${origin}/`);
      await ready(page);
      await page.waitForSelector("#live.on");
      await page.locator("#runs-body", { hasText: "No runs yet" }).waitFor();
      // A mark on this document: still there later means the list changed without a reload.
      await page.evaluate(() => (globalThis as unknown as { loomMark: number }).loomMark = 1);
      const gate = await startRun(gateAgent, {
        store,
        runId: "deploy-web",
        input: { service: "web" },
      });
      assert.equal(gate.status, "waiting");
      const gateRow = page.locator('tr[data-run-id="deploy-web"]');
      await gateRow.waitFor();
      await gateRow.locator(".badge.waiting").waitFor();
      assert.match(await gateRow.innerText(), /approval:deploy/);
      const count = await startRun(counterAgent, { store, runId: "count-5", input: { target: 5 } });
      assert.equal(count.status, "completed");
      await page.locator('tr[data-run-id="count-5"] .badge.completed').waitFor();
      await page.locator('.chip[data-status="waiting"] .n', { hasText: "1" }).waitFor();
      await page.locator('.chip[data-status="completed"] .n', { hasText: "1" }).waitFor();
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { loomMark?: number }).loomMark),
        1,
        "the list changed without a reload",
      );

      // A parent with two child runs: the list shows the parent; its children expand under it.
      const parent = await startRun(parentAgent, { store, runId: "super-1" });
      assert.equal(parent.status, "completed");
      const parentRow = page.locator('tr[data-run-id="super-1"]');
      await parentRow.locator(".badge.completed").waitFor();
      assert.match(await parentRow.innerText(), /2 children/);
      assert.equal(await page.locator('tr[data-run-id="super-1-child-1"]').count(), 0);
      await parentRow.locator("button.toggle").click();
      await page.locator('tr[data-parent="super-1"][data-run-id="super-1-child-2"]').waitFor();
      await page.locator('tr[data-parent="super-1"][data-run-id="super-1-child-1"]').waitFor();
      await screenshot(page, "runs");
      await parentRow.locator("button.toggle").press("Enter"); // keyboard: collapse again
      await page.waitForSelector('tr[data-run-id="super-1-child-1"]', { state: "detached" });

      // Filters: status chip and text search narrow the list.
      await page.focus('.chip[data-status="waiting"]'); // by keyboard
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => {
        const doc = (globalThis as unknown as {
          document: { querySelectorAll(s: string): { length: number } };
        }).document;
        return doc.querySelectorAll("#runs-body tr[data-run-id]").length === 1;
      });
      assert.equal(await page.locator('tr[data-run-id="deploy-web"]').count(), 1);
      await page.locator('.chip[data-status="waiting"][aria-pressed="true"]').waitFor();
      assert.equal(
        await page.locator('.chip[data-status="waiting"]').evaluate((el) =>
          el === (el.ownerDocument as unknown as { activeElement: unknown }).activeElement
        ),
        true,
        "the chip keeps the keyboard focus",
      );
      await page.click('.chip[data-status="all"]');
      await page.locator('tr[data-run-id="count-5"]').waitFor();
      await page.selectOption("#f-agent", "studio-counter");
      await page.waitForSelector('tr[data-run-id="deploy-web"]', { state: "detached" });
      await page.locator("#runs-range", { hasText: "1–1 of 1" }).waitFor();
      assert.match(new URL(page.url()).search, /agent=studio-counter/);
      await page.selectOption("#f-agent", "");
      await page.locator('tr[data-run-id="deploy-web"]').waitFor();

      // 2. The run page: the gate says what it waits for; approve it through the page.
      await page.click('tr[data-run-id="deploy-web"] a');
      await page.waitForURL(`${origin}/runs/deploy-web`);
      await ready(page);
      await page.locator("#gate").waitFor();
      assert.match(await page.locator("#gate").innerText(), /deploy/);
      assert.match(await page.locator("#gate").innerText(), /deployctl rollout web/);
      await page.locator("#run-waiting", { hasText: "approval:deploy" }).waitFor();
      await page.locator("#no-worker").waitFor();
      await traceReady(page, "#trace");
      await page.locator("#process-table").waitFor();
      await screenshot(page, "run-waiting");
      await page.click("#gate-approve");
      await page.locator("#gate-error", { hasText: "name" }).waitFor(); // no name yet: refused
      assert.equal(w.posts.length, 0, "nothing was sent without a name");
      await page.fill("#gate-by", "ann");
      await page.fill("#gate-comment", "looks good");
      await page.click("#gate-approve");
      await page.locator("#notices", { hasText: "Approved step deploy" }).waitFor();
      // No worker is attached: a process of the developer's resumes the run, and the page
      // follows it live to completed.
      const done = await resumeRun(gateAgent, { store, runId: "deploy-web" });
      assert.equal(done.status, "completed");
      assert.deepEqual(done.result, { deployed: true, by: "ann" });
      await page.locator("#run-status .badge.completed").waitFor();
      await page.waitForSelector("#gate", { state: "detached" });
      await traceReady(page, "#trace");
      await screenshot(page, "run-completed");

      // Another gate run: the signal form refuses invalid JSON; Cancel ends the run.
      await startRun(gateAgent, { store, runId: "deploy-api", input: { service: "api" } });
      await page.goto(`${origin}/runs/deploy-api`);
      await ready(page);
      await page.locator("#signal-details > summary").click();
      assert.equal(await page.inputValue("#signal-name"), "approval:deploy"); // what it waits for
      await page.fill("#signal-name", "note");
      await page.fill("#signal-data", "{oops}");
      await page.locator("#signal-error", { hasText: "Not valid JSON" }).waitFor();
      await page.click("#signal-send");
      assert.equal(await page.getAttribute("#signal-data", "aria-invalid"), "true");
      await page.fill("#signal-data", '{"text": "<b>kept as text</b>"}');
      await page.click("#signal-send");
      await page.locator("#notices", { hasText: "Signal note sent" }).waitFor();
      await page.click("#tab-signals");
      await page.locator("#signals", { hasText: "<b>kept as text</b>" }).waitFor();
      await page.click("#cancel");
      await page.locator("#run-status .badge.cancelled").waitFor();
      assert.deepEqual(w.posts, [
        "/api/runs/deploy-web/approve",
        "/api/runs/deploy-api/signal",
        "/api/runs/deploy-api/cancel",
      ]);

      // 3. Fork count-5 from step 3 with an edited state; the editor refuses invalid JSON first.
      await page.goto(`${origin}/runs/count-5`);
      await ready(page);
      // From the first step, the editor holds the run's initial state.
      await page.click('[data-fork-step="0"]');
      await page.waitForSelector("#fork-dialog[data-ready]");
      assert.deepEqual(JSON.parse(await page.inputValue("#fork-state")), { current: 0, target: 5 });
      await page.click("#fork-cancel");
      await page.waitForSelector("#fork-dialog", { state: "detached" });
      await page.click('[data-fork-step="3"]');
      await page.waitForSelector("#fork-dialog[data-ready]");
      assert.deepEqual(JSON.parse(await page.inputValue("#fork-state")), { current: 3, target: 5 });
      await page.fill("#fork-state", '{"current": 3, "target": 8');
      await page.locator("#fork-error", { hasText: "Not valid JSON" }).waitFor();
      await screenshot(page, "fork-editor-invalid", false);
      await page.click("#fork-create");
      assert.equal(await page.locator("#fork-dialog").isVisible(), true);
      assert.equal(w.posts.length, 3, "invalid JSON was not sent");
      await page.fill("#fork-state", '{"current": 3, "target": 8}');
      await page.locator("#fork-error", { hasText: /^$/ }).waitFor();
      await screenshot(page, "fork-editor", false); // a modal dialog: the window shows it
      await page.click("#fork-create");
      await page.waitForURL((u) =>
        u.pathname.startsWith("/runs/") && u.pathname !== "/runs/count-5"
      );
      await ready(page);
      const forkId = decodeURIComponent(new URL(page.url()).pathname.slice("/runs/".length));
      await page.locator("#run-header", { hasText: "Fork of" }).waitFor();
      assert.match(await page.locator("#run-header").innerText(), /count-5 at step 3/);
      const forked = await resumeRun(counterAgent, { store, runId: forkId });
      assert.deepEqual(forked.result, { counted: 8 });
      await page.locator("#run-status .badge.completed").waitFor();
      await traceReady(page, "#trace");
      await screenshot(page, "fork");
      // The fork's own first step (3): the editor holds the edited state the fork started from.
      await page.click('[data-fork-step="3"]');
      await page.waitForSelector("#fork-dialog[data-ready]");
      assert.deepEqual(JSON.parse(await page.inputValue("#fork-state")), { current: 3, target: 8 });
      await page.click("#fork-cancel");
      await page.waitForSelector("#fork-dialog", { state: "detached" });

      // 4. Compare the fork with its origin: the summary table and xray's diff page.
      await page.click("#compare-link");
      await page.waitForURL((u) => u.pathname === "/compare");
      await ready(page);
      await page.locator("#cmp-table").waitFor();
      await traceReady(page, "#cmp-trace");
      assert.match(await page.locator("#cmp-table").innerText(), /count-5/);
      await screenshot(page, "compare");

      // 5. A process SIGKILLed after step 2 (the runner CLI in a subprocess), then resumed here:
      // the process history marks the crash and the takeover.
      const cli = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../cli.ts", import.meta.url).pathname,
          "run",
          new URL("./testdata/agents/counter_agent.ts", import.meta.url).pathname,
          "--run-id",
          "crashy",
          "--db",
          db,
          "--input",
          '{"target": 4}',
        ],
        env: { LOOM_TEST_CRASH_AFTER_STEP: "crashy:2" },
        stdout: "null",
        stderr: "piped",
      });
      const killed = await cli.output();
      assert.equal(killed.signal, "SIGKILL", new TextDecoder().decode(killed.stderr));
      await page.goto(`${origin}/runs/crashy`);
      await ready(page);
      await page.locator("#run-status .badge.running").waitFor();
      const resumed = await resumeRun(counterAgent, { store, runId: "crashy" });
      assert.deepEqual(resumed.result, { counted: 4 });
      await page.locator("#run-status .badge.completed").waitFor();
      await page.locator('#process-table tr[data-ended="crashed"]').waitFor();
      const history = await page.locator("#process-table").innerText();
      assert.match(history, /crashed/);
      assert.match(history, /takeover|resumed/);
      await traceReady(page, "#trace");
      await screenshot(page, "run-crashed");
    }),
});

Deno.test({
  name: "studio in Chromium, mounted at /studio: paging through many runs, a run of 10,000 steps",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStudio({ basePath: "/studio" }, async ({ store, origin, page }) => {
      for (let i = 0; i < 130; i++) {
        const id = `r-${String(i).padStart(3, "0")}`;
        await startRun(counterAgent, { store, runId: id, input: { target: 0 } });
      }
      const long = await startRun(counterAgent, {
        store,
        runId: "long",
        input: { target: 10_000 },
        maxSteps: 20_000,
      });
      assert.equal(long.status, "completed");
      // Markup in a run id and in a state is shown as text, never parsed.
      const hostile = '<img src=x onerror=alert(1)><b id="bold">';
      await startRun(counterAgent, { store, runId: hostile, input: { target: 1 } });

      await page.goto(`${origin}/`);
      await ready(page);
      const range = page.locator("#runs-range");
      await range.filter({ hasText: "1–50 of 132" }).waitFor();
      assert.equal(await page.isDisabled("#prev"), true);
      await page.click("#next");
      await range.filter({ hasText: "51–100 of 132" }).waitFor();
      await page.click("#next");
      await range.filter({ hasText: "101–132 of 132" }).waitFor();
      assert.equal(await page.isDisabled("#next"), true);
      await page.reload(); // the page of runs is in the address
      await ready(page);
      await range.filter({ hasText: "101–132 of 132" }).waitFor();
      await page.fill("#f-q", "r-12");
      await range.filter({ hasText: "1–10 of 10" }).waitFor();
      await page.fill("#f-q", "");
      await range.filter({ hasText: "1–50 of 132" }).waitFor();

      await page.goto(`${origin}/runs/${encodeURIComponent(hostile)}`);
      await ready(page);
      assert.equal(await page.locator("#run-id").textContent(), hostile);
      assert.equal(await page.locator("#main img, #bold").count(), 0);

      // The run page of 10,000 steps: the page, the steps (paged) and the trace viewer.
      const t0 = performance.now();
      await page.goto(`${origin}/runs/long`);
      await ready(page);
      const pageMs = performance.now() - t0;
      await page.locator("#steps", { hasText: "10,001 in all" }).waitFor();
      await traceReady(page, "#trace");
      const traceMs = performance.now() - t0;
      await page.getByRole("button", { name: "Later →" }).click();
      await page.locator('#steps tr[data-step="50"]').waitFor();
      await page.fill("#step-goto", "9990");
      await page.press("#step-goto", "Enter");
      await page.locator('#steps tr[data-step="10000"]').waitFor();
      assert.equal(await page.isDisabled("#steps button:text('Later →')"), true);
      // The viewer answers in the iframe: its spans tab lists the steps.
      const viewer = page.frameLocator("#trace");
      await viewer.locator("#mode-spans").click();
      await viewer.locator("#view-spans .vrow").first().waitFor();
      console.log(
        `run of 10,001 steps: run page ready in ${Math.round(pageMs)} ms, ` +
          `xray viewer in its iframe ready in ${Math.round(traceMs)} ms`,
      );
      await screenshot(page, "run-long");
    }),
});

/**
 * An agent whose one step holds the worker's slot until `release()` (or until the worker stops):
 * with `workerConcurrency: 1`, the studio's worker is busy while it runs.
 */
function busyAgent() {
  const entered = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  const agent = defineAgent({
    name: "studio-busy",
    initialState: () => ({}),
    async step(_state, ctx) {
      entered.resolve();
      await new Promise<void>((resolve, reject) => {
        released.promise.then(resolve);
        ctx.abortSignal.addEventListener("abort", () => reject(ctx.abortSignal.reason), {
          once: true,
        });
      });
      return { held: true };
    },
  });
  return { agent, entered: entered.promise, release: () => released.resolve() };
}

for (const backend of [SQLITE_BACKEND, POSTGRES_BACKEND]) {
  Deno.test({
    name:
      `studio in Chromium with an embedded worker (${backend.name}): an approval, a fork and Resume advance runs`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const busy = busyAgent();
      try {
        await withStudio({
          backend,
          agents: [gateAgent, counterAgent, busy.agent] as Agent<unknown, unknown, unknown>[],
          workerConcurrency: 1,
        }, (s) => workerScenario(s, busy, backend.name));
      } finally {
        busy.release(); // also when the scenario failed: the worker's slot must end
      }
    },
  });
}

/** The embedded worker advances runs by itself; Resume advances one while the worker is busy. */
async function workerScenario(
  { store, origin, page, watch: w }: Studio,
  busy: ReturnType<typeof busyAgent>,
  name: string,
): Promise<void> {
  // A gate approved through the page: the studio's worker finishes the run, nobody else.
  await startRun(gateAgent, { store, runId: "deploy-db", input: { service: "db" } });
  await page.goto(`${origin}/runs/deploy-db`);
  await ready(page);
  assert.equal(await page.locator("#no-worker").count(), 0, "a worker is attached");
  await page.fill("#gate-by", "bob");
  await page.click("#gate-approve");
  await page.locator("#run-status .badge.completed").waitFor();
  assert.match(await page.locator("#run-header").innerText(), /"by":"bob"/);

  // A paused run: the worker claims it and ends it; the page follows.
  const paused = await startRun(counterAgent, {
    store,
    runId: "count-3",
    input: { target: 3 },
    maxSteps: 1,
  });
  assert.equal(paused.status, "paused");
  await page.goto(`${origin}/runs/count-3`);
  await ready(page);
  await page.locator("#run-status .badge.completed").waitFor();

  // A fork from the first step, made through the editor (which holds the initial state), runs
  // to its end by itself.
  await page.click('[data-fork-step="0"]');
  await page.waitForSelector("#fork-dialog[data-ready]");
  assert.deepEqual(JSON.parse(await page.inputValue("#fork-state")), { current: 0, target: 3 });
  await screenshot(page, `worker-${name}-fork-first-step`, false);
  await page.fill("#fork-state", '{"current": 1, "target": 6}');
  await page.click("#fork-create");
  await page.waitForURL((u) => u.pathname.startsWith("/runs/count-3-fork-"));
  await ready(page);
  await page.locator("#run-status .badge.completed").waitFor();
  assert.match(await page.locator("#run-header").innerText(), /"counted":6/);

  // The worker busy with another run (its one slot held): a paused run stays paused until the
  // page's Resume button advances it in the studio's process.
  await enqueueRun(busy.agent, { store, runId: "busy" });
  await busy.entered;
  const waitingTurn = await startRun(counterAgent, {
    store,
    runId: "count-4",
    input: { target: 4 },
    maxSteps: 1,
  });
  assert.equal(waitingTurn.status, "paused");
  await page.goto(`${origin}/runs/count-4`);
  await ready(page);
  await page.locator("#run-status .badge.paused").waitFor();
  await screenshot(page, `worker-${name}-paused`);
  await page.click("#resume");
  await page.locator("#run-status .badge.completed").waitFor();
  assert.match(await page.locator("#run-header").innerText(), /"counted":4/);
  await screenshot(page, `worker-${name}-resumed`);
  assert.equal((await store.getRun("busy"))!.status, "running", "the worker was still busy");
  assert.ok(w.posts.includes("/api/runs/count-4/resume"));
  busy.release();
  await page.goto(`${origin}/runs/busy`);
  await ready(page);
  await page.locator("#run-status .badge.completed").waitFor();
}

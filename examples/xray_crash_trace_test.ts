// End to end: a run killed with SIGKILL after a committed step, resumed by a second process,
// then rebuilt from the store with `loom-runner trace` into an xray page. The page must show the
// two processes as bands on the timeline, the crash, the lease takeover and the resume, and the
// steps each process ran. (xray's own tests cannot import the runner; this one drives its CLI.)

import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1";
import { loadTrace, summarize } from "@loom/xray";

const ROOT = new URL("..", import.meta.url).pathname;
const CHROMIUM = Deno.env.get("LOOM_CHROMIUM") ?? "/usr/bin/chromium";

async function runner(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}runner/cli.ts`, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, signal: out.signal, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test({
  name:
    "a run killed after step 3 and resumed shows two processes, the crash and the resume in xray",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "loom-xray-crash-" });
    const db = `${dir}/runs.sqlite`;
    const agent = `${ROOT}examples/counter_agent.ts`;
    try {
      const first = await runner(
        ["run", agent, "--run-id", "crashy", "--db", db, "--input", '{"target": 8}'],
        { LOOM_TEST_CRASH_AFTER_STEP: "crashy:3" },
      );
      assert.equal(first.signal, "SIGKILL", `the first process was killed: ${first.stderr}`);
      const second = await runner(["resume", agent, "--run-id", "crashy", "--db", db]);
      assert.equal(second.code, 0, second.stderr);
      const page = `${dir}/crashy.html`;
      const traced = await runner(["trace", "--run-id", "crashy", "--db", db, "-o", page]);
      assert.equal(traced.code, 0, traced.stderr);

      // the page carries its trace: the processes are in its summary
      const { processes } = summarize(await loadTrace(page));
      assert.deepEqual(
        processes.bands.map((b) => [b.index, b.firstStep, b.lastStep, b.ended]),
        [[1, 0, 3, "crashed"], [2, 4, 8, "completed"]],
      );
      // each process is named by its lease owner, host:pid:token: two processes, two owners
      const owners = processes.bands.map((b) => b.owner ?? "");
      for (const owner of owners) assert.match(owner, /^[^:]+:\d+:\S+$/, "host:pid:token");
      assert.notEqual(owners[0], owners[1]);
      assert.deepEqual(
        processes.markers.map((m) => [m.kind, m.afterStep]),
        [["start", null], ["crash", 3], ["lease-takeover", 3], ["resume", 3]],
      );

      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      });
      try {
        const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const problems: string[] = [];
        tab.on("pageerror", (e) => problems.push(e.message));
        await tab.goto(`file://${page}#tab=timeline`);
        await tab.waitForSelector("body[data-ready]", { state: "attached", timeout: 60_000 });
        const lane = tab.locator("#process-lane");
        assert.equal(await lane.locator(".pband").count(), 2);
        for (const kind of ["start", "crash", "lease-takeover", "resume"]) {
          assert.equal(await lane.locator(`.pmark.${kind}`).count(), 1, kind);
        }
        assert.equal(await lane.locator(".pgap").count(), 1, "the time no process held the run");
        await tab.click("#mode-runs");
        const rows = tab.locator("#process-table tbody tr");
        assert.equal(await rows.count(), 2);
        assert.match(
          await rows.nth(0).innerText(),
          /process 1\s+\S+:\d+:\S+\s+crashy\s+0–3\s.*crashed/s,
        );
        assert.match(
          await rows.nth(1).innerText(),
          /process 2\s+\S+:\d+:\S+\s+crashy\s+4–8\s.*completed/s,
        );
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

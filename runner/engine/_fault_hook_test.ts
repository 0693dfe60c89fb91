import assert from "node:assert/strict";
import { CRASH_AFTER_STEP_ENV, parseCrashPoint } from "./_fault_hook.ts";
import { openStore } from "../store/sqlite.ts";

const ENGINE = new URL("./engine.ts", import.meta.url).href;
const STORE = new URL("../store/sqlite.ts", import.meta.url).href;
const COUNTER = new URL("../../examples/counter_agent.ts", import.meta.url).href;
// The script lives in a temp dir: it needs the workspace's config to resolve `@loom/…`.
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

Deno.test("fault hook: LOOM_TEST_CRASH_AFTER_STEP reads <step> or <runId>:<step>", () => {
  assert.equal(parseCrashPoint(undefined), undefined);
  assert.equal(parseCrashPoint(""), undefined);
  assert.deepEqual(parseCrashPoint("3"), { runId: undefined, step: 3 });
  assert.deepEqual(parseCrashPoint("run-1:0"), { runId: "run-1", step: 0 });
  // The last colon separates, so run ids may contain colons.
  assert.deepEqual(parseCrashPoint("job:a:12"), { runId: "job:a", step: 12 });
  for (const bad of ["x", "3:", ":3", "run:-1", "1.5"]) {
    assert.throws(() => parseCrashPoint(bad), /must be "<step>" or "<runId>:<step>"/, bad);
  }
});

/** Runs the counter to `target` in a subprocess with the given env and permission flags. */
async function countInSubprocess(
  dir: string,
  target: number,
  env: Record<string, string>,
  permissions = ["-A"],
): Promise<Deno.CommandOutput> {
  const script = `${dir}/count.ts`;
  await Deno.writeTextFile(
    script,
    `import { startRun } from "${ENGINE}";
import { openStore } from "${STORE}";
import counter from "${COUNTER}";
const store = openStore(${JSON.stringify(`${dir}/runs.sqlite`)});
const r = await startRun(counter, { store, runId: "r", input: { target: ${target} } });
console.log(r.status);
store.close();
`,
  );
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", CONFIG, ...permissions, script],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-fault-hook-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function lastStep(dir: string): Promise<{ step?: number; status?: string }> {
  const store = openStore(`${dir}/runs.sqlite`, { create: false });
  try {
    return { step: (await store.lastStep("r"))?.step, status: (await store.getRun("r"))?.status };
  } finally {
    store.close();
  }
}

const stderrOf = (out: Deno.CommandOutput) => new TextDecoder().decode(out.stderr);

Deno.test("fault hook: the process SIGKILLs itself right after step N of the named run is committed", async () => {
  for (const step of [0, 2, 7]) {
    await withDir(async (dir) => {
      const out = await countInSubprocess(dir, 50, { [CRASH_AFTER_STEP_ENV]: `r:${step}` });
      assert.equal(out.signal, "SIGKILL", stderrOf(out));
      assert.deepEqual(await lastStep(dir), { step, status: "running" });
    });
  }
});

Deno.test("fault hook: after the final step the run is completed and the process still dies", async () => {
  await withDir(async (dir) => {
    // Counting to 3 commits steps 0..3, step 3 being the final one.
    const out = await countInSubprocess(dir, 3, { [CRASH_AFTER_STEP_ENV]: "3" });
    assert.equal(out.signal, "SIGKILL", stderrOf(out));
    assert.deepEqual(await lastStep(dir), { step: 3, status: "completed" });
  });
});

Deno.test("fault hook: another run id, or no env permission, leaves the run alone", async () => {
  await withDir(async (dir) => {
    const out = await countInSubprocess(dir, 5, { [CRASH_AFTER_STEP_ENV]: "other:2" });
    assert.equal(out.code, 0, stderrOf(out));
    assert.deepEqual(await lastStep(dir), { step: 5, status: "completed" });
  });
  await withDir(async (dir) => {
    const out = await countInSubprocess(dir, 5, { [CRASH_AFTER_STEP_ENV]: "2" }, [
      "--allow-read",
      "--allow-write",
    ]);
    assert.equal(out.code, 0, stderrOf(out));
    assert.deepEqual(await lastStep(dir), { step: 5, status: "completed" });
  });
});

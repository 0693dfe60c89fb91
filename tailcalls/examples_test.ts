// Runs the two tailcalls examples as real subprocesses, so they cannot rot unnoticed.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function run(name: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", example(name), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("examples/agent_loop.ts: finishes within budget by resuming, reports in JSON", async () => {
  const { code, stdout, stderr } = await run("agent_loop.ts", ["--budget", "2", "--json"]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.steps, 5);
  assert.equal(report.resumes, 2); // 5 steps with a budget of 2: 2 + 2 + 1
  assert.equal(report.toolCalls, 4);
  assert.match(report.answer, /1000000 steps/);
});

Deno.test("examples/agent_loop.ts: Ctrl-C stops it between steps with exit code 1", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    // Each "model" call thinks for ten minutes unless Ctrl-C cuts it short, so the interrupt
    // always lands inside the loop, however slow or fast the machine.
    args: ["run", "-A", "--quiet", example("agent_loop.ts"), "--think-ms", "600000"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Wait until the loop is about to start (the SIGINT listener is in place), then interrupt.
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("goal:")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decode(value);
  }
  child.kill("SIGINT");
  while (!(await reader.read()).done) { /* drain */ }
  const status = await child.status;
  const stderr = decode(new Uint8Array(await new Response(child.stderr).arrayBuffer()));
  assert.equal(status.code, 1);
  assert.match(stderr, /^stopped by Ctrl-C after \d+ steps; the state was kept\n$/);
});

Deno.test("examples/agent_loop.ts: a bad flag is one sentence on stderr and exit code 2", async () => {
  const { code, stderr } = await run("agent_loop.ts", ["--budget", "zero"]);
  assert.equal(code, 2);
  assert.equal(stderr.trim().split("\n").length, 1);
});

Deno.test("examples/streaming_loop.ts: requests only the pages the consumer reached", async () => {
  const early = JSON.parse((await run("streaming_loop.ts", ["--take", "25", "--json"])).stdout);
  assert.deepEqual(early, { taken: 25, pagesRequested: [1, 2, 3], stepsClosed: 3 });
  const all = JSON.parse((await run("streaming_loop.ts", ["--take", "1000", "--json"])).stdout);
  assert.equal(all.taken, 100);
  assert.equal(all.pagesRequested.length, 10);
});

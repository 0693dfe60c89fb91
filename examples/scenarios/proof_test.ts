// Proof that the regression lab catches regressions: copies of the triage agent with a
// deliberate prompt change and a deliberate code change (a repeated tool call) are run through
// real scenario files by a real `deno test` subprocess, which must fail with a message that
// names the change. An unchanged copy must pass, and so must the counter scenario beside it.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const AGENT = new URL("./agents/triage_agent.ts", import.meta.url);
const here = (path: string) => new URL(path, import.meta.url).href;

/** Applies one textual change; the anchor must exist, so the mutation cannot silently vanish. */
function mutate(source: string, from: string, to: string): string {
  assert.ok(source.includes(from), `mutation anchor not found in the agent: ${from}`);
  return source.replace(from, to);
}

/** Writes the agent copy and a scenario file next to it, runs `deno test` on it. */
async function runScenarios(agentSource: string): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-proof-" });
  try {
    await Deno.writeTextFile(`${dir}/triage_agent.ts`, agentSource);
    await Deno.writeTextFile(
      `${dir}/scenarios_test.ts`,
      `import { assertMatchesGolden, scenario } from "@loom/runner/testing";
import counter from "${here("../counter_agent.ts")}";
import { triageScenario } from "${here("./triage_options.ts")}";
import triage from "./triage_agent.ts";

scenario("counter (unchanged)", { agent: counter, input: { target: 4 } }, (run) =>
  assertMatchesGolden(run, "${here("./golden/counter.json")}"));
scenario("triage (under test)", triageScenario(triage), (run) =>
  assertMatchesGolden(run, "${here("./golden/triage.json")}"));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--no-check", `${dir}/scenarios_test.ts`],
      cwd: ROOT,
      env: { NO_COLOR: "1", LOOM_RECORD: "", LOOM_UPDATE_GOLDEN: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const source = await Deno.readTextFile(AGENT);

Deno.test("proof: an unchanged copy of the agent passes its scenarios", async () => {
  const r = await runScenarios(source);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /2 passed \| 0 failed/);
});

Deno.test("proof: a prompt change fails the triage scenario with a diff of the prompt", async () => {
  const r = await runScenarios(
    mutate(source, "answer in one sentence", "answer in two sentences"),
  );
  assert.equal(r.code, 1, r.output);
  // Only the scenario whose LLM traffic changed fails.
  assert.match(r.output, /counter \(unchanged\) \.\.\. ok/);
  assert.match(r.output, /triage \(under test\) \.\.\. FAILED/);
  assert.match(r.output, /1 passed \| 1 failed/);
  assert.match(
    r.output,
    /CassetteMismatchError: scenario "triage \(under test\)": cassette .*triage\.json: request 1 \(POST \/v1\/chat\/completions\) does not match the recording/,
  );
  assert.match(
    r.output,
    /body\.messages\.0\.content: ….*answer in \[-one sentence-\]\{\+two sentences\+\} that starts with/,
  );
  assert.match(r.output, /Re-record with LOOM_RECORD=1 if the change is intended/);
});

Deno.test("proof: a code change that repeats a tool call fails against the golden trace", async () => {
  const r = await runScenarios(
    mutate(
      source,
      "const health = await ctx.callTool(",
      `await ctx.callTool("status", args, (a: { service: string }) => HEALTH[a.service]);
      const health = await ctx.callTool(`,
    ),
  );
  assert.equal(r.code, 1, r.output);
  assert.match(r.output, /counter \(unchanged\) \.\.\. ok/);
  assert.match(r.output, /triage \(under test\) \.\.\. FAILED/);
  assert.match(
    r.output,
    /GoldenMismatchError: scenario "triage \(under test\)" diverged from golden .*triage\.json: in step 0 the new run has an extra tool call "status" \(#2 of its kind there\) that the golden run does not have\./,
  );
  assert.match(r.output, /\+ run › step:step 0 › tool:status#2 \(added\)/);
});

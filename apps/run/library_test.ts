// `@loom/run` as a library, from a user's project: a throwaway folder whose deno.json "links"
// this checkout's packages, so `jsr:@loom/runner` and `jsr:@loom/run` resolve offline. Its
// main.ts is the snippet of the README's "Build your own agent" (startOrResumeRun instead of
// startRun, so the same command continues a killed run), with a custom tool, against the local
// fake OpenAI-compatible server on 127.0.0.1 whose model is a scriptedModel. The program is
// SIGKILLed after its first tool call (by the runner's test-only crash hook, or by the test on
// an observed event) and run again; it must end with the answer of an uninterrupted run, with no
// second LLM request for the turn that was answered and no finished tool run twice.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@loom/runner/testing";
import { type FakeOpenAi, startFakeOpenAi } from "./llm/fake_openai_server.ts";
import { scriptedModel } from "./llm/scripted.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PACKAGES = ["tailcalls", "runner", "xray", "apps/run"].map((p) => join(ROOT, p));

/** The user's program: the README snippet with a tool that logs each start and end. */
const MAIN = `import { openStore, startOrResumeRun } from "jsr:@loom/runner";
import { chatAgent, openAiCompatible, tool } from "jsr:@loom/run";

const log = (line: string) => Deno.writeTextFile("tool.log", line + "\\n", { append: true });

const agent = chatAgent({
  name: "weather",
  model: openAiCompatible({ baseUrl: Deno.env.get("LOOM_LLM_BASE_URL"), model: "gpt-4o-mini" }),
  system: "Answer with the tools.",
  tools: [tool({
    name: "forecast",
    description: "Tomorrow's weather for a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    run: async ({ city }, ctx) => {
      await log(\`start \${city} \${ctx.key} maybeRanBefore=\${ctx.maybeRanBefore}\`);
      // Test hook: hold this call until the process is killed (stdin never ends).
      if (Deno.env.get("HOLD_CITY") === city) await Deno.stdin.read(new Uint8Array(1));
      await log(\`done \${city}\`);
      return { city, sky: city === "Oslo" ? "sunny" : "rain", high: city === "Oslo" ? 21 : 14 };
    },
  })],
});
const store = openStore(Deno.env.get("DB") ?? "runs.sqlite");
const run = await startOrResumeRun(agent, {
  store,
  runId: "w1",
  input: { question: "What is the weather in Oslo and Bergen tomorrow?" },
});
console.log(JSON.stringify({ status: run.status, result: run.result }));
store.close();
`;

/** A fresh user project; removed when disposed. */
async function userProject(): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "loom-user-" });
  await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify({ links: PACKAGES }, null, 2));
  await Deno.writeTextFile(join(dir, "main.ts"), MAIN);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** The fake endpoint, answering as a scripted model: two forecasts, then an answer from them. */
function fakeEndpoint(): Promise<FakeOpenAi> {
  return startFakeOpenAi({
    brain: scriptedModel((request, turn) =>
      turn === 0
        ? {
          toolCalls: [
            { name: "forecast", arguments: { city: "Oslo" } },
            { name: "forecast", arguments: { city: "Bergen" } },
          ],
        }
        : `Forecasts: ${
          request.messages.flatMap((m) => m.role === "tool" ? [m.content] : []).join(" | ")
        }`
    ),
  });
}

/** The program as a subprocess in the project folder (only what it needs in its environment). */
function program(dir: string, fake: FakeOpenAi, env: Record<string, string> = {}) {
  const base: Record<string, string> = { NO_COLOR: "1", LOOM_LLM_BASE_URL: fake.baseUrl };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: dir,
    env: { ...base, ...env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the program to its end; returns its JSON line. */
async function runToEnd(
  dir: string,
  fake: FakeOpenAi,
  env: Record<string, string> = {},
): Promise<{ status: string; result: { answer: string; stoppedBy: string; toolCalls: number } }> {
  const child = program(dir, fake, env).spawn();
  await child.stdin.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

async function toolLog(dir: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(join(dir, "tool.log"))).trim().split("\n");
  } catch {
    return [];
  }
}

/** The answer of an uninterrupted run, in a project of its own. */
async function referenceAnswer(): Promise<string> {
  await using project = await userProject();
  const fake = await fakeEndpoint();
  try {
    const run = await runToEnd(project.dir, fake);
    assert.equal(run.status, "completed");
    assert.equal(run.result.stoppedBy, "answer");
    assert.equal(fake.requests.length, 2);
    return run.result.answer;
  } finally {
    await fake.close();
  }
}

Deno.test("user project: the snippet, SIGKILLed after its first tool call, resumes to the same answer without asking the model again", async () => {
  const expected = await referenceAnswer();
  assert.match(expected, /^Forecasts: \{"city":"Oslo","sky":"sunny","high":21\} \| .*Bergen/);
  await using project = await userProject();
  const fake = await fakeEndpoint();
  try {
    // The runner's test-only hook: SIGKILL right after step 0 (the first LLM turn and both of
    // its tool calls) is committed.
    const child = program(project.dir, fake, { LOOM_TEST_CRASH_AFTER_STEP: "w1:0" }).spawn();
    await child.stdin.close();
    const killed = await child.output();
    assert.equal(killed.signal, "SIGKILL", new TextDecoder().decode(killed.stderr));
    assert.equal(fake.requests.length, 1);
    const resumed = await runToEnd(project.dir, fake);
    assert.equal(resumed.status, "completed");
    assert.equal(resumed.result.answer, expected);
    assert.equal(resumed.result.toolCalls, 2);
    // One request per turn: the resumed process asked only for the second turn.
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[1].body.messages.filter((m) => m.role === "tool").length, 2);
    assert.deepEqual(await toolLog(project.dir), [
      "start Oslo tool:1:call_1_1 maybeRanBefore=false",
      "done Oslo",
      "start Bergen tool:1:call_1_2 maybeRanBefore=false",
      "done Bergen",
    ]);
  } finally {
    await fake.close();
  }
});

Deno.test("user project: killed inside its first turn, after one of two tool calls finished, the resume runs only the unfinished one", async () => {
  const expected = await referenceAnswer();
  await using project = await userProject();
  const fake = await fakeEndpoint();
  try {
    const child = program(project.dir, fake, { HOLD_CITY: "Bergen" }).spawn();
    const stderr = new Response(child.stderr).text();
    const stdout = new Response(child.stdout).text();
    // Oslo's call is committed before Bergen's starts; Bergen's is held: kill the process there.
    await waitFor(
      "the Bergen forecast to start",
      async () => (await toolLog(project.dir)).some((l) => l.startsWith("start Bergen")),
    );
    child.kill("SIGKILL");
    assert.equal((await child.status).signal, "SIGKILL");
    await Promise.all([stderr, stdout, child.stdin.close().catch(() => {})]);
    assert.equal(fake.requests.length, 1);

    const resumed = await runToEnd(project.dir, fake);
    assert.equal(resumed.status, "completed");
    assert.equal(resumed.result.answer, expected);
    // The answered turn was replayed from the store: one more request, for the second turn.
    assert.equal(fake.requests.length, 2);
    assert.deepEqual(await toolLog(project.dir), [
      "start Oslo tool:1:call_1_1 maybeRanBefore=false",
      "done Oslo",
      "start Bergen tool:1:call_1_2 maybeRanBefore=false",
      // The resume runs Bergen again (it never finished), and says it may have run before.
      "start Bergen tool:1:call_1_2 maybeRanBefore=true",
      "done Bergen",
    ]);
  } finally {
    await fake.close();
  }
});

// Tests of the regression lab's machinery: cassettes (record, scrub, replay byte for byte,
// drift diffs), tool faults, the crash driver, app commands, golden traces and their messages.
// The example scenarios in examples/scenarios/ exercise the whole thing end to end.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Recorder } from "@loom/xray";
import { defineAgent, recur } from "./mod.ts";
import {
  assertMatchesGolden,
  cassette,
  CassetteMismatchError,
  divergenceInWords,
  GoldenMismatchError,
  normalizeTrace,
  runScenario,
  ScenarioError,
  scrubSecrets,
} from "./testing.ts";
import { DIR_PLACEHOLDER, startCassette } from "./testing/cassette.ts";
import { stringChange } from "./testing/json_diff.ts";

const COUNTER = new URL("../examples/counter_agent.ts", import.meta.url);
const SECRET = "sk-live-0123456789abcdefghijklmnop";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-testing-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A stand-in upstream that streams SSE, echoes the bearer token and the user's message. */
async function upstream(): Promise<
  { baseUrl: string; seen: string[]; close(): Promise<void>; body(msg: string): string }
> {
  const seen: string[] = [];
  const body = (msg: string) =>
    `data: {"choices":[{"delta":{"content":"you said ${msg}"}}]}\n\n` +
    `data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\ndata: [DONE]\n\n`;
  const { promise, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => resolve(port) },
    async (req) => {
      seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
      const json = await req.json();
      return new Response(body(json.messages[0].content), {
        headers: { "content-type": "text/event-stream", "set-cookie": "session=abc" },
      });
    },
  );
  const port = await promise;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, seen, close: () => server.shutdown(), body };
}

async function post(
  baseUrl: string,
  content: string,
  key = SECRET,
  extra: Record<string, unknown> = {},
): Promise<Response> {
  return await fetch(`${baseUrl}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: "m",
      messages: [{ role: "user", content }],
      stream: true,
      ...extra,
    }),
  });
}

Deno.test("cassette: records through the upstream, scrubs secrets, replays byte for byte", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/c.json`;
    const up = await upstream();
    const rec = await startCassette(file, { record: true, upstream: up.baseUrl }, dir);
    assert.equal(rec.recording, true);
    const recorded = [
      await (await post(rec.baseUrl, "hello")).text(),
      await (await post(rec.baseUrl, `my key is ${SECRET}, files in ${dir}/ws`)).text(),
    ];
    assert.equal(await rec.close(), undefined);
    await up.close();
    // The upstream got the real request, with the key, at its own path.
    assert.deepEqual(up.seen, [
      `POST /v1/chat/completions Bearer ${SECRET}`,
      `POST /v1/chat/completions Bearer ${SECRET}`,
    ]);
    assert.equal(recorded[0], up.body("hello"));
    const text = await Deno.readTextFile(file);
    assert.ok(!text.includes(SECRET), "the key must not be stored");
    assert.ok(
      !text.includes("session=abc"),
      "response headers other than content-type are dropped",
    );
    assert.ok(!text.toLowerCase().includes("authorization"), "request headers are not stored");
    assert.ok(text.includes("[REDACTED]"));
    assert.ok(text.includes(`${DIR_PLACEHOLDER}/ws`) && !text.includes(dir));

    // Replay in another scenario dir, without any upstream.
    await withDir(async (dir2) => {
      const play = await startCassette(file, { record: false }, dir2);
      assert.equal(play.recording, false);
      const first = await post(play.baseUrl, "hello", "another-key");
      assert.equal(first.headers.get("content-type"), "text/event-stream");
      assert.deepEqual(
        new Uint8Array(await first.arrayBuffer()),
        new TextEncoder().encode(up.body("hello")),
      );
      // The request recorded with dir matches the same request made from dir2.
      const second = await (await post(play.baseUrl, `my key is ${SECRET}, files in ${dir2}/ws`))
        .text();
      assert.equal(second, up.body(`my key is [REDACTED], files in ${dir2}/ws`));
      assert.equal(play.requests, 2);
      assert.equal(await play.close(), undefined);
    });
  });
});

Deno.test("cassette: a request not in the recording gets a 400 and a diff of what changed", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/c.json`;
    const up = await upstream();
    const rec = await startCassette(file, { record: true, upstream: up.baseUrl }, dir);
    await (await post(rec.baseUrl, "Summarise the incident in one line.")).text();
    await (await post(rec.baseUrl, "thanks")).text();
    await rec.close();
    await up.close();

    const play = await startCassette(file, {}, dir);
    const res = await post(play.baseUrl, "Summarise the incident in three lines.");
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /request 1 is not in the recording/);
    const problems = await play.close();
    assert.ok(problems);
    assert.match(
      problems,
      /request 1 \(POST \/v1\/chat\/completions\) does not match the recording/,
    );
    assert.match(
      problems,
      /body\.messages\.0\.content: Summarise the incident in \[-one line-\]\{\+three lines\+\}\./,
    );
    assert.equal(play.mismatches.length, 1);
  });
});

Deno.test("cassette: fewer requests is drift; normalizeRequest; a missing file says how to record", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/c.json`;
    const up = await upstream();
    const rec = await startCassette(file, { record: true, upstream: up.baseUrl }, dir);
    await (await post(rec.baseUrl, "one")).text();
    await (await post(rec.baseUrl, "two")).text();
    await rec.close();
    await up.close();
    const play = await startCassette(file, {}, dir);
    await (await post(play.baseUrl, "one")).text();
    const problems = await play.close();
    assert.match(
      problems ?? "",
      /the agent made 1 of the 2 recorded requests; the first one it no longer makes is number 2/,
    );
    // A field that differs on every run is taken out of the match by normalizeRequest.
    const varying = `${dir}/varying.json`;
    const up2 = await upstream();
    const rec2 = await startCassette(varying, { record: true, upstream: up2.baseUrl }, dir);
    await (await post(rec2.baseUrl, "one", SECRET, { user: "request-1" })).text();
    await rec2.close();
    await up2.close();
    const strict = await startCassette(varying, {}, dir);
    assert.equal((await post(strict.baseUrl, "one", SECRET, { user: "request-2" })).status, 400);
    assert.match((await strict.close()) ?? "", /body\.user: request-\[-1-\]\{\+2\+\}/);
    const loose = await startCassette(varying, {
      normalizeRequest: (b) => ({ ...(b as object), user: undefined }),
    }, dir);
    assert.equal((await post(loose.baseUrl, "one", SECRET, { user: "request-2" })).status, 200);
    assert.equal(await loose.close(), undefined);

    const lenient = await startCassette(file, { allowUnused: true }, dir);
    await (await post(lenient.baseUrl, "one")).text();
    assert.equal(await lenient.close(), undefined);
    await assert.rejects(
      startCassette(`${dir}/missing.json`, {}, dir),
      /cassette .*missing\.json does not exist: record it once with LOOM_RECORD=1/,
    );
  });
});

/** An agent that calls `fetch_page` once per step, twice in all. */
const fetcher = defineAgent({
  name: "fetcher",
  initialState: () => ({ pages: [] as string[] }),
  async step(state, ctx) {
    if (state.pages.length === 2) return { pages: state.pages };
    const page = await ctx.callTool(
      "fetch_page",
      { n: state.pages.length },
      (a: { n: number }) => `page ${a.n}`,
      { retry: { maxAttempts: 3, initialDelayMs: 1 }, timeoutMs: 100 },
    );
    await ctx.callTool("count", { n: state.pages.length }, () => state.pages.length + 1);
    return recur({ pages: [...state.pages, page] });
  },
});

Deno.test("faults: a tool failing transiently K times is retried by the runner; only that tool", async () => {
  const run = await runScenario("flaky", {
    agent: fetcher,
    faults: { tools: [{ name: "fetch_page", failTimes: 2 }] },
  });
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { pages: ["page 0", "page 1"] });
  const fetches = run.history.calls.filter((c) => c.name === "fetch_page");
  assert.deepEqual(fetches.map((c) => c.attempts), [3, 3]);
  assert.deepEqual(run.history.calls.filter((c) => c.name === "count").map((c) => c.attempts), [
    1,
    1,
  ]);
  assert.equal(run.history.attempts.length, 4);
  assert.match(
    run.history.attempts[0].error,
    /injected fault: fetch_page fails \(attempt 1 of 2\)/,
  );
});

Deno.test("faults: more failures than the retry policy allows fail the run; a slow tool times out", async () => {
  const failing = await runScenario("too flaky", {
    agent: fetcher,
    faults: { tools: [{ name: "fetch_page", failTimes: 1_000 }] },
  });
  // Tool retries, then step retries, are used up: the run fails with the injected error.
  assert.equal(failing.status, "failed");
  assert.match(failing.error ?? "", /injected fault: fetch_page fails \(attempt \d+ of 1000\)/);

  const slow = await runScenario("slow", {
    agent: fetcher,
    faults: { tools: [{ name: "fetch_page", delayMs: 10_000, slowTimes: 1 }] },
  });
  assert.equal(slow.status, "completed");
  assert.deepEqual(
    slow.history.calls.filter((c) => c.name === "fetch_page").map((c) => c.attempts),
    [
      2,
      2,
    ],
  );
  assert.ok(slow.history.attempts.every((a) => a.errorCategory === "transient"));
});

Deno.test("crash fault: the driver is SIGKILLed exactly after step N and the run resumes", async () => {
  const run = await runScenario("crash", {
    agent: COUNTER,
    input: { target: 6 },
    faults: { crashAfterStep: 3 },
  });
  assert.equal(run.crashes, 1);
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { current: 6, steps: 6 });
  assert.deepEqual(run.history.steps.map((s) => s.step), [0, 1, 2, 3, 4, 5, 6]);
  // Steps 0-3 by the killed process, 4-6 by the resume (first step of this process: 4).
  assert.equal(run.last?.stepsThisRun, 3);
  assert.ok(run.history.events.some((e) => e.kind === "resumed"));
});

Deno.test("crash fault: clear errors when the crash point is never reached or no module is known", async () => {
  await assert.rejects(
    runScenario("too far", { agent: COUNTER, input: { target: 2 }, faults: { crashAfterStep: 9 } }),
    (e) =>
      e instanceof ScenarioError &&
      /crashAfterStep 9: the run ended \(completed, 3 steps\) before that step was committed/.test(
        e.message,
      ),
  );
  await assert.rejects(
    runScenario("inline", { agent: fetcher, faults: { crashAfterStep: 0 } }),
    /crashAfterStep runs the agent in a subprocess: give `agent` as a module URL/,
  );
  await assert.rejects(runScenario("nothing", {}), /needs exactly one of agent and command/);
});

Deno.test("app command: CLI runs as subprocesses, SIGKILL at a committed step, then resume", async () => {
  const cli = new URL("./cli.ts", import.meta.url);
  const agent = fileURLToPath(COUNTER);
  const run = await runScenario("runner cli", {
    command: {
      main: cli,
      runs: (env) => [
        ["run", agent, "--run-id", env.runId, "--db", env.db, "--input", '{"target":300}'],
        ["resume", agent, "--run-id", env.runId, "--db", env.db],
      ],
    },
    faults: { crashAfterStep: 2 },
  });
  assert.equal(run.crashes, 1);
  assert.equal(run.outputs.length, 2);
  assert.equal(run.outputs[1].code, 0, run.outputs[1].stderr);
  assert.equal(run.status, "completed");
  assert.deepEqual(run.result, { current: 300, steps: 300 });
  assert.equal(run.history.steps.length, 301);
});

Deno.test("app command: an unexpected exit code fails the scenario with the CLI's own error", async () => {
  await assert.rejects(
    runScenario("bad flag", {
      command: {
        main: new URL("./cli.ts", import.meta.url),
        runs: (env) => [["explain", "--run-id", "nope", "--db", env.db]],
      },
    }),
    (e) => e instanceof ScenarioError && /exited with [12] \(expected 0\): .+/.test(e.message),
  );
});

Deno.test("golden: normalised traces are identical across runs; temp paths and ports are placeholders", async () => {
  // Calls in one step often start in the same millisecond; their order must not flip.
  const a = await runScenario("det", { agent: fetcher });
  for (let i = 0; i < 4; i++) {
    const b = await runScenario("det", { agent: fetcher });
    assert.equal(JSON.stringify(b.trace), JSON.stringify(a.trace));
  }
  const tools = a.trace.spans.filter((s) => s.kind === "tool").map((s) => s.name);
  assert.deepEqual(tools, [
    "execute_tool fetch_page",
    "execute_tool count",
    "execute_tool fetch_page",
    "execute_tool count",
  ]);
  assert.deepEqual(a.trace.spans.map((s) => s.id).slice(0, 3), ["s1", "s2", "s3"]);
  assert.ok(a.trace.spans.every((s) => s.duration === 0 || s.duration === null));

  const rec = new Recorder({ name: "x" });
  rec.recordTool({
    parent: null,
    name: "open",
    args: {
      path: "/tmp/loom-scenario-abc/ws/a.txt",
      url: "http://127.0.0.1:41234/v1",
      at: "2026-11-25T12:43:55.638Z",
    },
    result: "ok",
  });
  const n = normalizeTrace(rec.toJSON(), { dirs: ["/tmp/loom-scenario-abc"] });
  assert.deepEqual(n.spans[0].input, {
    path: "<dir>/ws/a.txt",
    url: "http://127.0.0.1:<port>/v1",
    at: "<time>",
  });
});

Deno.test("golden: update writes, a match passes, a difference fails with the first divergence in words", async () => {
  await withDir(async (dir) => {
    const golden = `${dir}/g.json`;
    await assert.rejects(
      assertMatchesGolden(await runScenario("g", { agent: fetcher }), golden, { update: false }),
      /golden file .*g\.json does not exist; create it with LOOM_UPDATE_GOLDEN=1/,
    );
    const base = await runScenario("g", { agent: fetcher });
    await assertMatchesGolden(base, golden, { update: true });
    await assertMatchesGolden(await runScenario("g", { agent: fetcher }), golden, {
      update: false,
    });

    // A code change: the second page is fetched with other arguments.
    const changed = defineAgent({
      ...fetcher,
      async step(state, ctx) {
        if (state.pages.length === 2) return { pages: state.pages };
        const page = await ctx.callTool(
          "fetch_page",
          { n: state.pages.length * 10 },
          (a: { n: number }) => `page ${a.n}`,
        );
        await ctx.callTool("count", { n: state.pages.length }, () => state.pages.length + 1);
        return recur({ pages: [...state.pages, page] });
      },
    });
    const err = await assert.rejects(
      assertMatchesGolden(await runScenario("g", { agent: changed }), golden, { update: false }),
      (e) => {
        assert.ok(e instanceof GoldenMismatchError);
        assert.match(
          e.message,
          /^scenario "g" diverged from golden .*g\.json: in step 1 the args\.n of tool call "fetch_page" changed: golden 1, now 10\.\n/,
        );
        assert.match(e.message, /~ run › step:step 1 › tool:fetch_page\n\s+! args\.n: 1 → 10/);
        assert.match(e.message, /accept it with LOOM_UPDATE_GOLDEN=1/);
        return true;
      },
    );
    assert.equal(err, undefined);
  });
});

Deno.test("golden: divergences in words for added, removed and changed spans", () => {
  const base = {
    kind: "tool" as const,
    label: "status",
    severity: "fail" as const,
    ignored: false,
  };
  assert.equal(
    divergenceInWords({
      ...base,
      locator: "run › step:step 0 › tool:status#2",
      change: "added",
      field: "",
    }),
    'in step 0 the new run has an extra tool call "status" (#2 of its kind there) that the golden run does not have',
  );
  assert.equal(
    divergenceInWords({
      ...base,
      kind: "step",
      label: "step 3",
      locator: "run › step:step 3",
      change: "removed",
      field: "",
    }),
    "the golden run has a step 3 that the new run no longer has",
  );
  assert.equal(
    divergenceInWords({
      ...base,
      kind: "event",
      label: "resumed",
      locator: "run › event:resumed",
      change: "removed",
      field: "",
    }),
    'the golden run has an event "resumed" that the new run no longer has',
  );
  assert.equal(
    divergenceInWords({
      ...base,
      kind: "step",
      label: "step 1",
      locator: "run › step:step 1",
      change: "changed",
      field: "output.answer",
      a: "high",
      b: "low",
    }),
    'the output.answer of step 1 changed: golden "high", now "low"',
  );
});

Deno.test("cassette descriptor and diff helpers", () => {
  const c = cassette("cassettes/x.json");
  assert.equal(c.kind, "cassette");
  assert.equal(c.origin, import.meta.url);
  assert.equal(
    stringChange("answer in one word", "answer in two words"),
    "answer in [-one word-]{+two words+}",
  );
  assert.equal(
    stringChange("x".repeat(50) + "A" + "y".repeat(50), "x".repeat(50) + "B" + "y".repeat(50), 5),
    "…xxxxx[-A-]{+B+}yyyyy…",
  );
  assert.ok(new CassetteMismatchError("m") instanceof Error);
});

Deno.test("scrubSecrets: key patterns, bearer tokens, key variables' values and listed secrets", () => {
  const previous = Deno.env.get("LOOM_LLM_API_KEY");
  Deno.env.set("LOOM_LLM_API_KEY", "local-gateway-token-42");
  try {
    const text = scrubSecrets(
      `a ${SECRET} b Bearer abc.def-123456 c local-gateway-token-42 d ghp_0123456789abcdefXYZ e hunter2-db-pass`,
      ["hunter2-db-pass"],
    );
    assert.equal(text, "a [REDACTED] b [REDACTED] c [REDACTED] d [REDACTED] e [REDACTED]");
  } finally {
    if (previous === undefined) Deno.env.delete("LOOM_LLM_API_KEY");
    else Deno.env.set("LOOM_LLM_API_KEY", previous);
  }
});

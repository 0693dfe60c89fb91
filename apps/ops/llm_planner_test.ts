import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { extractJson, LlmPlanner, llmSettingsFromEnv } from "./llm_planner.ts";
import { loadPlaybooks } from "./agents.ts";
import { main } from "./main.ts";
import { opsEnv, withAuditKey } from "./_test_util.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** What the fake server answers: text, or a refusal; how it ends; with or without `usage`. */
interface FakeReply {
  content?: string;
  refusal?: string;
  finishReason?: string;
  /** Leave `usage` out, like some local servers (default: send it). */
  noUsage?: boolean;
  /** Answer with a stream whatever was asked, like servers that ignore `stream: false`. */
  stream?: boolean;
}

/**
 * A fake OpenAI-compatible chat completions server on 127.0.0.1 that speaks the documented
 * shapes: a `chat.completion` (`id`, `object`, `created`, `model`, `choices[].index`,
 * `message.refusal`, `logprobs`, `finish_reason`, `usage` with `total_tokens`), or SSE
 * `chat.completion.chunk`s (`delta.refusal`, a last chunk with empty `choices` and the usage).
 */
function fakeLlm(reply: string | FakeReply) {
  const r: FakeReply = typeof reply === "string" ? { content: reply } : reply;
  const requests: {
    model: string;
    stream?: boolean;
    messages: { role: string; content: string }[];
  }[] = [];
  const ac = new AbortController();
  const meta = { id: "chatcmpl-1", created: 1_700_000_000, model: "test-model" };
  const usage = r.noUsage
    ? undefined
    : { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
  const finishReason = r.finishReason ?? "stop";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      if (new URL(req.url).pathname !== "/v1/chat/completions" || req.method !== "POST") {
        return new Response("not found", { status: 404 });
      }
      requests.push(await req.json());
      if (!r.stream) {
        return Response.json({
          ...meta,
          object: "chat.completion",
          choices: [{
            index: 0,
            message: {
              role: "assistant",
              content: r.refusal ? null : r.content ?? "",
              refusal: r.refusal ?? null,
            },
            logprobs: null,
            finish_reason: finishReason,
          }],
          ...(usage ? { usage } : {}),
        });
      }
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
        ...meta,
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      });
      const text = r.refusal ?? r.content ?? "";
      const field = r.refusal ? "refusal" : "content";
      const parts = [text.slice(0, text.length / 2), text.slice(text.length / 2)];
      const chunks = [
        chunk({
          role: "assistant",
          content: r.refusal ? null : "",
          refusal: r.refusal ? "" : null,
        }),
        ...parts.map((part) => chunk({ [field]: part })),
        chunk({}, finishReason),
        ...(usage ? [{ ...meta, object: "chat.completion.chunk", choices: [], usage }] : []),
      ];
      const body = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") +
        "data: [DONE]\n\n";
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    requests,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

const PLAN = {
  name: "api latency (llm)",
  description: "diagnose, then restart",
  steps: [
    { id: "status", run: ["svcctl", "status", "api"] },
    { id: "logs", run: ["svcctl", "logs", "api"] },
    // The model "forgot" the gate the playbook puts on the restart.
    { id: "restart", needs: ["status", "logs"], run: ["svcctl", "restart", "api"] },
  ],
};

Deno.test("the LLM planner validates the model's plan and keeps the playbook's gates", async () => {
  const llm = fakeLlm("Here is the plan:\n```json\n" + JSON.stringify(PLAN, null, 2) + "\n```");
  try {
    const planner = new LlmPlanner({ baseUrl: llm.url, model: "test-model" });
    const plan = await planner.plan({
      incident: "incident: API latency",
      playbooks: loadPlaybooks(OPS_DIR),
      memory: [],
      allowlist: [["svcctl", "status"], ["svcctl", "restart"]],
    });
    assert.equal(plan.source, "llm:test-model");
    assert.deepEqual(plan.steps.map((s) => s.id), ["status", "logs", "restart"]);
    assert.deepEqual(plan.steps[2].approve?.by, ["alice", "bob"]);
    assert.equal(plan.steps[0].approve, undefined);
    const req = llm.requests[0];
    assert.equal(req.model, "test-model");
    assert.match(req.messages[1].content, /Incident: incident: API latency/);
    assert.match(
      req.messages[1].content,
      /Allowed command prefixes:\nsvcctl status\nsvcctl restart/,
    );
    assert.match(req.messages[1].content, /## Playbook: API latency/);
    assert.equal(req.stream, false);
    assert.deepEqual(plan.usage, {
      model: "test-model",
      tokens: { promptTokens: 10, completionTokens: 20 },
    });
  } finally {
    await llm.close();
  }
});

Deno.test("a malformed LLM plan fails with a line-numbered error", async () => {
  const llm = fakeLlm(
    '{\n  "name": "x",\n  "steps": [\n    {"id": "a", "run": "svcctl restart api"}\n  ]\n}',
  );
  try {
    const planner = new LlmPlanner({ baseUrl: llm.url, model: "m" });
    await assert.rejects(
      planner.plan({ incident: "x", playbooks: [], memory: [] }),
      /plan from llm:m:4:24: step "a": run must be an argv list/,
    );
  } finally {
    await llm.close();
  }
  assert.throws(() => extractJson("no plan today"), /did not answer with a JSON plan/);
});

const INPUT = { incident: "incident: API latency", playbooks: [], memory: [] };

/** Plans with a fake server answering `reply`. */
async function planWith(reply: FakeReply) {
  const llm = fakeLlm(reply);
  try {
    return await new LlmPlanner({ baseUrl: llm.url, model: "test-model" }).plan(INPUT);
  } finally {
    await llm.close();
  }
}

Deno.test("a refusal fails planning with the model's words, whether sent whole or streamed", async () => {
  for (const stream of [false, true]) {
    await assert.rejects(
      planWith({ refusal: "I can't help with restarting production services.", stream }),
      (e: Error) => {
        assert.equal(
          e.message,
          "the LLM (test-model) refused to plan: I can't help with restarting production services.",
        );
        return true;
      },
      `stream: ${stream}`,
    );
  }
});

Deno.test("an answer cut at the length limit is not taken for a plan, even when it parses", async () => {
  for (const stream of [false, true]) {
    await assert.rejects(
      planWith({ content: JSON.stringify(PLAN), finishReason: "length", stream }),
      /^Error: the LLM's answer was cut off at its length limit \(finish_reason: length\), so its plan is incomplete/,
    );
  }
  await assert.rejects(
    planWith({ content: "", finishReason: "content_filter" }),
    /withheld by the server's content filter/,
  );
});

Deno.test("usage: counted when the server sends it, unknown (null, not 0) when it does not", async () => {
  const streamed = await planWith({ content: JSON.stringify(PLAN), stream: true });
  assert.deepEqual(streamed.steps.map((s) => s.id), ["status", "logs", "restart"]);
  assert.deepEqual(streamed.usage?.tokens, { promptTokens: 10, completionTokens: 20 });
  for (const stream of [false, true]) {
    const plan = await planWith({ content: JSON.stringify(PLAN), noUsage: true, stream });
    assert.deepEqual(plan.usage, { model: "test-model", tokens: null }, `stream: ${stream}`);
  }
});

Deno.test("one set of LLM settings with loom-run; loom-ops' old names still work, with a notice", () => {
  const from = (vars: Record<string, string>) => llmSettingsFromEnv((name) => vars[name]);
  assert.deepEqual(
    from({ LOOM_LLM_BASE_URL: "http://127.0.0.1:11434/v1", LOOM_LLM_MODEL: "qwen2.5" }),
    { options: { baseUrl: "http://127.0.0.1:11434/v1", model: "qwen2.5", apiKey: undefined } },
  );
  const old = from({
    LOOM_OPS_LLM_URL: "http://127.0.0.1:8000/v1",
    LOOM_OPS_LLM_MODEL: "m",
    LOOM_OPS_LLM_API_KEY: "k",
  });
  assert.deepEqual(old.options, { baseUrl: "http://127.0.0.1:8000/v1", model: "m", apiKey: "k" });
  assert.equal(
    old.notice,
    "note: loom-ops reads the LLM settings loom-run reads; rename LOOM_OPS_LLM_URL → LOOM_LLM_BASE_URL, LOOM_OPS_LLM_MODEL → LOOM_LLM_MODEL, LOOM_OPS_LLM_API_KEY → LOOM_LLM_API_KEY",
  );
  // Both names: the shared one wins, and the notice says the old one is ignored.
  const both = from({
    LOOM_LLM_MODEL: "new",
    LOOM_OPS_LLM_MODEL: "old",
    LOOM_LLM_BASE_URL: "http://h/v1",
  });
  assert.equal(both.options?.model, "new");
  assert.match(
    both.notice!,
    /LOOM_OPS_LLM_MODEL → LOOM_LLM_MODEL \(ignored: LOOM_LLM_MODEL is set\)$/,
  );
  // A key alone means api.openai.com, as in loom-run; OPENAI_API_KEY is the key's fallback.
  assert.deepEqual(from({ OPENAI_API_KEY: "sk-1" }).options, {
    baseUrl: "https://api.openai.com/v1",
    model: "gpt-4o-mini",
    apiKey: "sk-1",
  });
  assert.equal(from({ LOOM_LLM_API_KEY: "a", OPENAI_API_KEY: "b" }).options?.apiKey, "a");
  // Nothing (empty counts as unset): no LLM.
  assert.deepEqual(from({ LOOM_LLM_BASE_URL: "" }), {});
});

/** Every LLM variable, emptied: a subprocess sees only what a test sets. */
const NO_LLM = Object.fromEntries(
  [
    "LOOM_LLM_BASE_URL",
    "LOOM_LLM_MODEL",
    "LOOM_LLM_API_KEY",
    "LOOM_OPS_LLM_URL",
    "LOOM_OPS_LLM_MODEL",
    "LOOM_OPS_LLM_API_KEY",
    "OPENAI_API_KEY",
  ].map((name) => [name, ""]),
);

/** `loom-ops supervise` without --mock-llm in a subprocess with `env`. */
async function supervise(dir: string, runId: string, env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "supervise",
      "incident: API latency",
      "--run-id",
      runId,
      "--db",
      `${dir}/ops.sqlite`,
      "--workspace",
      OPS_DIR,
      "--state-dir",
      dir,
    ],
    env: opsEnv(dir, { ...NO_LLM, ...env }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("supervise without --mock-llm uses the configured LLM, under either name", async () => {
  const llm = fakeLlm({ content: JSON.stringify(PLAN), noUsage: true });
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-llm-" });
  try {
    const shared = await supervise(dir, "inc-llm", {
      LOOM_LLM_BASE_URL: llm.url,
      LOOM_LLM_MODEL: "test-model",
    });
    assert.equal(shared.code, 0, shared.stderr);
    assert.doesNotMatch(shared.stderr, /note:/);
    assert.match(shared.stdout, /run inc-llm: waiting \(plan api latency \(llm\)\)/);
    assert.match(shared.stdout, /restart\s+waiting-approval/);
    const db = new DatabaseSync(`${dir}/ops.sqlite.ops`, { readOnly: true });
    const plan = db.prepare("SELECT actor, data FROM ops_audit WHERE kind = 'plan'").get() as {
      actor: string;
      data: string;
    };
    db.close();
    assert.equal(plan.actor, "llm:test-model");
    assert.deepEqual(JSON.parse(plan.data).usage, { model: "test-model", tokens: null });

    const old = await supervise(dir, "inc-old", {
      LOOM_OPS_LLM_URL: llm.url,
      LOOM_OPS_LLM_MODEL: "test-model",
    });
    assert.equal(old.code, 0, old.stderr);
    assert.deepEqual(old.stderr.split("\n").filter((l) => l.startsWith("note:")), [
      "note: loom-ops reads the LLM settings loom-run reads; rename LOOM_OPS_LLM_URL → LOOM_LLM_BASE_URL, LOOM_OPS_LLM_MODEL → LOOM_LLM_MODEL",
    ]);
    assert.equal(llm.requests.length, 2);

    // The audit listing shows the tokens as unknown, not as 0.
    let listed = "";
    const code = await main(
      withAuditKey(["audit", "--run-id", "inc-llm", "--db", `${dir}/ops.sqlite`], dir),
      { out: (t) => (listed += t + "\n"), err: () => {} },
    );
    assert.equal(code, 0);
    assert.match(
      listed,
      /plan +llm:test-model +api latency \(llm\): 3 steps \(llm:test-model; tokens unknown\)/,
    );

    const none = await supervise(dir, "inc-none", {});
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      "error: no LLM is configured: pass --mock-llm, or set LOOM_LLM_BASE_URL (an OpenAI-compatible endpoint such as http://127.0.0.1:11434/v1) and LOOM_LLM_MODEL, or LOOM_LLM_API_KEY for api.openai.com\n",
    );
  } finally {
    await llm.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a refusal ends a supervised run as failed, with the model's words", async () => {
  const llm = fakeLlm({ refusal: "I won't plan that.", stream: true });
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-llm-" });
  try {
    const r = await supervise(dir, "inc-no", { LOOM_LLM_BASE_URL: llm.url });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: run inc-no failed: .*the LLM \(gpt-4o-mini\) refused to plan: I won't plan that\.$/m,
    );
  } finally {
    await llm.close();
    await Deno.remove(dir, { recursive: true });
  }
});

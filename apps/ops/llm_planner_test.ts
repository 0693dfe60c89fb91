import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { extractJson, LlmPlanner } from "./llm_planner.ts";
import { loadPlaybooks } from "./agents.ts";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** A fake OpenAI-compatible chat completions server on 127.0.0.1 with a scripted reply. */
function fakeLlm(reply: string) {
  const requests: { model: string; messages: { role: string; content: string }[] }[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      if (new URL(req.url).pathname !== "/v1/chat/completions" || req.method !== "POST") {
        return new Response("not found", { status: 404 });
      }
      requests.push(await req.json());
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        model: "test-model",
        choices: [{
          index: 0,
          finish_reason: "stop",
          message: { role: "assistant", content: reply },
        }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      });
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

Deno.test("supervise without --mock-llm uses the configured LLM", async () => {
  const llm = fakeLlm(JSON.stringify(PLAN));
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-llm-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "supervise",
        "incident: API latency",
        "--run-id",
        "inc-llm",
        "--db",
        `${dir}/ops.sqlite`,
        "--workspace",
        OPS_DIR,
        "--state-dir",
        dir,
      ],
      env: { LOOM_OPS_LLM_URL: llm.url, LOOM_OPS_LLM_MODEL: "test-model" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout, /run inc-llm: waiting \(plan api latency \(llm\)\)/);
    assert.match(stdout, /restart\s+waiting-approval/);
    const db = new DatabaseSync(`${dir}/ops.sqlite.ops`, { readOnly: true });
    const plan = db.prepare("SELECT actor FROM ops_audit WHERE kind = 'plan'").get() as {
      actor: string;
    };
    db.close();
    assert.equal(plan.actor, "llm:test-model");
    assert.equal(llm.requests.length, 1);
  } finally {
    await llm.close();
    await Deno.remove(dir, { recursive: true });
  }
});

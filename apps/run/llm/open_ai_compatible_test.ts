// `openAiCompatible()`: its options are checked up front, and what is left out comes from the
// LOOM_LLM_* variables (read in a subprocess, so this process's environment is not touched).
import assert from "node:assert/strict";
import { startFakeOpenAi } from "./fake_openai_server.ts";
import { openAiCompatible } from "./openai.ts";

Deno.test("openAiCompatible: talks to the endpoint with the given model and key", async () => {
  const fake = await startFakeOpenAi({ script: [{ kind: "text", text: "hello" }] });
  try {
    const model = openAiCompatible({ baseUrl: fake.baseUrl, model: "gpt-4o", apiKey: "sk-given" });
    assert.deepEqual([model.provider, model.model], ["openai", "gpt-4o"]);
    const reply = await model.complete({ messages: [{ role: "user", content: "hi" }], tools: [] });
    assert.equal(reply.content, "hello");
    assert.equal(fake.requests[0].body.model, "gpt-4o");
    assert.equal(fake.requests[0].authorization, "Bearer sk-given");
  } finally {
    await fake.close();
  }
});

Deno.test("openAiCompatible: left-out options come from LOOM_LLM_BASE_URL, LOOM_LLM_MODEL and LOOM_LLM_API_KEY", async () => {
  const fake = await startFakeOpenAi({ script: [{ kind: "text", text: "from env" }] });
  try {
    const code = `import { openAiCompatible } from ${
      JSON.stringify(new URL("./openai.ts", import.meta.url).href)
    };
const model = openAiCompatible({ baseUrl: undefined });
const reply = await model.complete({ messages: [{ role: "user", content: "hi" }], tools: [] });
console.log(model.model, reply.content);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        LOOM_LLM_BASE_URL: fake.baseUrl,
        LOOM_LLM_MODEL: "local-model",
        LOOM_LLM_API_KEY: "sk-from-env",
      },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "local-model from env");
    assert.equal(fake.requests[0].authorization, "Bearer sk-from-env");
  } finally {
    await fake.close();
  }
});

Deno.test("openAiCompatible: malformed options are refused at once, saying what was wrong", () => {
  assert.throws(
    () => openAiCompatible({ baseUrl: "localhost:11434" }),
    /Cannot create the OpenAI-compatible model as 'baseUrl' must be an http\(s\) URL: current value is "localhost:11434"/,
  );
  assert.throws(
    () => openAiCompatible({ baseUrl: "http://127.0.0.1:1/v1", model: " " }),
    /'model' must be a non-empty string: current value is " "/,
  );
  assert.throws(
    () => openAiCompatible({ baseUrl: "http://127.0.0.1:1/v1", timeoutMs: 0 }),
    (e) =>
      e instanceof RangeError &&
      /'timeoutMs' must be a positive number: current value is 0/.test(e.message),
  );
  assert.throws(
    () => openAiCompatible({ baseUrl: "http://127.0.0.1:1/v1", pricePerMTok: [1] as never }),
    /'pricePerMTok' must be \[input, output\] dollars per million tokens: current value is \[1\]/,
  );
});

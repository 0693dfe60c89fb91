import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ENV_VARS, parseConfig, splitCommand, usage } from "./config.ts";
import { UsageError } from "./errors.ts";

const noEnv = () => undefined;
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("config: defaults", () => {
  const c = parseConfig(["chat", "why", "does", "it", "fail?"], noEnv);
  assert.equal(c.command, "chat");
  assert.equal(c.prompt, "why does it fail?");
  assert.equal(c.db, "loom-run.sqlite");
  assert.equal(c.settings.workspace, Deno.cwd());
  assert.deepEqual(c.settings.llm, {
    provider: "openai",
    model: "gpt-4o-mini",
    baseUrl: "https://api.openai.com/v1",
    timeoutMs: 120_000,
  });
  assert.equal(c.settings.maxSteps, 12);
  assert.equal(c.settings.maxToolCalls, 30);
  assert.deepEqual(c.settings.testCommand, ["deno", "test"]);
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 8765);
  assert.equal(c.explicit.size, 0);
});

Deno.test("config: environment variables apply, flags win over them", () => {
  const env = envOf({
    LOOM_RUN_DB: "env.sqlite",
    LOOM_RUN_WORKSPACE: "/tmp/ws-env",
    LOOM_RUN_MAX_STEPS: "5",
    LOOM_LLM_BASE_URL: "http://127.0.0.1:11434/v1/",
    LOOM_LLM_MODEL: "llama3",
    OPENAI_API_KEY: "sk-openai",
    LOOM_RUN_TEST_COMMAND: `deno test --filter "add works"`,
    LOOM_LLM_MOCK: "1",
  });
  const c = parseConfig(["chat", "q"], env);
  assert.equal(c.db, "env.sqlite");
  assert.equal(c.settings.workspace, "/tmp/ws-env");
  assert.equal(c.settings.maxSteps, 5);
  assert.equal(c.settings.llm.baseUrl, "http://127.0.0.1:11434/v1");
  assert.equal(c.settings.llm.model, "llama3");
  assert.equal(c.settings.llm.provider, "mock");
  assert.equal(c.apiKey, "sk-openai");
  assert.deepEqual(c.settings.testCommand, ["deno", "test", "--filter", "add works"]);
  const f = parseConfig([
    "chat",
    "q",
    "--db",
    "flag.sqlite",
    "--max-steps",
    "9",
    "--model",
    "m2",
    "--workspace",
    "rel",
  ], env);
  assert.equal(f.db, "flag.sqlite");
  assert.equal(f.settings.maxSteps, 9);
  assert.equal(f.settings.llm.model, "m2");
  assert.equal(f.settings.workspace, resolve("rel"));
  assert.ok(f.explicit.has("model") && f.explicit.has("maxSteps") && f.explicit.has("provider"));
  assert.equal(
    parseConfig(["chat", "q"], envOf({ LOOM_LLM_API_KEY: "a", OPENAI_API_KEY: "b" })).apiKey,
    "a",
  );
});

Deno.test("config: user errors are UsageErrors with one sentence", () => {
  const bad: [string[], RegExp][] = [
    [["chat"], /needs a question/],
    [["explain"], /needs --run-id/],
    [
      ["chat", "q", "--max-tool-calls", "0"],
      /--max-tool-calls must be a positive integer, got '0'/,
    ],
    [["serve", "--port", "70000"], /--port must be a port number/],
    [["chat", "q", "--run-id", "../x"], /run id '..\/x' may only contain/],
    [["resume", "extra", "--run-id", "a"], /takes no positional argument/],
    [["nope"], /unknown command 'nope'/],
  ];
  for (const [args, pattern] of bad) {
    assert.throws(
      () => parseConfig(args, noEnv),
      (e: unknown) => e instanceof UsageError && pattern.test(e.message),
      args.join(" "),
    );
  }
  assert.equal(parseConfig(["chat", "q", "--run-id", "team/2"], noEnv).runId, "team/2");
});

Deno.test("config: splitCommand honours quotes", () => {
  assert.deepEqual(splitCommand(`npm run 'test:unit' -- "a b"`), [
    "npm",
    "run",
    "test:unit",
    "--",
    "a b",
  ]);
  assert.throws(() => splitCommand("   "), /empty/);
  // Quoted shell characters are plain text; quotes join with the rest of a word.
  assert.deepEqual(splitCommand(`grep 'a|b' --x="1 2;3" ''`), ["grep", "a|b", "--x=1 2;3", ""]);
  for (
    const bad of ["a | b", "a&", "a;b", "a > f", "a <f", "a `b`", "a $(b)", `a "$(b)"`, "a 'b"]
  ) {
    assert.throws(() => splitCommand(bad), UsageError, bad);
  }
});

Deno.test("config: help and README document every environment variable", async () => {
  const readme = await Deno.readTextFile(new URL("./README.md", import.meta.url));
  for (const v of ENV_VARS) {
    assert.ok(usage().includes(v.name), `help lacks ${v.name}`);
    assert.ok(readme.includes(`| \`${v.name}\` |`), `README table lacks ${v.name}`);
  }
});

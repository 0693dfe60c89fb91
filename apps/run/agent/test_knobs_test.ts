import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import type { Tool } from "../tools/types.ts";
import { parseToolHolds, withKnobs } from "./test_knobs.ts";

Deno.test("LOOM_RUN_TOOL_HOLD: a tool, or a run's tool (the last ':' separates), comma-separated", () => {
  assert.deepEqual(parseToolHolds(undefined), []);
  assert.deepEqual(parseToolHolds(""), []);
  assert.deepEqual(parseToolHolds("run_tests"), [{ runId: undefined, tool: "run_tests" }]);
  assert.deepEqual(parseToolHolds("team/2:run_tests, team/3:list_files"), [
    { runId: "team/2", tool: "run_tests" },
    { runId: "team/3", tool: "list_files" },
  ]);
  assert.deepEqual(parseToolHolds("a:b:fx__echo"), [{ runId: "a:b", tool: "fx__echo" }]);
  for (const bad of ["team/2:", "run_tests,,search", "run tests", ":"]) {
    assert.throws(() => parseToolHolds(bad), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^LOOM_RUN_TOOL_HOLD must be a comma-separated list of/);
      return true;
    }, bad);
  }
});

Deno.test("LOOM_RUN_TOOL_HOLD: only the named run's call waits, and an abort ends the wait", async () => {
  const ran: string[] = [];
  const echo: Tool = {
    name: "echo",
    description: "echo",
    parameters: { type: "object" },
    source: "local",
    run: (_args, options) => {
      ran.push(options.runId ?? "");
      return Promise.resolve("ok");
    },
  };
  const held = withKnobs(echo, { toolHolds: [{ runId: "r2", tool: "echo" }] });
  const signal = new AbortController().signal;
  assert.equal(await held.run({}, { signal, runId: "r1" }), "ok");
  const abort = new AbortController();
  const waiting = held.run({}, { signal: abort.signal, runId: "r2" });
  abort.abort(new Error("cancelled"));
  await assert.rejects(waiting, /cancelled/);
  assert.deepEqual(ran, ["r1"], "the held call never ran");
});

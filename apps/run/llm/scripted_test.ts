import assert from "node:assert/strict";
import { scriptedModel } from "./scripted.ts";
import type { ChatMessage } from "./types.ts";

const user: ChatMessage = { role: "user", content: "Oslo?" };

Deno.test("scriptedModel: the turn played is the number of assistant messages so far", async () => {
  const model = scriptedModel([
    { toolCalls: [{ name: "forecast", arguments: { city: "Oslo" } }] },
    "Sunny.",
  ]);
  const first = await model.complete({ messages: [user], tools: [] });
  assert.deepEqual(first.toolCalls, [{
    id: "call_1_1",
    type: "function",
    function: { name: "forecast", arguments: '{"city":"Oslo"}' },
  }]);
  assert.equal(first.finishReason, "tool_calls");
  const conversation: ChatMessage[] = [
    user,
    { role: "assistant", content: null, tool_calls: first.toolCalls },
    { role: "tool", tool_call_id: "call_1_1", content: "sunny" },
  ];
  // A fresh model (a new process after a crash) plays the same turn for the same conversation.
  const again = scriptedModel([{ toolCalls: [] }, "Sunny."]);
  const deltas: string[] = [];
  const second = await again.complete({
    messages: conversation,
    tools: [],
    onDelta: (d) => deltas.push(d),
  });
  assert.equal(second.content, "Sunny.");
  assert.equal(deltas.join(""), "Sunny.");
  assert.equal(second.finishReason, "stop");
  assert.equal(second.costUsd, 0);
  assert.ok(second.usage!.promptTokens > 0);
});

Deno.test("scriptedModel: refusals, cut answers, raw arguments and unknown usage", async () => {
  const model = scriptedModel([{ refusal: "No." }]);
  const refused = await model.complete({ messages: [user], tools: [] });
  assert.deepEqual([refused.content, refused.refusal], ["", "No."]);
  const more = scriptedModel((_request, turn) =>
    [
      { content: "The first half", finishReason: "length", usage: null },
      { toolCalls: [{ name: "f", arguments: "{not json", id: "x" }] },
    ][turn]
  );
  const cut = await more.complete({ messages: [user], tools: [] });
  assert.equal(cut.finishReason, "length");
  assert.equal(cut.usage, undefined);
  assert.equal(cut.costUsd, undefined);
  const raw = await more.complete({
    messages: [user, { role: "assistant", content: "The first half" }],
    tools: [],
  });
  assert.deepEqual(raw.toolCalls[0], {
    id: "x",
    type: "function",
    function: { name: "f", arguments: "{not json" },
  });
});

Deno.test("scriptedModel: a conversation longer than the script fails with the missing turn", async () => {
  const model = scriptedModel(["only one"]);
  await assert.rejects(
    model.complete({
      messages: [user, { role: "assistant", content: "only one" }, user],
      tools: [],
    }),
    /the scripted model has 1 turn, and the conversation asks for turn 2/,
  );
  assert.throws(
    () => scriptedModel([]),
    /'turns' must be a non-empty array of turns or a function/,
  );
});

import assert from "node:assert/strict";
import { newOwnerId, ownerIsGone, processExists } from "./lease.ts";

Deno.test("a SIGKILLed process counts as gone at once, even before its parent reaps it", async () => {
  // `sleep 60` (exec'd by bash) is the parent of `sleep 30` and never waits for it: once killed,
  // the child stays a zombie in /proc, as a SIGKILLed run does until its parent reaps it.
  const parent = new Deno.Command("bash", {
    args: ["-c", "sleep 30 & echo $!; exec sleep 60"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const pid = Number((await reader.read()).value!.trim());
  try {
    // Kill only once bash has exec'd `sleep 60`: bash itself would reap the child at once.
    for (
      let i = 0;
      i < 500 && Deno.readTextFileSync(`/proc/${parent.pid}/comm`) !== "sleep\n";
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(processExists(pid), true);
    const owner = `${newOwnerId().split(":")[0]}:${pid}:abc123`;
    assert.equal(ownerIsGone(owner), false, "a live owner on this host keeps its lease");
    Deno.kill(pid, "SIGKILL");
    let state = "";
    for (let i = 0; i < 200 && state !== "Z"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    }
    assert.equal(state, "Z", "the killed process is a zombie still listed in /proc");
    assert.equal(processExists(pid), false);
    assert.equal(ownerIsGone(owner), true);
  } finally {
    parent.kill("SIGKILL");
    await parent.status;
    await reader.cancel();
  }
});

Deno.test("owners on another host are never judged gone", () => {
  assert.equal(ownerIsGone("some-other-host:1:abc"), false);
  assert.equal(ownerIsGone("not an owner id"), false);
});

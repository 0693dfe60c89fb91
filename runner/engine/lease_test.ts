import assert from "node:assert/strict";
import { newOwnerId, ownerIsGone, processExists } from "./lease.ts";
import { waitFor } from "../testing.ts";

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
    await waitFor(
      "bash to exec `sleep 60`",
      () => Deno.readTextFileSync(`/proc/${parent.pid}/comm`) === "sleep\n",
    );
    assert.equal(processExists(pid), true);
    const owner = `${newOwnerId().split(":")[0]}:${pid}:abc123`;
    assert.equal(ownerIsGone(owner), false, "a live owner on this host keeps its lease");
    Deno.kill(pid, "SIGKILL");
    await waitFor("the killed process to be a zombie still listed in /proc", () => {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
    });
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

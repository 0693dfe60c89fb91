import assert from "node:assert/strict";
import { newOwnerId, ownerIsGone, ownerLiveness, parseOwner, processExists } from "./lease.ts";
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

Deno.test("owner ids name their host without prompting: hostname with --allow-sys, else $HOSTNAME, else unknown-host", async () => {
  const script = new URL("../testdata/owner_id.ts", import.meta.url).pathname;
  const ownerId = async (flags: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, script],
      env: { HOSTNAME: "from-env" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return parseOwner(new TextDecoder().decode(out.stdout).trim())!;
  };
  assert.equal((await ownerId([])).host, "unknown-host");
  assert.equal((await ownerId(["--allow-env=HOSTNAME"])).host, "from-env");
  assert.equal((await ownerId(["--allow-sys=hostname"])).host, Deno.hostname());
});

Deno.test("without --allow-all an owner of a store without owner locks is judged by its lease, and the reason says so", async () => {
  const script = new URL("../testdata/owner_id.ts", import.meta.url).pathname;
  const owner = `${Deno.hostname()}:1:abc`; // pid 1 exists: /proc would say alive
  for (const flags of [[], ["--allow-sys=hostname", "--allow-read"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, script, owner],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.deepEqual(JSON.parse(lines[1]), {
      state: "unknown",
      reason: "that needs /proc/1 of its host, which Deno reads only with --allow-all",
    });
  }
});

Deno.test("owner ids carry the owner lock's token; an owner that cannot be checked says why", () => {
  const me = parseOwner(newOwnerId("k3y"))!;
  assert.equal(me.pid, Deno.pid);
  assert.equal(me.lockToken, "k3y");
  assert.equal(parseOwner(newOwnerId())!.lockToken, undefined);
  assert.deepEqual(ownerLiveness("elsewhere:42:abc"), {
    state: "unknown",
    reason: "it runs on host elsewhere",
  });
  assert.equal(ownerLiveness("garbage").state, "unknown");
});

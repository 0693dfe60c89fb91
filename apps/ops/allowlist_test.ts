import assert from "node:assert/strict";
import { Allowlist, inlineCodeReason } from "./allowlist.ts";

Deno.test("argv prefixes: kubectl get is allowed, kubectl delete is not", () => {
  const al = new Allowlist([["kubectl", "get"], ["svcctl"]]);
  assert.deepEqual(al.check(["kubectl", "get", "pods"]), { allowed: true });
  assert.deepEqual(al.check(["svcctl", "restart", "api"]), { allowed: true });
  const d = al.check(["kubectl", "delete", "pods"]);
  assert.ok(!d.allowed && /`kubectl delete pods` is not in the allowlist/.test(d.reason));
  assert.ok(!al.check(["kubectl"]).allowed, "a shorter argv than the prefix is not allowed");
  assert.ok(!al.check([]).allowed);
  assert.ok(!al.check(["/usr/bin/kubectl", "get"]).allowed, "paths do not match names");
});

Deno.test("interpreters with code flags are refused even when listed", () => {
  const al = new Allowlist([["sh"], ["bash"], ["python3"], ["node"], ["env"], ["deno"]]);
  for (
    const argv of [
      ["sh", "-c", "rm -rf /"],
      ["bash", "-ec", "id"],
      ["python3", "-c", "print(1)"],
      ["node", "-e", "1"],
      ["node", "--eval", "1"],
      ["env", "FOO=1", "sh", "-c", "id"],
      ["deno", "eval", "1"],
      ["/usr/bin/python3.12", "-c", "1"],
    ]
  ) {
    const d = al.check(argv);
    assert.ok(
      !d.allowed && /runs inline code/.test(d.reason),
      `${argv.join(" ")}: ${JSON.stringify(d)}`,
    );
  }
  assert.deepEqual(al.check(["bash", "script.sh"]), { allowed: true });
  assert.deepEqual(inlineCodeReason(["svcctl", "-c", "x"]), undefined);
});

Deno.test("a runbook's allowlist can narrow but never widen the workspace's", () => {
  const workspace = new Allowlist([["svcctl", "status"], ["svcctl", "restart"]], ["/opt/bin"]);
  const runbook = new Allowlist([["svcctl"], ["rm"]]).within(workspace);
  assert.deepEqual(runbook.check(["svcctl", "status", "api"]), { allowed: true });
  assert.ok(!runbook.check(["svcctl", "logs", "api"]).allowed);
  assert.ok(!runbook.check(["rm", "-rf", "/"]).allowed);
  assert.deepEqual(runbook.executables(), ["svcctl"]);
  assert.deepEqual(runbook.path, ["/opt/bin"]);
  const round = Allowlist.fromPlain(JSON.parse(JSON.stringify(runbook)));
  assert.ok(!round.check(["rm", "x"]).allowed);
  assert.deepEqual(round.check(["svcctl", "restart", "x"]), { allowed: true });
});

Deno.test("the allowlist file format is validated", () => {
  const al = Allowlist.fromJson('{"path": ["bin"], "allow": [["a", "b"]]}', "/ws");
  assert.deepEqual(al.path, ["/ws/bin"]);
  assert.throws(() => Allowlist.fromJson('{"allow": "a"}', "/ws"), /must be/);
  assert.throws(() => Allowlist.fromJson("{", "/ws"), /not valid JSON/);
});

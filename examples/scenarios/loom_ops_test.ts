// A loom-ops scenario through its CLI: the restart-service runbook (mock executor) runs its
// diagnostics, stops at the approval gate, and finishes after alice approves in a second
// process. The trace is rebuilt from the runner database and compared with a golden file. The
// audit key lives in the scenario's directory, never in the user's ~/.config.
import assert from "node:assert/strict";
import { assertMatchesGolden, scenario } from "@loom/runner/testing";

const OPS = new URL("../../apps/ops/", import.meta.url).pathname.replace(/\/$/, "");

/** A loom-ops command line with the scenario's own audit key. */
const withKey = (dir: string, args: string[]) => [...args, "--audit-key", `${dir}/audit.key`];

scenario("loom-ops restart-service waits for approval, then completes", {
  paths: { [OPS]: "<ops>" },
  command: {
    main: `${OPS}/main.ts`,
    env: { LOOM_OPS_ALLOW_SHELL: "" },
    runs: (env) => [
      withKey(env.dir, [
        "runbook",
        `${OPS}/runbooks/restart-service.yaml`,
        "--run-id",
        env.runId,
        "--db",
        env.db,
        "--workspace",
        OPS,
        "--state-dir",
        `${env.dir}/state`,
        "--parallel",
        "1",
        "--by",
        "carol",
        "--json",
      ]),
      // Someone not on the runbook's approver list is refused (exit 2) and changes nothing.
      {
        args: withKey(env.dir, [
          "approve",
          "--run-id",
          env.runId,
          "--step",
          "restart",
          "--by",
          "mallory",
          "--db",
          env.db,
        ]),
        code: 2,
      },
      withKey(env.dir, [
        "approve",
        "--run-id",
        env.runId,
        "--step",
        "restart",
        "--by",
        "alice",
        "--db",
        env.db,
        "--json",
      ]),
    ],
  },
}, async (run) => {
  const [first, refused, approved] = run.outputs;
  assert.equal(JSON.parse(first.stdout).status, "waiting");
  assert.match(
    refused.stderr,
    /^error: mallory may not approve step restart \(allowed: alice, bob\)\n$/,
  );
  assert.equal(JSON.parse(approved.stdout).status, "completed");
  assert.equal(run.status, "completed");
  await assertMatchesGolden(run, "golden/loom-ops-restart.json");
});

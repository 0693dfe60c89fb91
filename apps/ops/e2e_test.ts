/**
 * End-to-end tests through the real CLI: every command is a `deno run` subprocess against real
 * SQLite files, and with `--allow-shell` the stand-in tools really run (sandboxed).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "@loom/runner";
import { waitFor } from "@loom/runner/testing";
import { main } from "./main.ts";
import { splitArgv } from "./playbook.ts";
import { writeRunTrace } from "./trace.ts";
import { opsEnv, withAuditKey } from "./_test_util.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const BIN = `${OPS_DIR}/examples/bin`;
/** Test-only stand-ins (`hold`: a command that runs until the test releases it). */
const TEST_BIN = `${OPS_DIR}/testdata/bin`;

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

class Env {
  constructor(readonly dir: string) {}
  get db(): string {
    return `${this.dir}/ops.sqlite`;
  }
  get state(): string {
    return `${this.dir}/state`;
  }
  args(extra: string[]): string[] {
    return [...extra, "--db", this.db];
  }
  async cli(args: string[], opts: { workspace?: string } = {}): Promise<Cli> {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args, "--db", this.db],
      cwd: opts.workspace ?? this.dir,
      env: opsEnv(this.dir, { NO_COLOR: "1", LOOM_OPS_ALLOW_SHELL: "" }),
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  }
  /**
   * The same CLI entry point called in this process (no Deno start-up per command), for tests
   * that do not need a separate process; commands still run in their sandboxed subprocesses.
   */
  async run(args: string[]): Promise<Cli> {
    let stdout = "";
    let stderr = "";
    const code = await main(withAuditKey([...args, "--db", this.db], this.dir), {
      out: (t) => (stdout += t + "\n"),
      err: (t) => (stderr += t + "\n"),
    });
    return { code, stdout, stderr };
  }
  invocations(): string[] {
    try {
      return Deno.readTextFileSync(`${this.state}/invocations.log`).trim().split("\n").filter(
        Boolean,
      );
    } catch {
      return [];
    }
  }
  /**
   * The runner's durable calls of every run (keys such as `key:command:quick#1`), read through
   * the runner's public store API (its tables are its own): a command whose call is `completed`
   * here has its result committed, so a resume must never run it again. (Its `command.finished`
   * audit entry is written just before that commit, inside the call.) Only call this once the
   * database exists with its schema: opening a store migrates an empty file.
   */
  async calls(): Promise<{ runId: string; key: string; status: string }[]> {
    const store = openStore(this.db, { create: false });
    try {
      const out: { runId: string; key: string; status: string }[] = [];
      for (const run of await store.listRuns({ limit: 10_000 })) {
        for (const c of await store.listCalls(run.runId, { limit: 10_000 })) {
          out.push({ runId: c.runId, key: c.key, status: c.status });
        }
      }
      return out;
    } finally {
      store.close();
    }
  }
  audit(): {
    seq: number;
    run_id: string;
    kind: string;
    actor: string;
    step: string;
    data: string;
  }[] {
    const db = new DatabaseSync(`${this.db}.ops`, { readOnly: true });
    try {
      return db.prepare("SELECT * FROM ops_audit ORDER BY seq").all() as never;
    } finally {
      db.close();
    }
  }
}

async function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-e2e-" });
  await Deno.mkdir(`${dir}/state`);
  try {
    await fn(new Env(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ok(r: Cli, code = 0): void {
  assert.equal(r.code, code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** A workspace of its own: a runbook folder and an allowlist that finds the stand-ins. */
async function workspace(
  env: Env,
  allow: string[][],
  runbooks: Record<string, string>,
): Promise<string> {
  const ws = `${env.dir}/ws`;
  await Deno.mkdir(`${ws}/runbooks`, { recursive: true });
  await Deno.writeTextFile(
    `${ws}/ops.shell.allowlist.json`,
    JSON.stringify({ path: [BIN, TEST_BIN], allow }),
  );
  for (const [name, text] of Object.entries(runbooks)) {
    await Deno.writeTextFile(`${ws}/runbooks/${name}`, text);
  }
  return ws;
}

const MOCK = (env: Env, file: string, runId: string, ...extra: string[]) =>
  RUN(env, file, runId, ...extra).filter((a) => a !== "--allow-shell");

const RUN = (env: Env, file: string, runId: string, ...extra: string[]) => [
  "runbook",
  file,
  "--run-id",
  runId,
  "--workspace",
  OPS_DIR,
  "--state-dir",
  env.state,
  "--allow-shell",
  ...extra,
];

Deno.test("approval gate: run → waiting → process exits → approve → completes", async () => {
  await withEnv(async (env) => {
    const first = await env.cli(RUN(env, `${OPS_DIR}/runbooks/restart-service.yaml`, "dep-7"));
    ok(first);
    assert.match(first.stdout, /run dep-7: waiting/);
    assert.match(first.stdout, /restart\s+waiting-approval/);
    assert.ok(
      !env.invocations().some((l) => l.startsWith("svcctl restart")),
      "restart not run yet",
    );
    assert.equal(env.invocations().length, 3, "the three diagnostics ran");

    const status = await env.run(["status", "--run-id", "dep-7", "--json"]);
    ok(status);
    const view = JSON.parse(status.stdout);
    assert.equal(view.status, "waiting");
    assert.deepEqual(view.waitingFor.map((w: { step: string }) => w.step), ["restart"]);

    const refused = await env.cli([
      "approve",
      "--run-id",
      "dep-7",
      "--step",
      "restart",
      "--by",
      "mallory",
    ]);
    ok(refused, 2);
    assert.match(
      refused.stderr,
      /^error: mallory may not approve step restart \(allowed: alice, bob\)\n$/,
    );

    const approved = await env.cli([
      "approve",
      "--run-id",
      "dep-7",
      "--step",
      "restart",
      "--by",
      "alice",
      "--comment",
      "latency SLO breached",
      "--trace",
      `${env.dir}/t.html`,
    ]);
    ok(approved);
    assert.match(approved.stdout, /run dep-7: completed/);
    assert.match(approved.stdout, /restart\s+succeeded.*\[approved by alice\]/);
    const calls = env.invocations();
    assert.equal(calls.filter((l) => l.startsWith("svcctl restart api")).length, 1);
    assert.equal(calls.length, 6);

    const audit = env.audit();
    const granted = audit.find((e) => e.kind === "approval.granted")!;
    assert.equal(granted.actor, "alice");
    const g = JSON.parse(granted.data);
    assert.equal(g.comment, "latency SLO breached");
    assert.equal(g.via, "cli");
    assert.ok(!Number.isNaN(Date.parse(g.at)));
    assert.ok(audit.some((e) => e.kind === "approval.refused" && e.actor === "mallory"));
    assert.ok(
      audit.findIndex((e) => e.kind === "approval.granted") <
        audit.findIndex((e) => e.kind === "command.started" && e.step === "restart"),
    );

    const verify = await env.run(["audit", "--verify"]);
    ok(verify);
    assert.match(verify.stdout, /audit chain intact: \d+ entries verified/);

    // --trace on approve wrote an xray page of the whole run, rebuilt from the store: both
    // processes' work, the supervisor, its sub-runs, each command and the approval signal. The
    // page's layout is xray's own; what was drawn is read from the same rebuild as JSON.
    const html = await Deno.readTextFile(`${env.dir}/t.html`);
    assert.match(html, /id="loom-data"/);
    const store = openStore(env.db, { create: false });
    try {
      await writeRunTrace(store, "dep-7", `${env.dir}/t.json`);
    } finally {
      store.close();
    }
    const spans: { kind: string; name: string }[] =
      JSON.parse(await Deno.readTextFile(`${env.dir}/t.json`)).spans;
    const names = spans.map((s) => `${s.kind} ${s.name}`);
    for (
      const n of [
        "run ops-supervisor dep-7",
        "run ops-planner dep-7:planner",
        "run ops-executor dep-7:executor",
        "run ops-verifier dep-7:verifier",
        "run ops-executor dep-7:executor.2",
        "tool execute_tool command: svcctl logs api",
        "tool execute_tool command: svcctl restart api",
        "event signal approval:restart",
      ]
    ) {
      assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    }

    const sub = await env.run(["explain", "--run-id", "dep-7:executor", "--json"]);
    ok(sub);
    assert.equal(JSON.parse(sub.stdout).agent.name, "ops-executor");
  });
});

Deno.test("deny: the gated command never runs and the run stops", async () => {
  await withEnv(async (env) => {
    const first = await env.run(
      MOCK(
        env,
        `${OPS_DIR}/runbooks/deploy-with-rollback.yaml`,
        "dep-8",
        "--input",
        "version=v2",
      ),
    );
    ok(first);
    // The printed follow-up names the database, so it works as printed from anywhere.
    const hint = /^ {2}deny: {4}loom-ops (.*)$/m.exec(first.stdout)?.[1];
    assert.equal(
      hint,
      `deny --run-id dep-8 --step deploy --by NAME --comment "why" --db ${env.db}`,
    );
    const args = splitArgv(hint!).map((a) => a === "NAME" ? "carol" : a === "why" ? "not now" : a);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: env.state, // not the database's folder: --db has to be in the hint
      env: opsEnv(env.dir, { NO_COLOR: "1" }),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const denied = {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
    ok(denied);
    assert.match(denied.stdout, /run dep-8: failed/);
    assert.match(denied.stdout, /deploy\s+denied.*denied by carol: not now/);
    // A denial asked for is an outcome: no `error:` line anywhere.
    assert.equal(denied.stderr, "run dep-8 stopped: step deploy was denied by carol: not now\n");
    assert.doesNotMatch(denied.stdout, /^error:/m);

    // Resuming a run that has ended shows its stored outcome: exit 1 for a failed one.
    const resumed = await env.run(["resume", "--run-id", "dep-8"]);
    ok(resumed, 1);
    assert.match(resumed.stdout, /^run dep-8: failed/);
    assert.match(resumed.stderr, /run dep-8 had already failed; showing its stored outcome/);
    assert.match(
      resumed.stderr,
      /^error: run dep-8 failed: step deploy was denied by carol: not now$/m,
    );

    // --out writes JSON Lines without --jsonl; with --json it is refused.
    const file = `${env.dir}/audit.jsonl`;
    const exported = await env.run(["audit", "--run-id", "dep-8", "--out", file]);
    ok(exported);
    const lines = (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length > 3 && lines.every((e) => e.runId.startsWith("dep-8")));
    assert.match(exported.stderr, new RegExp(`^wrote ${lines.length} entries to `));
    const both = await env.run(["audit", "--out", file, "--json"]);
    ok(both, 2);
    assert.equal(both.stderr, "error: --out writes JSON Lines; use it without --json\n");
    const started = env.audit().filter((e) => e.kind === "command.started").map((e) => e.step);
    assert.deepEqual(started.sort(), ["build", "current"], "the deploy command never started");
    const again = await env.run([
      "approve",
      "--run-id",
      "dep-8",
      "--step",
      "deploy",
      "--by",
      "alice",
    ]);
    ok(again, 2);
    assert.match(again.stderr, /not waiting for approval \(run is failed\)/);
    const d = env.audit().find((e) => e.kind === "approval.denied")!;
    assert.equal(JSON.parse(d.data).comment, "not now");
  });
});

Deno.test("a failing health check is retried, then rolled back", async () => {
  await withEnv(async (env) => {
    ok(
      await env.run(
        RUN(
          env,
          `${OPS_DIR}/runbooks/deploy-with-rollback.yaml`,
          "dep-9",
          "--input",
          "version=v2-bad",
        ),
      ),
    );
    const r = await env.run([
      "approve",
      "--run-id",
      "dep-9",
      "--step",
      "deploy",
      "--by",
      "carol",
      "--trace",
      `${env.dir}/t.json`,
    ]);
    ok(r, 1);
    assert.match(
      r.stderr,
      /error: run dep-9 failed: step health failed: exit code 1, expected 0; rolled back \(rollback\)/,
    );
    const calls = env.invocations();
    assert.equal(
      calls.filter((l) => l.startsWith("deployctl health web")).length,
      3,
      calls.join("\n"),
    ); // 2 attempts + rollback verify
    assert.ok(calls.some((l) => l.startsWith("deployctl rollback web")));
    assert.equal(Deno.readTextFileSync(`${env.state}/web.version`).trim(), "v1");
    // In the trace the failed health checks are error spans, the rollback is not.
    const spans: { name: string; status: string }[] =
      JSON.parse(Deno.readTextFileSync(`${env.dir}/t.json`)).spans;
    const health = spans.filter((s) => s.name === "execute_tool command: deployctl health web");
    assert.deepEqual(health.map((s) => s.status), ["error", "error"]);
    const rb = spans.find((s) => s.name === "execute_tool command: deployctl rollback web");
    assert.equal(rb?.status, "ok");
    const kinds = env.audit().map((e) => e.kind);
    assert.ok(
      kinds.includes("step.retry") && kinds.includes("rollback.started") &&
        kinds.includes("run.failed"),
    );
  });
});

Deno.test("commands outside the allowlist are refused before anything runs", async () => {
  await withEnv(async (env) => {
    const ws = await workspace(env, [["svcctl", "status"]], {
      "sneaky.yaml": [
        "name: sneaky",
        "steps:",
        "  - id: look",
        "    run: [svcctl, status, api]",
        "  - id: wipe",
        "    needs: look",
        "    run: [svcctl, restart, api]",
      ].join("\n"),
      "inline.yaml": [
        "name: inline",
        "allowlist: [[sh]]",
        "steps:",
        "  - id: shell",
        "    run: [sh, -c, 'svcctl restart api']",
      ].join("\n"),
    });
    const r = await env.cli([
      "runbook",
      "runbooks/sneaky.yaml",
      "--run-id",
      "s-1",
      "--allow-shell",
      "--state-dir",
      env.state,
    ], { workspace: ws });
    ok(r, 2);
    assert.match(
      r.stderr,
      /^error: runbook sneaky, step wipe: `svcctl restart api` is not in the allowlist; nothing was run\n$/,
    );
    assert.deepEqual(env.invocations(), []);
    const inline = await env.cli([
      "runbook",
      "runbooks/inline.yaml",
      "--run-id",
      "s-2",
      "--allow-shell",
    ], { workspace: ws });
    ok(inline, 2);
    assert.match(inline.stderr, /sh -c runs inline code, which is never allowed/);
    const refusals = env.audit().filter((e) => e.kind === "command.refused");
    assert.deepEqual(refusals.map((e) => [e.run_id, e.step]), [["s-1", "wipe"], ["s-2", "shell"]]);
  });
});

Deno.test("audit --verify fails after a row is edited", async () => {
  await withEnv(async (env) => {
    ok(await env.run(MOCK(env, `${OPS_DIR}/runbooks/disk-full-triage.yaml`, "disk-1")));
    ok(await env.run(["approve", "--run-id", "disk-1", "--step", "clean-tmp", "--by", "dave"]));
    ok(await env.run(["audit", "--verify"]));
    const jsonl = await env.run(["audit", "--run-id", "disk-1", "--jsonl"]);
    ok(jsonl);
    const lines = jsonl.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length >= 15);
    const target = lines.find((e) => e.kind === "command.finished" && e.step === "check");
    const db = new DatabaseSync(`${env.db}.ops`);
    assert.throws(
      () => db.exec(`UPDATE ops_audit SET actor = 'x' WHERE seq = ${target.seq}`),
      /append-only/,
    );
    db.exec("DROP TRIGGER ops_audit_no_update");
    db.exec(
      `UPDATE ops_audit SET data = json_set(data, '$.exitCode', 0, '$.durationMs', 1) WHERE seq = ${target.seq}`,
    );
    db.close();
    const bad = await env.run(["audit", "--verify"]);
    ok(bad, 1);
    assert.equal(
      bad.stderr,
      `error: audit chain broken at entry ${target.seq}: its content does not match its hash (edited)\n`,
    );
  });
});

Deno.test("malformed runbooks give line-numbered errors and exit 2", async () => {
  await withEnv(async (env) => {
    await Deno.writeTextFile(
      `${env.dir}/bad.yaml`,
      "name: bad\nsteps:\n  - id: a\n    run: svcctl restart api\n    retry: lots\n",
    );
    const r = await env.cli(["runbook", "bad.yaml", "--run-id", "b-1", "--workspace", OPS_DIR]);
    ok(r, 2);
    assert.match(r.stderr, /^error: invalid runbook bad\.yaml:\n/);
    assert.match(
      r.stderr,
      /\n {2}bad\.yaml:4:10: step "a": run must be an argv list such as \[svcctl, restart, api\], not a shell string\n/,
    );
    assert.match(r.stderr, /\n {2}bad\.yaml:5:12: step "a": retry must be/);
    await Deno.writeTextFile(
      `${env.dir}/syntax.yaml`,
      "name: x\nsteps:\n  - id: a\n    run: [a, b\n",
    );
    const s = await env.cli(["runbook", "syntax.yaml", "--run-id", "b-2", "--workspace", OPS_DIR]);
    ok(s, 2);
    assert.match(s.stderr, /syntax\.yaml:\d+:\d+: /);
    const unknown = await env.cli(["status", "--run-id", "nope"]);
    ok(unknown, 2);
    assert.match(unknown.stderr, /^error: no loom-ops database at .*ops\.sqlite \(pass --db\)\n$/);
  });
});

Deno.test("supervise with the mock LLM plans from a playbook and remembers the incident", async () => {
  await withEnv(async (env) => {
    const args = (id: string) => [
      "supervise",
      "incident: API latency above SLO",
      "--run-id",
      id,
      "--mock-llm",
      "--workspace",
      OPS_DIR,
      "--state-dir",
      env.state,
    ];
    const first = await env.run(args("inc-001"));
    ok(first);
    assert.match(first.stdout, /run inc-001: waiting \(plan API latency\)/);
    assert.match(first.stderr, /mock executor/);
    ok(
      await env.run([
        "approve",
        "--run-id",
        "inc-001",
        "--step",
        "4-restart-service",
        "--by",
        "bob",
      ]),
    );
    assert.deepEqual(env.invocations(), [], "the mock executor runs nothing");
    const mem = await env.run(["memory", "search", "API latency", "--json"]);
    ok(mem);
    const hits = JSON.parse(mem.stdout);
    assert.equal(hits[0].runId, "inc-001");
    assert.match(hits[0].actions, /playbook: API latency; svcctl status api/);
    ok(await env.run(args("inc-002")));
    const plan = env.audit().filter((e) => e.kind === "plan" && e.run_id === "inc-002:planner");
    assert.equal(plan.length, 1);
    assert.deepEqual(JSON.parse(plan[0].data).memory, ["inc-001"]);
    const explain = await env.run(["explain", "--run-id", "inc-001"]);
    ok(explain);
    assert.match(
      explain.stdout,
      /sub-runs \(explain each with --run-id\): inc-001:planner, inc-001:executor, inc-001:verifier/,
    );
    const noPlaybook = await env.run([
      "supervise",
      "printer on fire",
      "--run-id",
      "inc-003",
      "--mock-llm",
      "--workspace",
      OPS_DIR,
    ]);
    ok(noPlaybook, 1);
    assert.match(noPlaybook.stderr, /no playbook matches the incident/);
  });
});

Deno.test("SIGKILL during a parallel step, then resume: at most one extra run per in-flight command", async () => {
  await withEnv(async (env) => {
    // The two slow steps are `hold` stand-ins: they run until the test creates the release
    // file, so they are certainly still running when the process is killed, however slow or
    // fast the machine is.
    const ws = await workspace(env, [["svcctl"], ["hold"]], {
      "crashy.yaml": [
        "name: crashy",
        "steps:",
        "  - id: warm-a",
        "    run: [hold, a]",
        "    timeout: 10m",
        "  - id: warm-b",
        "    run: [hold, b]",
        "    timeout: 10m",
        "  - id: quick",
        "    run: [svcctl, status, api]",
        "  - id: after",
        "    needs: [warm-a, warm-b, quick]",
        "    run: [svcctl, latency, api]",
      ].join("\n"),
    });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "runbook",
        "runbooks/crashy.yaml",
        "--run-id",
        "crash-1",
        "--allow-shell",
        "--state-dir",
        env.state,
        "--db",
        env.db,
      ],
      cwd: ws,
      env: opsEnv(env.dir),
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill once both held commands have started (they log first, then wait for the release)
    // and the quick one's result is committed.
    const committed = async () =>
      new Set(
        (await env.calls()).filter((c) => c.status === "completed")
          .map((c) => /(?:^|:)command:([^#]+)#/.exec(c.key)?.[1]).filter((s) => s !== undefined),
      );
    // The held commands have started only after the run's database has its schema, so the
    // store is opened only then.
    await waitFor("both held commands started and the quick one's result committed", async () => {
      const calls = env.invocations();
      return ["hold a", "hold b"].every((c) => calls.some((l) => l.startsWith(c))) &&
        (await committed()).has("quick");
    });
    child.kill("SIGKILL");
    assert.equal((await child.status).signal, "SIGKILL");
    // From here on the held commands may finish: the ones orphaned by the kill, and the re-runs.
    await Deno.writeTextFile(`${env.state}/release`, "");
    const before = env.audit();
    const finishedBefore = await committed();
    assert.deepEqual([...finishedBefore], ["quick"]);
    assert.ok(before.some((e) => e.kind === "command.finished" && e.step === "quick"));
    assert.ok(!before.some((e) => e.kind.startsWith("run.") && e.kind !== "run.started"));

    // While the run is down, a step that was running shows no exit code (quick has finished
    // its command but not been verified; the two warmups never finished).
    const down = await env.run(["status", "--run-id", "crash-1", "--json"]);
    ok(down);
    const rows: { id: string; status: string; exitCode?: number }[] = JSON.parse(down.stdout).steps;
    assert.deepEqual(
      rows.filter((r) => r.status === "running").map((r) => r.id).sort(),
      ["quick", "warm-a", "warm-b"],
    );
    for (const r of rows) {
      if (r.status === "running") assert.equal(r.exitCode, undefined, `${r.id} is running`);
    }
    const table = await env.run(["status", "--run-id", "crash-1"]);
    assert.match(table.stdout, /^ {2}quick\s+running\s+1\s+-\s+svcctl status api$/m);

    const resumed = await env.run(["resume", "--run-id", "crash-1"]);
    ok(resumed);
    assert.match(resumed.stdout, /run crash-1: completed/);
    // Resuming a completed run again shows the stored outcome and exits 0 (idempotent).
    const again = await env.run(["resume", "--run-id", "crash-1"]);
    ok(again);
    assert.match(again.stdout, /^run crash-1: completed/);
    assert.match(again.stdout, /^ {2}after\s+succeeded\s+1\s+0\s+svcctl latency api$/m);
    assert.match(again.stderr, /^run crash-1 had already completed; showing its stored outcome$/m);

    // Every command ran once, or twice if it was in flight when the process died: the same
    // idempotency key appears at most twice in the stand-ins' own log.
    const byKey = new Map<string, number>();
    for (const line of env.invocations()) {
      const key = line.replace(/^.* key=/, "");
      byKey.set(key, (byKey.get(key) ?? 0) + 1);
    }
    for (const [key, n] of byKey) {
      const step = /command:([^#]+)#/.exec(key)?.[1] ?? key;
      assert.ok(n <= 2, `${key} ran ${n} times`);
      if (finishedBefore.has(step)) {
        assert.equal(n, 1, `${step} finished before the kill, ran ${n} times`);
      }
    }
    assert.equal([...byKey.keys()].filter((k) => k.includes("command:after#")).length, 1);
    assert.equal(byKey.get([...byKey.keys()].find((k) => k.includes("command:after#"))!), 1);

    // The audit shows the re-execution for what it is, and the chain is intact.
    const after = env.audit();
    const reruns = after.filter((e) =>
      e.kind === "command.started" && JSON.parse(e.data).maybeRanBefore
    );
    assert.ok(reruns.length >= 1, "a command in flight at the kill was run again on resume");
    for (const e of reruns) assert.ok(!finishedBefore.has(e.step), `${e.step} was re-run`);
    const startedCount = (step: string) =>
      after.filter((e) => e.kind === "command.started" && e.step === step).length;
    for (const step of ["warm-a", "warm-b", "quick", "after"]) {
      const calls = env.invocations().filter((l) => l.includes(`command:${step}#`)).length;
      // Each real execution has its audit entry (a killed one may have started in the tool but
      // not yet in the sandbox, so the audit can hold one more start than the stand-in saw).
      assert.ok(
        startedCount(step) >= calls,
        `${step}: ${startedCount(step)} starts, ${calls} runs`,
      );
    }
    assert.ok(after.some((e) => e.kind === "run.completed" && e.run_id === "crash-1"));
    ok(await env.run(["audit", "--verify"]));
  });
});

Deno.test("a planned command outside the allowlist is refused at run time and stops the run", async () => {
  await withEnv(async (env) => {
    const ws = await workspace(env, [["svcctl", "status"]], {
      "cleanup.md": [
        "# Cleanup",
        "Keywords: cleanup",
        "",
        "1. Check the service: `svcctl status api`",
        "2. Wipe the cache: `rm -rf /tmp/cache`",
      ].join("\n"),
    });
    const r = await env.run([
      "supervise",
      "cleanup please",
      "--run-id",
      "c-1",
      "--mock-llm",
      "--allow-shell",
      "--workspace",
      ws,
      "--state-dir",
      env.state,
    ]);
    ok(r, 1);
    assert.match(
      r.stderr,
      /error: run c-1 failed: step 2-wipe-cache failed: refused by loom-ops: `rm -rf \/tmp\/cache` is not in the allowlist/,
    );
    assert.deepEqual(env.invocations().map((l) => l.split(" key=")[0]), ["svcctl status api"]);
    const refused = env.audit().filter((e) => e.kind === "command.refused");
    assert.equal(refused.length, 1);
    assert.equal(refused[0].run_id, "c-1:executor.2");
    assert.ok(
      !env.audit().some((e) => e.kind === "command.started" && e.step === "2-wipe-cache"),
    );
  });
});

Deno.test("run commands check their own arguments first", async () => {
  await withEnv(async (env) => {
    const noFile = await env.run(["runbook", "--run-id", "x"]);
    ok(noFile, 2);
    assert.equal(
      noFile.stderr,
      "error: runbook needs the path of a YAML runbook: loom-ops runbook FILE.yaml --run-id ID\n",
    );
    const noRunId = await env.run(["runbook", `${OPS_DIR}/runbooks/restart-service.yaml`]);
    ok(noRunId, 2);
    assert.equal(noRunId.stderr, "error: --run-id is required\n");
    const noIncident = await env.run(["supervise", "--run-id", "x", "--mock-llm"]);
    ok(noIncident, 2);
    assert.match(noIncident.stderr, /^error: supervise needs the incident text/);
  });
});

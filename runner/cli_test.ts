// The loom-runner CLI: most cases call `main()` in-process with captured output (the same code
// the binary runs); a few spawn the real CLI to check exit codes and that no stack trace leaks.
import assert from "node:assert/strict";
import { cli, inTemp } from "./cli/_test_util.ts";
import { openStore } from "./store/sqlite.ts";

const COUNTER = new URL("../examples/counter_agent.ts", import.meta.url).pathname;
const APPROVAL = new URL("./testdata/approval_agent.ts", import.meta.url).pathname;
const WORKER_AGENTS = new URL("./testdata/worker_agents", import.meta.url).pathname;

Deno.test("cli: run --max-steps, resume, explain, list, get, history, verify (text and --json)", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    let r = await cli(
      "run",
      COUNTER,
      "--run-id",
      "demo",
      "--db",
      db,
      "--max-steps",
      "5",
      "--quiet",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /run demo paused before step 5 .*loom-runner resume/);
    r = await cli("resume", COUNTER, "--run-id", "demo", "--db", db, "--json");
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.out);
    assert.equal(doc.status, "completed");
    assert.deepEqual(doc.result, { current: 10, steps: 10 });
    r = await cli("explain", "--run-id", "demo", "--db", db);
    assert.match(r.out, /run demo: COMPLETED/);
    assert.match(r.out, /11 committed \(steps 0\.\.10\)/);
    assert.match(r.out, /last state \{"current":10,"target":10\}/);
    const ex = JSON.parse((await cli("explain", "--run-id", "demo", "--db", db, "--json")).out);
    assert.equal(ex.steps.committed, 11);
    r = await cli("list", "--db", db, "--status", "completed", "--json");
    assert.deepEqual(JSON.parse(r.out).map((x: { runId: string }) => x.runId), ["demo"]);
    r = await cli("list", "--db", db, "--status", "failed");
    assert.equal(r.out, "no runs");
    r = await cli("get", "--run-id", "demo", "--db", db, "--json");
    assert.deepEqual(JSON.parse(r.out).state, { current: 10, target: 10 });
    r = await cli(
      "history",
      "--run-id",
      "demo",
      "--db",
      db,
      "--limit",
      "2",
      "--offset",
      "3",
      "--json",
    );
    assert.deepEqual(JSON.parse(r.out).map((s: { step: number }) => s.step), [3, 4]);
    r = await cli("history", "--run-id", "demo", "--db", db, "--events");
    assert.match(r.out, /started/);
    r = await cli("verify", "--run-id", "demo", "--db", db);
    assert.equal(r.code, 0);
    assert.match(r.out, /run demo ok: 11 steps/);
  });
});

Deno.test("cli: signal, calls, attempts, cancel, fork, delete, prune", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    let r = await cli("run", APPROVAL, "--run-id", "a", "--db", db);
    assert.equal(r.code, 0);
    assert.match(r.out, /waiting for signal approve/);
    r = await cli(
      "signal",
      "--run-id",
      "a",
      "--db",
      db,
      "--name",
      "approve",
      "--data",
      '{"by":"ann"}',
    );
    assert.match(r.out, /signal approve delivered to run a \(#1\); resume the run/);
    r = await cli("resume", APPROVAL, "--run-id", "a", "--db", db, "--json");
    assert.equal(JSON.parse(r.out).status, "completed");
    r = await cli("calls", "--run-id", "a", "--db", db, "--kind", "tool", "--json");
    assert.deepEqual(JSON.parse(r.out).map((c: { name: string }) => c.name), ["prepare", "deploy"]);
    r = await cli("calls", "--run-id", "a", "--db", db, "--step", "0");
    assert.match(r.out, /^STEP +KIND +NAME +STATUS +ATTEMPTS /);
    assert.match(r.out, /\n0 +signal +approve +completed +1 /);
    r = await cli("attempts", "--run-id", "a", "--db", db, "--step", "0");
    assert.equal(r.out, "no failed attempts");
    r = await cli("fork", "--run-id", "a", "--step", "0", "--new-run-id", "b", "--db", db);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "");
    const stateFile = `${dir}/state.json`;
    await Deno.writeTextFile(stateFile, '{"phase":"done","timeoutMs":null,"approvedBy":"bob"}');
    r = await cli(
      "fork",
      "--run-id",
      "a",
      "--step",
      "1",
      "--new-run-id",
      "c",
      "--db",
      db,
      "--state-file",
      stateFile,
    );
    assert.equal(r.code, 0, r.err);
    r = await cli("resume", APPROVAL, "--run-id", "c", "--db", db, "--json");
    assert.deepEqual(JSON.parse(r.out).result, { approvedBy: "bob" });
    r = await cli("explain", "--run-id", "c", "--db", db);
    assert.match(r.out, /forked from run a at step 1/);
    r = await cli("cancel", "--run-id", "b", "--db", db);
    assert.match(r.out, /cancelled b/);
    r = await cli("resume", APPROVAL, "--run-id", "b", "--db", db);
    assert.equal(r.code, 2);
    assert.equal(r.err, "error: run b was cancelled and cannot be resumed");
    r = await cli("delete", "--run-id", "b", "--db", db, "--json");
    assert.deepEqual(JSON.parse(r.out).deleted, ["b"]);
    r = await cli("prune", "--db", db, "--ended-before", "2000-01-01");
    assert.match(r.out, /pruned 0 run/);
    r = await cli(
      "prune",
      "--db",
      db,
      "--ended-before",
      new Date(Date.now() + 60_000).toISOString(),
      "--vacuum",
    );
    assert.match(r.out, /pruned 2 run/);
    r = await cli("list", "--db", db);
    assert.equal(r.out, "no runs");
  });
});

Deno.test("cli: the old spellings work, each with a one-line notice on stderr", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    let r = await cli("run", APPROVAL, "--run-id", "a", "--db", db, "--quiet");
    assert.equal(r.code, 0, r.err);
    r = await cli("tool-calls", "--run-id", "a", "--db", db, "--step-index", "0", "--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "note: tool-calls is now calls\nnote: --step-index is now --step");
    assert.deepEqual(JSON.parse(r.out).map((c: { name: string }) => c.name), [
      "prepare",
      "approve",
    ]);
    r = await cli("attempts", "--run-id", "a", "--db", db, "--step-index", "0");
    assert.equal(r.err, "note: --step-index is now --step");
    assert.equal(r.out, "no failed attempts");
    r = await cli("fork", "--run-id", "a", "--from-step", "0", "--new-run-id", "b", "--db", db);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "note: --from-step is now --step");
    assert.match(r.out, /run b forked from a at step 0/);
    r = await cli("prune", "--db", db, "--completed-before", "2000-01-01");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "note: --completed-before is now --ended-before");
    r = await cli("attempts", "--run-id", "a", "--db", db, "--step-index", "0", "--step", "0");
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      "note: --step-index is now --step\nerror: --step-index and --step are the same flag; give --step only",
    );
    // `history --from-step` is where a listing starts, not a step: it keeps its name.
    r = await cli("history", "--run-id", "a", "--db", db, "--from-step", "0");
    assert.equal(r.err, "");
  });
});

Deno.test("cli: prune deletes runs that ended before a date, of the statuses asked for", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    assert.equal((await cli("run", COUNTER, "--run-id", "done", "--db", db, "--quiet")).code, 0);
    assert.equal((await cli("run", APPROVAL, "--run-id", "waits", "--db", db)).code, 0);
    assert.equal((await cli("cancel", "--run-id", "waits", "--db", db)).code, 0);
    const later = new Date(Date.now() + 60_000).toISOString();
    let r = await cli("prune", "--db", db, "--ended-before", later, "--json");
    assert.deepEqual(JSON.parse(r.out).deleted, ["done"], "completed runs by default");
    r = await cli("prune", "--db", db, "--ended-before", later, "--status", "failed,cancelled");
    assert.match(r.out, /^pruned 1 run\(s\); gave back /);
    assert.equal((await cli("list", "--db", db)).out, "no runs");
  });
});

Deno.test("cli: failed runs exit 1 and retry continues them", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const mod = `${dir}/flaky.ts`;
    const flag = `${dir}/healthy`;
    await Deno.writeTextFile(
      mod,
      `import { defineAgent, LoomError, recur } from ${
        JSON.stringify(new URL("./mod.ts", import.meta.url).href)
      };
export default defineAgent({
  name: "flaky",
  retry: { maxAttempts: 2, initialDelayMs: 1 },
  initialState: () => ({ n: 0 }),
  step(s) {
    if (s.n === 2) return "done";
    let healthy = true;
    try { Deno.statSync(${JSON.stringify(flag)}); } catch { healthy = false; }
    if (s.n === 1 && !healthy) throw new LoomError("service unavailable", { category: "transient" });
    return recur({ n: s.n + 1 });
  },
});
`,
    );
    let r = await cli("run", mod, "--run-id", "f", "--db", db);
    assert.equal(r.code, 1);
    assert.equal(r.err, "error: run f failed at step 1 (transient): service unavailable");
    r = await cli("attempts", "--run-id", "f", "--db", db, "--json");
    assert.deepEqual(
      JSON.parse(r.out).map((
        a: { attempt: number; errorCategory: string },
      ) => [a.attempt, a.errorCategory]),
      [
        [1, "transient"],
        [2, "transient"],
      ],
    );
    r = await cli("explain", "--run-id", "f", "--db", db);
    assert.match(r.out, /2 failed \(transient 2\); 1 retried/);
    assert.match(r.out, /error {6}transient: service unavailable/);
    await Deno.writeTextFile(flag, "");
    r = await cli("retry", mod, "--run-id", "f", "--db", db, "--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).result, "done");
  });
});

Deno.test("cli: bad input gives one sentence and exit 2; inspection never creates a database", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const missing = `${dir}/missing.sqlite`;
    const cases: [string[], RegExp][] = [
      [
        ["explain", "--run-id", "x", "--db", missing],
        /^error: database file .*missing\.sqlite does not exist$/,
      ],
      [["frobnicate"], /^error: unknown command "frobnicate"; commands: run, resume/],
      [
        ["list", "--db", db, "--frob"],
        /^error: Unknown option '--frob' \(command list; see loom-runner list --help\)$/,
      ],
      [["run", "--run-id", "x", "--db", db], /^error: run needs the agent module path/],
      [["run", COUNTER, "--db", db], /^error: --run-id is required$/],
      [
        ["run", COUNTER, "--run-id", "x", "--db", db, "--max-steps", "abc"],
        /^error: --max-steps must be an integer >= 1, got "abc"$/,
      ],
      [
        ["run", COUNTER, "--run-id", "x", "--db", db, "--input", "{nope"],
        /^error: --input is not valid JSON/,
      ],
      [
        ["run", `${dir}/nope.ts`, "--run-id", "x", "--db", db],
        /^error: agent module .*nope\.ts does not exist$/,
      ],
      [
        ["run", new URL("./json.ts", import.meta.url).pathname, "--run-id", "x", "--db", db],
        /must default-export an agent made with defineAgent$/,
      ],
      [
        ["list", "--db", db, "--status", "sleeping"],
        /^error: --status must be one of queued, running, paused/,
      ],
      [
        ["prune", "--db", db, "--ended-before", "someday"],
        /^error: --ended-before must be a date/,
      ],
      [
        ["fork", "--run-id", "x", "--db", db, "--new-run-id", "y"],
        /^error: --step is required$/,
      ],
    ];
    // A real database for the cases that need one to exist.
    openStore(db).close();
    for (const [args, expected] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(" ")} -> ${r.code} ${r.err}`);
      assert.match(r.err, expected);
      assert.equal(r.err.split("\n").length, 1, `one line for ${args[0]}: ${r.err}`);
    }
    assert.throws(() => Deno.statSync(missing), Deno.errors.NotFound);
    const r = await cli("get", "--run-id", "nope", "--db", db);
    assert.equal(r.err, `error: run nope does not exist in ${db}`);
  });
});

Deno.test("cli: a foreign SQLite file and a corrupt file are refused with one clear error", async () => {
  await inTemp(async (dir) => {
    const foreign = `${dir}/foreign.sqlite`;
    const { DatabaseSync } = await import("node:sqlite");
    const other = new DatabaseSync(foreign);
    other.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    other.close();
    let r = await cli("list", "--db", foreign);
    assert.equal(r.code, 2);
    assert.equal(r.err, `error: ${foreign} is not a Loom database`);
    r = await cli("run", COUNTER, "--run-id", "x", "--db", foreign);
    assert.equal(r.err, `error: ${foreign} is not a Loom database`);
    const check = new DatabaseSync(foreign);
    const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    check.close();
    assert.deepEqual(tables.map((t) => t.name), ["customers"], "no Loom tables were added");
    const junk = `${dir}/junk.sqlite`;
    await Deno.writeTextFile(junk, "this is not a database at all, just text ".repeat(200));
    r = await cli("list", "--db", junk);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^error: .*junk\.sqlite is not a Loom database or is corrupt \(SQLite: file is not a database\)$/,
    );
  });
});

Deno.test("cli: a Loom database damaged inside gives one clear error, not a stack trace", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const r0 = await cli(
      "run",
      COUNTER,
      "--run-id",
      "k",
      "--db",
      db,
      "--input",
      '{"target":2000}',
      "--quiet",
    );
    assert.equal(r0.code, 0);
    const bytes = await Deno.readFile(db);
    for (let off = 8192; off + 256 < bytes.length; off += 4096) bytes.fill(0xde, off, off + 256);
    await Deno.writeFile(db, bytes);
    for (
      const args of [["explain", "--run-id", "k"], ["history", "--run-id", "k"], [
        "verify",
        "--run-id",
        "k",
      ]]
    ) {
      const r = await cli(...args, "--db", db);
      assert.equal(r.code, 2, `${args[0]}: ${r.err}`);
      assert.match(
        r.err,
        /^error: database .* is unreadable or corrupt \(SQLite: database disk image is malformed\)$/,
      );
    }
  });
});

Deno.test("cli (subprocess): exit codes and no stack traces", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    const cmd = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./cli.ts", import.meta.url).pathname, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const bad = await cmd("explain", "--run-id", "x", "--db", db);
    assert.equal(bad.code, 2);
    const err = new TextDecoder().decode(bad.stderr);
    assert.match(err, /^error: database file .* does not exist\n$/);
    assert.doesNotMatch(err, /\bat .*\.ts:\d+/);
    const ok = await cmd(
      "run",
      COUNTER,
      "--run-id",
      "d",
      "--db",
      db,
      "--input",
      '{"target":3}',
      "--json",
    );
    assert.equal(ok.code, 0);
    assert.equal(JSON.parse(new TextDecoder().decode(ok.stdout)).result.current, 3);
  });
});

Deno.test("cli: writing commands refuse a corrupt database before any write; the file is unchanged", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    assert.equal((await cli("run", COUNTER, "--run-id", "a", "--db", db, "--quiet")).code, 0);
    const { DatabaseSync } = await import("node:sqlite");
    const raw = new DatabaseSync(db);
    const { rootpage } = raw.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'steps'")
      .get() as { rootpage: number };
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    raw.close();
    const bytes = await Deno.readFile(db);
    bytes.fill(0xff, (rootpage - 1) * 4096, (rootpage - 1) * 4096 + 64);
    await Deno.writeFile(db, bytes);
    for (
      const args of [
        ["run", COUNTER, "--run-id", "b"],
        ["resume", COUNTER, "--run-id", "a"],
        ["signal", "--run-id", "a", "--name", "go"],
        ["delete", "--run-id", "a"],
      ]
    ) {
      const r = await cli(...args, "--db", db);
      assert.equal(r.code, 2, `${args[0]}: ${r.err}`);
      assert.match(
        r.err,
        /^error: database .*runs\.sqlite is corrupt \(SQLite quick_check: .*\); nothing was written to it: restore it from a backup or recover it with `sqlite3 .* \.recover`/,
      );
      assert.equal(r.err.split("\n").length, 1);
      assert.deepEqual(await Deno.readFile(db), bytes, `${args[0]} left the file unchanged`);
    }
  });
});

/**
 * How to run the CLI as a user that file permissions apply to: root ignores permission bits, so
 * as root the subprocess runs under `setpriv` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
 * (still uid 0, so Deno's cache under /root stays readable). Undefined when that cannot be done.
 */
function asRestrictedUser(): string[] | undefined {
  if (Deno.uid() !== 0) return [];
  const wrapper = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"];
  try {
    // A read-only probe: the restricted shell must not be able to write a 0444 file.
    const probe = Deno.makeTempFileSync({ prefix: "loom-ro-probe-" });
    Deno.chmodSync(probe, 0o444);
    const r = new Deno.Command(wrapper[0], {
      args: [...wrapper.slice(1), "sh", "-c", `test -w '${probe}'`],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    Deno.removeSync(probe);
    return r.code === 1 ? wrapper : undefined;
  } catch {
    return undefined;
  }
}
const RESTRICTED = asRestrictedUser();

Deno.test({
  name:
    "cli (subprocess): a read-only database is read by inspection commands and refused by writing commands in one sentence",
  // Why it could not run is printed by the test runner as the test's name says "ignored".
  ignore: RESTRICTED === undefined,
  fn: async () => {
    await inTemp(async (dir) => {
      const run = (...args: string[]) => {
        const [cmd, ...pre] = [...RESTRICTED!, Deno.execPath()];
        return new Deno.Command(cmd, {
          args: [...pre, "run", "-A", new URL("./cli.ts", import.meta.url).pathname, ...args],
          stdout: "piped",
          stderr: "piped",
        }).output().then((o) => ({
          code: o.code,
          out: new TextDecoder().decode(o.stdout),
          err: new TextDecoder().decode(o.stderr),
        }));
      };
      const source = `${dir}/source.sqlite`;
      assert.equal((await cli("run", APPROVAL, "--run-id", "w", "--db", source)).code, 0);
      openStore(source).close(); // checkpointed: the file holds everything
      // A 0444 file in a writable directory, and a file in a 0555 directory (no -shm possible).
      await Deno.mkdir(`${dir}/ro-dir`);
      await Deno.copyFile(source, `${dir}/ro-file.sqlite`);
      await Deno.copyFile(source, `${dir}/ro-dir/runs.sqlite`);
      await Deno.chmod(`${dir}/ro-file.sqlite`, 0o444);
      await Deno.chmod(`${dir}/ro-dir`, 0o555);
      try {
        for (const db of [`${dir}/ro-file.sqlite`, `${dir}/ro-dir/runs.sqlite`]) {
          const before = await Deno.readFile(db);
          for (
            const args of [
              ["list"],
              ["get", "--run-id", "w"],
              ["explain", "--run-id", "w"],
              ["history", "--run-id", "w"],
              ["calls", "--run-id", "w"],
              ["attempts", "--run-id", "w"],
              ["verify", "--run-id", "w"],
            ]
          ) {
            const r = await run(...args, "--db", db);
            assert.equal(r.code, 0, `${args[0]} on ${db}: ${r.err}`);
            assert.equal(r.err, "");
          }
          for (
            const args of [
              ["run", COUNTER, "--run-id", "new"],
              ["resume", APPROVAL, "--run-id", "w"],
              ["signal", "--run-id", "w", "--name", "approve", "--data", "{}"],
              ["cancel", "--run-id", "w"],
            ]
          ) {
            const r = await run(...args, "--db", db);
            assert.equal(r.code, 2, `${args[0]} on ${db}: ${r.err}`);
            assert.match(
              r.err,
              /^error: database .* is read-only for this user \(.*\); this command writes to it, so give it write access or use a writable copy \(inspection commands can read it as it is\)\n$/,
            );
          }
          assert.deepEqual(await Deno.readFile(db), before, `${db} is unchanged`);
        }
      } finally {
        await Deno.chmod(`${dir}/ro-dir`, 0o755);
      }
    });
  },
});

Deno.test("cli: a negative number gets the flag's own sentence, and every usage or input error exits 2", async () => {
  await inTemp(async (dir) => {
    const db = `${dir}/runs.sqlite`;
    assert.equal((await cli("run", APPROVAL, "--run-id", "w", "--db", db)).code, 0);
    const cases: [string[], RegExp][] = [
      [["list", "--db", db, "--limit", "-1"], /^error: --limit must be an integer >= 1, got "-1"$/],
      [
        ["list", "--db", db, "--offset", "-3"],
        /^error: --offset must be an integer >= 0, got "-3"$/,
      ],
      [
        ["history", "--run-id", "w", "--db", db, "--from-step", "-2"],
        /^error: --from-step must be an integer >= 0, got "-2"$/,
      ],
      [
        ["calls", "--run-id", "w", "--db", db, "--step", "-2"],
        /^error: --step must be an integer >= 0, got "-2"$/,
      ],
      [
        ["fork", "--run-id", "w", "--db", db, "--step", "-2", "--new-run-id", "f"],
        /^error: --step must be an integer >= 0, got "-2"$/,
      ],
      [
        ["run", COUNTER, "--run-id", "x", "--db", db, "--max-steps", "-5"],
        /^error: --max-steps must be an integer >= 1, got "-5"$/,
      ],
      [
        ["run", COUNTER, "--run-id", "x", "--db", db, "--checkpoint", "compact:0"],
        /^error: --checkpoint must be full or compact\[:N\] with N >= 1, got compact:0$/,
      ],
      [
        ["signal", "--run-id", "w", "--db", db, "--name", "approve", "--data", "{nope"],
        /^error: --data is not valid JSON: /,
      ],
      [
        ["trace", "--run-id", "w", "--db", db, "-o", `${dir}/no/such/dir/t.html`],
        /^error: cannot write .*t\.html: No such file or directory/,
      ],
      [["serve", "--db", db, "--port", "-1"], /^error: --port must be a port number, got "-1"$/],
      [
        ["worker", "--db", db, "--agents", WORKER_AGENTS, "--concurrency", "-1"],
        /^error: --concurrency must be an integer >= 1, got "-1"$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(" ")} -> ${r.code} ${r.err}`);
      assert.match(r.err, expected, args.join(" "));
      assert.equal(r.err.split("\n").length, 1, `one line for ${args.join(" ")}: ${r.err}`);
      assert.doesNotMatch(r.err, /ambiguous/);
    }
    // Where a negative number means something, it is taken: JSON input -5.
    const r = await cli("run", COUNTER, "--run-id", "neg", "--db", db, "--input", "-5", "--json");
    assert.equal(r.code, 0, r.err);
  });
});

Deno.test("cli (subprocess): the seed's forms: run --trace without --db uses ./loom.sqlite (said on stderr); a module before an inspection command's flags is ignored", async () => {
  await inTemp(async (dir) => {
    const cmd = async (...args: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./cli.ts", import.meta.url).pathname, ...args],
        cwd: dir,
        env: { LOOM_DB_URL: "" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
    };
    const run = await cmd("run", COUNTER, "--run-id", "x", "--trace", "t.html", "--max-steps", "3");
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /^note: no --db given \(nor LOOM_DB_URL\): using loom\.sqlite\n/);
    assert.match(run.out, /continue with: loom-runner resume .* --run-id x --db loom\.sqlite\n$/);
    assert.ok(Deno.statSync(`${dir}/loom.sqlite`).isFile);
    assert.ok(Deno.statSync(`${dir}/t.html`).isFile);
    for (const command of ["explain", "get", "history", "calls", "attempts", "verify"]) {
      const r = await cmd(command, COUNTER, "--run-id", "x", "--db", "loom.sqlite");
      assert.equal(r.code, 0, `${command}: ${r.err}`);
      assert.equal(r.err, "");
    }
    const list = await cmd("list", COUNTER, "--db", "loom.sqlite", "--json");
    assert.equal(JSON.parse(list.out)[0].runId, "x");
    const mistaken = await cmd("explain", "x", "--db", "loom.sqlite");
    assert.equal(mistaken.code, 2);
    assert.equal(
      mistaken.err,
      'error: unexpected argument "x" for explain (the run id goes in --run-id x)\n',
    );
  });
});

/**
 * Audit trails written before the keyed chain (format `loom-ops/1`): users keep their history.
 * The fixture `testdata/legacy_trail.sql` is a trail the previous loom-ops (commit 57cab76)
 * wrote, rows and hashes as they were; `audit` lists it, `audit --verify` verifies it as the
 * plain sha256 chain it is and says what that does not prove, and nothing is appended to it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { defineAgent, openStore, startRun } from "@loom/runner";
import { hashedText, toEntry } from "./audit.ts";
import { main } from "./main.ts";
import { testAuditKey, withAuditKey } from "./_test_util.ts";
import { createHash } from "node:crypto";

const OPS_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const FIXTURE = `${OPS_DIR}/testdata/legacy_trail.sql`;

const REFUSED =
  "error: this audit trail was written by loom-ops before the keyed hash chain (loom-ops/1) and cannot be appended to; start a new database with --db NEW.sqlite (audit and audit --verify still read this one)\n";

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** The legacy databases in a temporary directory. */
class Legacy {
  constructor(readonly dir: string) {}
  get db(): string {
    return `${this.dir}/ops.sqlite`;
  }
  get ops(): string {
    return `${this.db}.ops`;
  }
  async cli(args: string[]): Promise<Cli> {
    let stdout = "";
    let stderr = "";
    const code = await main(withAuditKey([...args, "--db", this.db], this.dir), {
      out: (t) => (stdout += t + "\n"),
      err: (t) => (stderr += t + "\n"),
    });
    return { code, stdout, stderr };
  }
  /** `seq hash` of every entry: what must never change. */
  chain(): string[] {
    const db = new DatabaseSync(this.ops, { readOnly: true });
    try {
      return db.prepare("SELECT seq, hash FROM ops_audit ORDER BY seq").all()
        .map((r) => `${r.seq} ${r.hash}`);
    } finally {
      db.close();
    }
  }
  /** Runs `sql` on the ops file with its append-only triggers dropped, as an attacker would. */
  tamper(sql: string): void {
    const db = new DatabaseSync(this.ops);
    try {
      db.exec("DROP TRIGGER IF EXISTS ops_audit_no_update");
      db.exec(sql);
    } finally {
      db.close();
    }
  }
  /** Recomputes every entry's plain sha256 chain, as anyone can without a key. */
  rechain(): void {
    const db = new DatabaseSync(this.ops);
    try {
      db.exec("DROP TRIGGER IF EXISTS ops_audit_no_update");
      let prev = "0".repeat(64);
      for (const row of db.prepare("SELECT * FROM ops_audit ORDER BY seq").all()) {
        const { hash: _h, prevHash: _p, ...body } = toEntry(row);
        const hash = createHash("sha256").update(hashedText(prev, body)).digest("hex");
        db.prepare("UPDATE ops_audit SET prev_hash = ?, hash = ? WHERE seq = ?").run(
          prev,
          hash,
          body.seq,
        );
        prev = hash;
      }
    } finally {
      db.close();
    }
  }
}

/**
 * The fixture's ops file next to a runner database that knows its two runs, as the previous
 * loom-ops left them: dep-6 completed, dep-7 waiting for the approval of step restart.
 */
async function withLegacy(fn: (l: Legacy) => Promise<void>): Promise<void> {
  const l = new Legacy(await Deno.makeTempDir({ prefix: "loom-ops-legacy-" }));
  try {
    const ops = new DatabaseSync(l.ops);
    ops.exec(await Deno.readTextFile(FIXTURE));
    ops.close();
    const supervisor = defineAgent({
      name: "ops-supervisor",
      initialState: (input: { wait: boolean }) => input,
      async step(state, ctx) {
        return state.wait ? await ctx.waitForSignal("approval:restart") : "done";
      },
    });
    const store = openStore(l.db);
    try {
      assert.equal(
        (await startRun(supervisor, { store, runId: "dep-6", input: { wait: false } })).status,
        "completed",
      );
      assert.equal(
        (await startRun(supervisor, { store, runId: "dep-7", input: { wait: true } })).status,
        "waiting",
      );
    } finally {
      store.close();
    }
    await fn(l);
  } finally {
    await Deno.remove(l.dir, { recursive: true });
  }
}

function ok(r: Cli, code = 0): void {
  assert.equal(r.code, code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("a trail from before the keyed chain is listed, exported and verified as a legacy chain", async () => {
  await withLegacy(async (l) => {
    const before = l.chain();
    assert.equal(before.length, 35);

    const listed = await l.cli(["audit", "--run-id", "dep-7"]);
    ok(listed);
    assert.match(listed.stdout, /^ +24 [\d:.]+ dep-7 +run\.started +carol /m);
    assert.equal(listed.stdout.trimEnd().split("\n").length, 12);
    assert.match(
      listed.stdout,
      / approval\.requested loom-ops +restart +needs one of: alice, bob$/m,
    );
    const jsonl = await l.cli(["audit", "--jsonl"]);
    ok(jsonl);
    const entries = jsonl.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(entries.length, 35);
    assert.deepEqual(entries.map((e) => `${e.seq} ${e.hash}`), before);

    const verified = await l.cli(["audit", "--verify"]);
    ok(verified);
    assert.equal(verified.stderr, "");
    const lines = verified.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      "audit chain intact: 35 entries verified as a legacy unkeyed chain (plain SHA-256, format loom-ops/1, written before loom-ops keyed its audit trail; 2 runs checked)",
    );
    assert.match(lines[1], /^ {2}this proves every entry links to the one before it/);
    assert.match(
      lines[2],
      /^ {2}it does not prove that nobody rewrote the trail .*or that the newest entries are all there/,
    );
    assert.match(lines[3], /start a new database with --db/);

    const json = await l.cli(["audit", "--verify", "--json"]);
    ok(json);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(
      { ok: report.ok, entries: report.entries, runs: report.runs, format: report.legacy.format },
      { ok: true, entries: 35, runs: 2, format: "loom-ops/1" },
    );

    // Reading wrote nothing: the same entries, and no audit key was made for it.
    assert.deepEqual(l.chain(), before);
    assert.equal(await exists(testAuditKey(l.dir)), false);
  });
});

Deno.test("a legacy trail is never appended to: a new run and an approval are refused in one sentence", async () => {
  await withLegacy(async (l) => {
    const before = l.chain();
    const started = await l.cli([
      "runbook",
      `${OPS_DIR}/runbooks/restart-service.yaml`,
      "--run-id",
      "dep-8",
      "--workspace",
      OPS_DIR,
      "--state-dir",
      `${l.dir}/state`,
    ]);
    ok(started, 2);
    assert.equal(started.stderr, REFUSED);
    assert.equal(started.stdout, "");

    // dep-7 waits for this very approval; it is refused before the signal is sent.
    const approved = await l.cli([
      "approve",
      "--run-id",
      "dep-7",
      "--step",
      "restart",
      "--by",
      "alice",
    ]);
    ok(approved, 2);
    assert.equal(approved.stderr, REFUSED);

    assert.deepEqual(l.chain(), before);
    assert.equal(await exists(testAuditKey(l.dir)), false, "no key is created for it");
    const store = openStore(l.db);
    try {
      assert.equal(await store.getRun("dep-8"), undefined);
      assert.equal((await store.getRun("dep-7"))?.status, "waiting");
      assert.deepEqual(await store.listSignals("dep-7"), []);
    } finally {
      store.close();
    }
  });
});

Deno.test("a legacy chain: an edit is found; a recomputed chain is not (the weaker guarantee)", async () => {
  await withLegacy(async (l) => {
    l.tamper(`UPDATE ops_audit SET actor = 'mallory' WHERE seq = 14`);
    const edited = await l.cli(["audit", "--verify"]);
    ok(edited, 1);
    assert.equal(
      edited.stderr,
      "error: audit chain broken at entry 14: its content does not match its hash (edited)\n",
    );
    // Without a key anyone can recompute the chain: it verifies again, as the report says.
    l.rechain();
    const rechained = await l.cli(["audit", "--verify"]);
    ok(rechained);
    assert.match(rechained.stdout, /it does not prove that nobody rewrote the trail/);
  });
});

Deno.test("a keyed trail rewritten as a legacy one does not verify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loom-ops-downgrade-" });
  const l = new Legacy(dir);
  try {
    ok(
      await l.cli([
        "runbook",
        `${OPS_DIR}/runbooks/restart-service.yaml`,
        "--run-id",
        "dep-9",
        "--workspace",
        OPS_DIR,
        "--state-dir",
        `${dir}/state`,
      ]),
    );
    ok(await l.cli(["audit", "--verify"]));
    // Someone who can write the ops file but not read the key passes it off as a legacy trail:
    // an unkeyed chain over edited entries, the key id removed.
    l.tamper(`UPDATE ops_audit SET actor = 'mallory' WHERE seq = 1;
      UPDATE ops_meta SET value = 'loom-ops/1' WHERE key = 'format';
      DELETE FROM ops_meta WHERE key = 'key_id';`);
    l.rechain();
    const r = await l.cli(["audit", "--verify"]);
    ok(r, 1);
    assert.match(
      r.stderr,
      /^error: audit trail not intact: the audit file says it is a legacy unkeyed trail \(loom-ops\/1\), but the runner database anchors \d+ entries of a keyed chain: a keyed trail was rewritten as an unkeyed one\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

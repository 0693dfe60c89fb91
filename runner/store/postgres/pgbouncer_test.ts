// The PostgreSQL store behind a real pgbouncer in transaction mode (Debian package `pgbouncer`):
// no statement depends on search_path (pgbouncer refuses the startup parameter, or with the
// usual ignore_startup_parameters fix drops it, and rows used to land in `public`), the pooler
// is detected, and a worker says in one line that it wakes only at its poll interval.
import assert from "node:assert/strict";
import { connectPostgresAdmin, openPostgresStore } from "./mod.ts";
import { PG_TEST_URL, randomSchema } from "../../testing/_stores.ts";
import { waitFor } from "../../testing/wait.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const COUNTER = new URL("../../../examples/counter_agent.ts", import.meta.url).pathname;
const AGENTS_DIR = new URL("../../testdata/worker_agents", import.meta.url).pathname;

/** The pgbouncer binary: `LOOM_PGBOUNCER`, else on PATH or in /usr/sbin (Debian's place). */
function findPgbouncer(): string {
  const given = Deno.env.get("LOOM_PGBOUNCER");
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat("/usr/sbin", "/usr/bin");
  for (const path of given ? [given] : dirs.map((d) => `${d}/pgbouncer`)) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  throw new Error(
    "pgbouncer not found: install it (apt-get install -y pgbouncer) or set LOOM_PGBOUNCER",
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** A pgbouncer in transaction mode in front of the test server, on a free 127.0.0.1 port. */
async function startPgbouncer(): Promise<{ url: string; stop(): Promise<void> }> {
  const binary = findPgbouncer();
  const server = new URL(PG_TEST_URL);
  const user = decodeURIComponent(server.username || "postgres");
  const dir = await Deno.makeTempDir({ prefix: "loom-pgbouncer-" });
  await Deno.chmod(dir, 0o755); // pgbouncer drops root privileges (-u) and must read its files
  const port = freePort();
  await Deno.writeTextFile(`${dir}/users.txt`, `"${user}" ""\n`);
  await Deno.writeTextFile(
    `${dir}/pgbouncer.ini`,
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port || 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${dir}/users.txt`,
      "pool_mode = transaction",
      "ignore_startup_parameters = extra_float_digits,search_path,options",
      "",
    ].join("\n"),
  );
  for (const f of ["users.txt", "pgbouncer.ini"]) await Deno.chmod(`${dir}/${f}`, 0o644);
  // pgbouncer refuses to run as root; as root, tell it to switch to an ordinary user.
  const asUser = Deno.uid() === 0 ? ["-u", "nobody"] : [];
  const child = new Deno.Command(binary, {
    args: [...asUser, `${dir}/pgbouncer.ini`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = child.stderr.pipeThrough(new TextDecoderStream());
  let output = "";
  const drained = log.pipeTo(new WritableStream({ write: (c) => void (output += c) }));
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  await waitFor(`pgbouncer listening on 127.0.0.1:${port}`, async () => {
    if (exited) throw new Error(`pgbouncer exited: ${output}`);
    return await accepts(port);
  });
  const url = new URL(PG_TEST_URL);
  url.port = String(port);
  url.hostname = "127.0.0.1";
  return {
    url: url.toString(),
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await status;
      await drained;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(schema: string, ...args: string[]): Promise<Cli> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { LOOM_DB_SCHEMA: schema },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("behind pgbouncer in transaction mode: run, resume and a worker drain write into the store's schema, and the worker names the pooler", async () => {
  const bouncer = await startPgbouncer();
  const schema = randomSchema("loompgb");
  const admin = connectPostgresAdmin(PG_TEST_URL);
  const publicRuns = async (ids: string[]) => {
    const [{ t }] = await admin.exec("SELECT to_regclass('public.runs')::text AS t");
    if (t === null) return 0;
    const [{ n }] = await admin.exec(
      "SELECT count(*)::int AS n FROM public.runs WHERE run_id = ANY(string_to_array($1, ','))",
      [ids.join(",")],
    );
    return Number(n);
  };
  try {
    // run, then resume, through the pooler (the CLI's default durability sends no setting).
    const run = await cli(schema, "run", COUNTER, "--run-id", "a", "--db", bouncer.url, "-q");
    assert.equal(run.code, 0, run.stderr);
    const paused = await cli(
      schema,
      "run",
      COUNTER,
      "--run-id",
      "b",
      "--db",
      bouncer.url,
      "--max-steps",
      "3",
      "-q",
    );
    assert.equal(paused.code, 0, paused.stderr);
    const resumed = await cli(schema, "resume", COUNTER, "--run-id", "b", "--db", bouncer.url);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^run b completed after 11 step\(s\)/);

    // A worker drain through the pooler: one warning line, and every queued run completes.
    for (const id of ["q1", "q2", "q3"]) {
      const e = await cli(
        schema,
        "enqueue",
        "chain",
        "--run-id",
        id,
        "--input",
        '{"n":4}',
        "--agents",
        AGENTS_DIR,
        "--db",
        bouncer.url,
      );
      assert.equal(e.code, 0, e.stderr);
    }
    const worker = await cli(
      schema,
      "worker",
      "--db",
      bouncer.url,
      "--agents",
      AGENTS_DIR,
      "--drain",
      "--json",
    );
    assert.equal(worker.code, 0, worker.stderr);
    const warnings = worker.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    assert.equal(warnings.length, 1, worker.stderr);
    assert.match(
      warnings[0],
      /^warning: .* is reached through a transaction pooler \(such as pgbouncer with pool_mode = transaction\), which does not deliver LISTEN\/NOTIFY: workers wake only at their poll interval/,
    );

    // The rows are in the store's schema, none in public.
    const rows = await admin.exec(
      `SELECT run_id, status FROM ${schema}.runs ORDER BY run_id`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.run_id}:${r.status}`),
      ["a:completed", "b:completed", "q1:completed", "q2:completed", "q3:completed"],
    );
    const [{ n }] = await admin.exec(`SELECT count(*)::int AS n FROM ${schema}.steps`);
    assert.equal(Number(n), 11 + 11 + 3 * 5);
    assert.equal(await publicRuns(["a", "b", "q1", "q2", "q3"]), 0, "no run went into public");

    // The library sees the pooler; a direct connection to the same schema does not.
    const pooled = await openPostgresStore(bouncer.url, { schema, create: false });
    const direct = await openPostgresStore(PG_TEST_URL, { schema, create: false });
    try {
      assert.equal(pooled.transactionPooler, true);
      assert.equal(direct.transactionPooler, false);
      assert.equal((await pooled.getRun("b"))?.status, "completed");
      const warned: string[] = [];
      const unlisten = await pooled.listenForWork(() => {}, { onWarning: (m) => warned.push(m) });
      await unlisten();
      assert.equal(warned.length, 1);
    } finally {
      await pooled.close();
      await direct.close();
    }
  } finally {
    await admin.dropSchema(schema).catch(() => {});
    await admin.close();
    await bouncer.stop();
  }
});

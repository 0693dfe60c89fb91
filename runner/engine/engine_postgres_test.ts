// The runner's engine test suite (engine_test.ts) again, against the PostgreSQL store: the same
// test bodies, run in a subprocess with LOOM_TEST_STORE=postgres so that `withTempStore` hands
// each test a fresh PostgreSQL schema instead of a SQLite file.
import assert from "node:assert/strict";
import { PostgresStore } from "../store/postgres/mod.ts";
import { withTempStore } from "../_test_util.ts";

Deno.test("LOOM_TEST_STORE=postgres makes withTempStore hand out PostgreSQL stores", async () => {
  const before = Deno.env.get("LOOM_TEST_STORE");
  Deno.env.set("LOOM_TEST_STORE", "postgres");
  try {
    let seen: unknown;
    await withTempStore((store) => {
      seen = store;
      return Promise.resolve();
    });
    assert.ok(seen instanceof PostgresStore);
  } finally {
    if (before === undefined) Deno.env.delete("LOOM_TEST_STORE");
    else Deno.env.set("LOOM_TEST_STORE", before);
  }
});

Deno.test("postgres: the whole engine test suite passes on the PostgreSQL store", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--quiet", new URL("./engine_test.ts", import.meta.url).pathname],
    env: { LOOM_TEST_STORE: "postgres", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text.slice(-6000));
  const summary = /ok \| (\d+) passed \| 0 failed/.exec(text);
  assert.ok(summary && Number(summary[1]) >= 20, text.slice(-2000));
});

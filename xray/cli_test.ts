import { deepEqual, equal, match, ok } from "node:assert/strict";
import { loadTrace } from "./load.ts";
import type { TraceData } from "./model.ts";
import { Recorder } from "./recorder.ts";

const CLI = new URL("./cli.ts", import.meta.url).pathname;

/** Runs `loom-xray` as a real subprocess. */
async function xray(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function scenario(path: string, outputTokens = 100): TraceData {
  const rec = new Recorder({ name: "golden" });
  const run = rec.startSpan("run", "golden", { parent: null });
  rec.recordLlm({
    parent: run,
    model: "gpt-4o-mini",
    provider: "openai",
    inputTokens: 1000,
    outputTokens,
  });
  rec.recordTool({ parent: run, name: "read_file", args: { path }, result: "hello" });
  run.end({ output: "ok" });
  return rec.toJSON();
}

/** A temp dir with a.json, same.json (same as a), b.json (other args) and more.json (more tokens). */
async function fixtures(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.json`, JSON.stringify(scenario("a.txt")));
  await Deno.writeTextFile(`${dir}/same.json`, JSON.stringify(scenario("a.txt")));
  await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify(scenario("b.txt")));
  await Deno.writeTextFile(`${dir}/more.json`, JSON.stringify(scenario("a.txt", 150)));
  await Deno.writeTextFile(`${dir}/junk.json`, '{"hello": "world"}');
  return dir;
}

Deno.test("loom-xray summary, otlp, html, merge and dot work as subprocesses", async () => {
  const dir = await fixtures();
  try {
    const sum = await xray("summary", `${dir}/a.json`);
    equal(sum.code, 0, sum.stderr);
    match(sum.stdout, /tokens 1000 in \/ 100 out, cost \$0\.000210/);
    match(sum.stdout, /gpt-4o-mini \(openai\): 1 call/);
    const sumJson = await xray("summary", `${dir}/a.json`, "--json");
    equal(JSON.parse(sumJson.stdout).totals.totalTokens, 1100);

    const otlp = await xray("otlp", `${dir}/a.json`, "-o", `${dir}/otlp.json`);
    equal(otlp.code, 0, otlp.stderr);
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/otlp.json`));
    equal(doc.resourceSpans[0].scopeSpans[0].spans.length, 3);

    const html = await xray("html", `${dir}/a.json`, "-o", `${dir}/a.html`);
    equal(html.code, 0, html.stderr);
    match(await Deno.readTextFile(`${dir}/a.html`), /^<!DOCTYPE html>/i);

    const merged = await xray(
      "merge",
      `${dir}/a.json`,
      `${dir}/b.json`,
      "-o",
      `${dir}/m.json`,
      "--name",
      "both",
    );
    equal(merged.code, 0, merged.stderr);
    const m = await loadTrace(`${dir}/m.json`);
    equal(m.name, "both");
    equal(m.spans.length, 6);

    const dot = await xray("dot", `${dir}/a.json`);
    equal(dot.code, 0, dot.stderr);
    match(dot.stdout, /^digraph "golden" \{/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loom-xray diff exits 0 when same, 1 when different, honouring --ignore and tolerances", async () => {
  const dir = await fixtures();
  try {
    const same = await xray("diff", `${dir}/a.json`, `${dir}/same.json`);
    equal(same.code, 0, same.stdout + same.stderr);
    match(same.stdout, /result: same within tolerances/);

    const changed = await xray(
      "diff",
      `${dir}/a.json`,
      `${dir}/b.json`,
      "--html",
      `${dir}/diff.html`,
    );
    equal(changed.code, 1);
    match(changed.stdout, /~ run › tool:read_file\n\s+! args\.path: "a\.txt" → "b\.txt"/);
    match(await Deno.readTextFile(`${dir}/diff.html`), /^<!DOCTYPE html>/i);

    const ignored = await xray("diff", `${dir}/a.json`, `${dir}/b.json`, "--ignore", "args.path");
    equal(ignored.code, 0, ignored.stdout);

    const tokens = await xray("diff", `${dir}/a.json`, `${dir}/more.json`);
    equal(tokens.code, 1);
    match(tokens.stdout, /tokens: 1100 → 1150, \+50 \(\+4\.5%\), allowed \+0 EXCEEDED/);
    const within = await xray(
      "diff",
      `${dir}/a.json`,
      `${dir}/more.json`,
      "--max-token-increase",
      "5%",
      "--max-cost-increase",
      "0.0001",
      "--json",
    );
    equal(within.code, 0, within.stdout);
    const result = JSON.parse(within.stdout);
    deepEqual([result.ok, result.tokens.increase], [true, 50]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loom-xray usage and input errors exit 2 with one sentence and no stack trace", async () => {
  const dir = await fixtures();
  try {
    const cases: Array<[string[], RegExp]> = [
      [["summary", `${dir}/missing.json`], /missing\.json does not exist/],
      [["summary", `${dir}/junk.json`], /junk\.json is not a Loom trace/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["diff", `${dir}/a.json`], /diff needs 2 trace file\(s\), got 1/],
      [["summary", `${dir}/a.json`, "--bogus"], /--bogus/],
      [
        ["diff", `${dir}/a.json`, `${dir}/b.json`, "--max-cost-increase", "lots"],
        /not a tolerance/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await xray(...args);
      equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      match(r.stderr, message);
      equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      ok(!/\n\s+at /.test(r.stderr), r.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loom-xray serve answers on 127.0.0.1 until killed", async () => {
  const dir = await fixtures();
  await Deno.remove(`${dir}/junk.json`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "serve", dir, "--port", "0"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    // Read stdout until the URL line appears.
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/http:\/\/127\.0\.0\.1:\d+/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited early: ${text}`);
      text += value;
    }
    reader.releaseLock();
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(text)![0];
    const runs = await (await fetch(`${url}/api/runs`)).json();
    deepEqual(runs.map((r: { id: string }) => r.id).sort(), ["a", "b", "more", "same"]);
    const page = await fetch(`${url}/runs/a`);
    equal(page.status, 200);
    match(await page.text(), /^<!DOCTYPE html>/i);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loom-xray otlp --endpoint posts to a collector; an unreachable one exits 1", async () => {
  const dir = await fixtures();
  const bodies: Array<{ resourceSpans: Array<{ scopeSpans: Array<{ spans: unknown[] }> }> }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    bodies.push(await req.json());
    return new Response("{}");
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/v1/traces`;
    const sent = await xray("otlp", `${dir}/a.json`, "--endpoint", url);
    equal(sent.code, 0, sent.stderr);
    equal(bodies.length, 1);
    equal(bodies[0].resourceSpans[0].scopeSpans[0].spans.length, 3);
    await server.shutdown();
    const down = await xray("otlp", `${dir}/a.json`, "--endpoint", url);
    equal(down.code, 1);
    match(down.stderr, /could not send the trace/);
    const bad = await xray("otlp", `${dir}/a.json`, "--endpoint", "ftp://x");
    equal(bad.code, 2);
  } finally {
    await server.shutdown().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { embedJson, escapeHtml } from "./escape.ts";
import { toHtml, writeHtml } from "./html.ts";
import type { TraceData } from "./model.ts";
import { summarize } from "./summary.ts";
import { bigTrace, HOSTILE, realisticTrace } from "./testdata/fixtures.ts";
import { VIEWER_JS } from "./viewer/app.ts";
import { VIEWER_CSS } from "./viewer/style.ts";

const DATA_OPEN = '<script type="application/json" id="loom-data">';

/** The text of the embedded data element, cut the way an HTML parser cuts it: at `</script`. */
function dataBlock(html: string): string {
  const start = html.indexOf(DATA_OPEN);
  assert.ok(start >= 0, "data element present");
  const from = start + DATA_OPEN.length;
  const end = html.toLowerCase().indexOf("</script", from);
  return html.slice(from, end);
}

/** The page without its data element: everything the browser treats as markup or code. */
function markupOnly(html: string): string {
  const start = html.indexOf(DATA_OPEN);
  const block = dataBlock(html);
  return html.slice(0, start + DATA_OPEN.length) +
    html.slice(start + DATA_OPEN.length + block.length);
}

Deno.test("escapeHtml replaces every character that can open markup or end an attribute", () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
  assert.equal(escapeHtml("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
  assert.equal(
    escapeHtml("&amp;"),
    "&amp;amp;",
    "already-escaped text is escaped again, not trusted",
  );
  for (const s of HOSTILE) assert.doesNotMatch(escapeHtml(s), /[<>"']/);
});

Deno.test("embedJson output holds no character that can end a script element, and parses back", () => {
  const value = {
    hostile: [...HOSTILE],
    nested: { "</script>": "<!--", "key\u2028": "\u2029" },
    mixed: "a < b && c > d",
  };
  const text = embedJson(value);
  assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
  assert.ok(!text.toLowerCase().includes("</script"));
  assert.ok(!text.includes("<!--"));
  assert.deepEqual(JSON.parse(text), value);
  // also valid as a JavaScript expression (U+2028 inside a string literal was an error before ES2019)
  assert.deepEqual(new Function(`return ${text};`)(), value);
});

Deno.test("embedJson never throws on values JSON cannot represent", () => {
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const shared = { v: 1 };
  const out = JSON.parse(
    embedJson({
      big: 12345678901234567890n,
      cyclic,
      pair: [shared, shared],
      f: () => 1,
      u: undefined,
    }),
  );
  assert.equal(out.big, "12345678901234567890");
  assert.deepEqual(out.cyclic, { name: "loop", self: "[Circular]" });
  assert.deepEqual(out.pair, [{ v: 1 }, { v: 1 }], "a shared reference is not a cycle");
  assert.ok(!("f" in out) && !("u" in out));
  assert.equal(embedJson(undefined), "null");
});

Deno.test("toHtml embeds hostile values inertly: the data element ends where it should and round-trips", () => {
  const trace = realisticTrace();
  trace.name = HOSTILE[0];
  trace.spans[0].meta.evil = HOSTILE.join("|");
  trace.spans[0].tags.push(HOSTILE[1]);
  const html = toHtml(trace, { title: "</title><script>alert(1)</script>" });
  const payload = JSON.parse(dataBlock(html));
  assert.deepEqual(payload.main.trace, trace, "the data element was not cut short by any value");
  const markup = markupOnly(html);
  assert.equal(markup.match(/<script/gi)?.length, 2, "only the data element and the viewer script");
  assert.equal(markup.match(/<\/script/gi)?.length, 2);
  assert.ok(!/<script>alert/i.test(markup), "the hostile title was escaped");
  assert.ok(!markup.includes("window.__pwned"), "no hostile string reached the markup");
  assert.match(
    markup,
    /<title>&lt;\/title&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt; · xray<\/title>/,
  );
});

Deno.test("toHtml references no URL: no scheme outside the (escaped) data, and a CSP forbids fetching", async () => {
  const trace = realisticTrace();
  trace.spans[1].output = {
    link: "https://evil.example/x.js",
    img: '<img src="http://evil.example/p.png">',
  };
  const html = toHtml(trace);
  const markup = markupOnly(html);
  assert.doesNotMatch(markup, /https?:|\/\/[a-z]/i, "no http(s) URL and no protocol-relative URL");
  assert.doesNotMatch(markup, /@import|url\(|src=|href=/i);
  const csp =
    (/<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? "")
      .replaceAll("&#39;", "'");
  assert.match(csp, /default-src 'none'/);
  // the script hash in the policy is the hash of exactly the script on the page
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(VIEWER_JS)),
  );
  const b64 = btoa(String.fromCharCode(...digest));
  assert.ok(csp.includes(`script-src 'sha256-${b64}'`), csp);
  assert.ok(html.includes(`<script>${VIEWER_JS}</script>`));
  assert.ok(html.includes(`<style>${VIEWER_CSS}</style>`));
});

Deno.test("the viewer script parses, and contains nothing that could end its own element", () => {
  new Function(VIEWER_JS); // throws SyntaxError if a part is malformed
  assert.ok(!/<\/script|<!--/i.test(VIEWER_JS));
  assert.ok(!/<\/style/i.test(VIEWER_CSS));
  assert.doesNotMatch(VIEWER_JS, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
});

Deno.test("toHtml embeds summarize()'s figures and per-span self/total columns", () => {
  const trace = realisticTrace();
  const payload = JSON.parse(dataBlock(toHtml(trace)));
  const sum = summarize(trace);
  assert.deepEqual(payload.main.summary.totals, sum.totals);
  assert.equal(
    payload.main.summary.errors.count,
    2,
    "one error per root cause, not one per span it crossed",
  );
  assert.equal(payload.main.summary.errors.errorSpans, 4);
  const cols = payload.main.perSpan;
  assert.equal(cols.selfMs.length, trace.spans.length);
  trace.spans.forEach((s, i) => {
    assert.ok(cols.selfMs[i] <= cols.totalMs[i] + 1e-9, `self <= total for ${s.name}`);
    assert.ok(Math.abs(cols.selfMs[i] - sum.spans[s.id].selfMs) < 0.001);
  });
  const run = trace.spans[0];
  assert.equal(
    cols.tokens[0],
    sum.spans[run.id].subtree.inputTokens + sum.spans[run.id].subtree.outputTokens,
  );
  assert.equal(cols.tokens[0], sum.totals.totalTokens, "the root's subtree holds every token once");
  assert.ok(!("spans" in payload.main.summary), "per-span map is embedded only as compact columns");
  const path = payload.main.summary.criticalPath;
  assert.equal(path.spans.length, path.segMs.length);
  const sumMs = path.segMs.reduce((a: number, b: number) => a + b, 0);
  assert.ok(
    Math.abs(sumMs - sum.criticalPath.ms) < 0.01 && Math.abs(path.ms - sum.criticalPath.ms) < 0.01,
  );
  const perSpanPath = new Map<string, number>();
  for (const seg of sum.criticalPath.segments) {
    perSpanPath.set(seg.spanId, (perSpanPath.get(seg.spanId) ?? 0) + seg.ms);
  }
  path.spans.forEach((i: number, k: number) => {
    assert.ok(perSpanPath.has(trace.spans[i].id), "every compact segment is a real path span");
    assert.ok(path.segMs[k] <= perSpanPath.get(trace.spans[i].id)! + 0.01);
  });
});

Deno.test("toHtml with compare embeds both traces and diffTraces' verdict", () => {
  const a = realisticTrace();
  const b = realisticTrace();
  b.name = "after change";
  b.spans[4].output = { changed: true };
  const html = toHtml(a, { compare: b });
  const payload = JSON.parse(dataBlock(html));
  assert.equal(payload.compare.trace.name, "after change");
  assert.equal(payload.compare.diff.ok, false);
  assert.ok(
    payload.compare.diff.changes.some((c: { field: string }) => c.field.startsWith("output")),
  );
  assert.match(html, /<h1[^>]*>repo-agent: nightly build triage vs after change<\/h1>/);
  assert.ok(!("compare" in JSON.parse(dataBlock(toHtml(a)))));
});

Deno.test("toHtml handles an empty trace and open spans", () => {
  const empty: TraceData = {
    format: "loom-trace/1",
    traceId: "0".repeat(32),
    name: "",
    startTime: 0,
    spans: [],
    redactions: 0,
    meta: {},
  };
  const payload = JSON.parse(dataBlock(toHtml(empty)));
  assert.equal(payload.main.summary.totals.spans, 0);
  const open = bigTrace(3);
  open.spans[0].duration = null;
  open.spans[0].endTime = null;
  open.spans[0].status = "unset";
  const p2 = JSON.parse(dataBlock(toHtml(open)));
  assert.ok(p2.main.perSpan.totalMs[0] > 0, "an open span lasts until the last time seen");
});

Deno.test("writeHtml writes the same page toHtml returns", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const trace = realisticTrace();
    const path = `${dir}/trace.html`;
    await writeHtml(trace, path);
    assert.equal(await Deno.readTextFile(path), toHtml(trace));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

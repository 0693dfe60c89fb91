import assert from "node:assert/strict";
import { embedJson, escapeHtml } from "./escape.ts";
import { toHtml, writeHtml } from "./html.ts";
import type { TraceData } from "./model.ts";
import { summarize } from "./summary.ts";
import { bigTrace, HOSTILE, longRunTrace, realisticTrace } from "./testdata/fixtures.ts";
import { VIEWER_JS } from "./viewer/app.ts";
import { VIEWER_CSS } from "./viewer/style.ts";
import {
  pageSegments,
  readColumn,
  readPageTrace,
  segmentBytes,
  traceFromPage,
} from "./_page_read.ts";

const DATA_OPEN = '<script type="application/x-loom-trace" id="loom-data">';

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

/** The page's data as the page decodes it: the core documents and the rebuilt traces. */
function pageData(html: string) {
  const segs = pageSegments(html);
  return {
    segs,
    main: readPageTrace(segs, "m"),
    compare: segs.has("c.core") ? readPageTrace(segs, "c") : null,
  };
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

Deno.test("toHtml embeds hostile values inertly: the data element ends where it should and round-trips", () => {
  const trace = realisticTrace();
  trace.name = HOSTILE[0];
  trace.spans[0].meta.evil = HOSTILE.join("|");
  trace.spans[0].tags.push(HOSTILE[1]);
  trace.spans[1].name = HOSTILE[4];
  const html = toHtml(trace, { title: "</title><script>alert(1)</script>" });
  // base64 lines only: nothing in the element can end it, open a comment or a tag
  assert.match(dataBlock(html), /^\n([a-z0-9.]+:[A-Za-z0-9+/=]*\n)+$/);
  assert.deepEqual(pageData(html).main.trace, trace, "every value comes back, nothing cut short");
  assert.deepEqual(traceFromPage(html), trace);
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

Deno.test("the viewer script parses, and contains nothing that could end its own element", () => {
  new Function(VIEWER_JS); // throws SyntaxError if a part is malformed
  assert.ok(!/<\/script|<!--/i.test(VIEWER_JS));
  assert.ok(!/<\/style/i.test(VIEWER_CSS));
  assert.doesNotMatch(VIEWER_JS, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  // what the CSP (connect-src 'none', no worker-src) would refuse is not used: the data is
  // decoded from the element's own text with DecompressionStream, never fetched from a URL
  assert.doesNotMatch(
    VIEWER_JS,
    /\bfetch\(|XMLHttpRequest|new Worker|importScripts|data:|blob:|createObjectURL/,
  );
  assert.match(VIEWER_JS, /new DecompressionStream\("gzip"\)/);
});

Deno.test("toHtml embeds summarize()'s figures and per-span self/total columns", () => {
  const trace = realisticTrace();
  const { segs, main } = pageData(toHtml(trace));
  const summary = main.core.summary as Record<string, unknown> & {
    totals: unknown;
    errors: { count: number; errorSpans: number };
    criticalPath: { ms: number; spans: number; strip: Array<{ ms: number }>; top: unknown[] };
  };
  const sum = summarize(trace);
  assert.deepEqual(summary.totals, sum.totals);
  assert.equal(summary.errors.count, 2, "one error per root cause, not one per span it crossed");
  assert.equal(summary.errors.errorSpans, 4);
  assert.ok(!("spans" in summary), "per-span figures are embedded only as columns");
  const n = trace.spans.length;
  const du = readColumn(segmentBytes(segs, "m.col.du"), n, false);
  const tt = readColumn(segmentBytes(segs, "m.col.tt"), n, true);
  const sf = readColumn(segmentBytes(segs, "m.col.sf"), n, true);
  const tk = readColumn(segmentBytes(segs, "m.col.tk"), n, false);
  trace.spans.forEach((s, i) => {
    const total = ((du[i] ? du[i] - 1 : 0) + tt[i]) / 1000;
    const self = total - sf[i] / 1000;
    assert.ok(self <= total + 1e-9, `self <= total for ${s.name}`);
    assert.ok(Math.abs(self - sum.spans[s.id].selfMs) < 0.001);
    assert.ok(Math.abs(total - sum.spans[s.id].totalMs) < 0.001);
  });
  const run = trace.spans[0];
  assert.equal(
    tk[0],
    sum.spans[run.id].subtree.inputTokens + sum.spans[run.id].subtree.outputTokens,
  );
  assert.equal(tk[0], sum.totals.totalTokens, "the root's subtree holds every token once");
  const path = summary.criticalPath;
  assert.ok(Math.abs(path.ms - sum.criticalPath.ms) < 0.01);
  const stripMs = path.strip.reduce((a, b) => a + b.ms, 0);
  assert.ok(Math.abs(stripMs - sum.criticalPath.ms) < 0.05, "the drawn path adds up to the path");
  assert.ok(path.top.length <= 8);
});

Deno.test("a long path with large offsets is bucketed without looping, and sums to the path", () => {
  const { main } = pageData(toHtml(longRunTrace(2000)));
  const cp = (main.core.summary as { criticalPath: { ms: number; strip: Array<{ ms: number }> } })
    .criticalPath;
  assert.ok(cp.strip.length > 0 && cp.strip.length <= 400);
  const stripMs = cp.strip.reduce((a, b) => a + b.ms, 0);
  assert.ok(Math.abs(stripMs - cp.ms) / cp.ms < 1e-6, `${stripMs} vs ${cp.ms}`);
});

Deno.test("toHtml with compare embeds both traces and diffTraces' verdict", () => {
  const a = realisticTrace();
  const b = realisticTrace();
  b.name = "after change";
  b.spans[4].output = { changed: true };
  const html = toHtml(a, { compare: b });
  const { compare } = pageData(html);
  assert.equal(compare!.trace.name, "after change");
  const diff = compare!.core.diff as { ok: boolean; changes: Array<{ field: string }> };
  assert.equal(diff.ok, false);
  assert.ok(diff.changes.some((c) => c.field.startsWith("output")));
  assert.match(html, /<h1[^>]*>repo-agent: nightly build triage vs after change<\/h1>/);
  assert.equal(pageData(toHtml(a)).compare, null);
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
  const e = pageData(toHtml(empty)).main;
  assert.equal((e.core.summary as { totals: { spans: number } }).totals.spans, 0);
  assert.deepEqual(e.trace.spans, []);
  const open = bigTrace(3);
  open.spans[0].duration = null;
  open.spans[0].endTime = null;
  open.spans[0].status = "unset";
  const { segs, main } = pageData(toHtml(open));
  assert.equal(main.trace.spans[0].duration, null);
  const tt = readColumn(segmentBytes(segs, "m.col.tt"), open.spans.length, true);
  assert.ok(tt[0] > 0, "an open span lasts until the last time seen");
});

Deno.test("hand-made ids: a repeated id, a self parent and a missing parent still make a page", () => {
  const t = bigTrace(3);
  t.spans[2].id = t.spans[1].id; // repeated
  t.spans[4].parentId = t.spans[4].id; // its own parent
  t.spans[6].parentId = "nowhere";
  const back = pageData(toHtml(t)).main.trace;
  assert.deepEqual(back, t, "parents that do not resolve are kept as recorded");
});

Deno.test("writeHtml streams the same page data toHtml returns, and replaces the file whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const trace = realisticTrace();
    const path = `${dir}/trace.html`;
    await Deno.writeTextFile(path, "old");
    await writeHtml(trace, path);
    const written = await Deno.readTextFile(path);
    const html = toHtml(trace);
    assert.equal(markupOnly(written), markupOnly(html), "same markup and script");
    const a = pageSegments(written);
    const b = pageSegments(html);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const name of a.keys()) {
      assert.deepEqual(segmentBytes(a, name), segmentBytes(b, name), `segment ${name}`);
    }
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left, ["trace.html"], "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 100,000-span page reads back whole, far below the old ~310 bytes a span", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const trace = bigTrace(33_333);
    const path = `${dir}/big.html`;
    await writeHtml(trace, path);
    const html = await Deno.readTextFile(path);
    // a generous bound (size is not a timing, but its figures belong to the bench)
    assert.ok(html.length < 100 * trace.spans.length, `${html.length} bytes`);
    const back = traceFromPage(html);
    assert.equal(back.spans.length, trace.spans.length);
    assert.deepEqual(back.spans.at(-1), trace.spans.at(-1));
    assert.deepEqual(back.spans[1234], trace.spans[1234]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

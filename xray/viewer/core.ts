/**
 * Viewer script, part 1: loading the embedded data, indexing the span tree, DOM and format helpers.
 *
 * Every viewer part is plain browser JavaScript kept in a string; `app.ts` joins them inside one
 * function scope. Data from the trace only ever reaches the page through `textContent` and
 * attribute setters, never through `innerHTML`, so captured values cannot become markup.
 *
 * Loading: the data element holds one `name:base64` line per gzip-compressed segment (see
 * `_page_data.ts`). The page decodes base64 to bytes and pipes them through the browser's
 * `DecompressionStream` — no `fetch`, no URL, so the page's `connect-src 'none'` holds. The
 * summary and the span columns are decoded at load; the detail chunks (inputs, outputs,
 * attributes…) when a view shows or searches them.
 *
 * @module
 */

/** Browser JavaScript: data loading, tree index, helpers. */
export const CORE_JS: string = String.raw`
var DATA = null;
var KINDS = ["run", "step", "llm", "tool", "branch", "error", "event"];
var STATUSES = ["ok", "error", "unset"];
/** Traces with at most this many spans get every detail chunk at load (then every view is immediate). */
var EAGER_SPANS = 20000;

/* ---------- DOM helpers: data becomes text nodes and attribute values, never parsed HTML ---------- */
function h(tag, attrs) {
  var el = document.createElement(tag);
  if (attrs) {
    for (var k in attrs) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k === "title") el.title = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
function add(el, child) {
  if (child == null || child === false) return;
  if (Array.isArray(child)) { for (var i = 0; i < child.length; i++) add(el, child[i]); return; }
  el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
}
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
function $(id) { return document.getElementById(id); }

/* ---------- formatting ---------- */
function fmtMs(ms) {
  if (ms == null || !isFinite(ms)) return "–";
  if (ms < 1) return (Math.round(ms * 1000) / 1000) + " ms";
  if (ms < 1000) return (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)) + " ms";
  if (ms < 59950) return (ms / 1000).toFixed(ms < 9995 ? 2 : 1) + " s";
  var secs = Math.round(ms / 1000), m = Math.floor(secs / 60);
  if (m < 60) return m + "m " + (secs % 60) + "s";
  var mins = Math.round(ms / 60000);
  if (mins < 60 * 48) return Math.floor(mins / 60) + "h " + (mins % 60) + "m";
  var hours = Math.round(ms / 3600000);
  return Math.floor(hours / 24) + "d " + (hours % 24) + "h";
}
function fmtInt(n) {
  if (n == null || !isFinite(n)) return "–";
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
function fmtCompact(n) {
  if (n == null || !isFinite(n)) return "–";
  if (Math.abs(n) < 10000) return fmtInt(n);
  if (Math.abs(n) < 1e6) return (n / 1000).toFixed(1) + "k";
  return (n / 1e6).toFixed(2) + "M";
}
function fmtCost(usd) {
  if (usd == null || !isFinite(usd)) return "–";
  if (usd === 0) return "$0";
  if (usd < 0.01) return "$" + usd.toFixed(4);
  return "$" + usd.toFixed(usd < 10 ? 3 : 2);
}
function fmtPct(x) { return isFinite(x) ? (x * 100).toFixed(x < 0.1 ? 1 : 0) + "%" : "–"; }
function fmtTime(epochMs) {
  if (typeof epochMs !== "number" || !isFinite(epochMs)) return "–";
  try { return new Date(epochMs).toISOString().replace("T", " ").replace("Z", " UTC"); } catch (_e) { return String(epochMs); }
}
function plural(n, word) { return fmtInt(n) + " " + word + (n === 1 ? "" : "s"); }
function attr(span, key) { return span.attributes ? span.attributes[key] : undefined; }
function jsonText(v, indent) {
  try { var s = JSON.stringify(v, null, indent); return s === undefined ? String(v) : s; } catch (_e) { return String(v); }
}
function shorten(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }
function nextFrame() { return new Promise(function (resolve) { setTimeout(resolve, 0); }); }

/* ---------- loading the embedded segments ---------- */
/** Where each segment's base64 sits in the data element's text: name -> [from, to]. */
function segmentTable(text) {
  var table = new Map(), pos = 0;
  while (pos < text.length) {
    var nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    var colon = text.indexOf(":", pos);
    if (colon > pos && colon < nl) table.set(text.slice(pos, colon), [colon + 1, nl]);
    pos = nl + 1;
  }
  return table;
}
function base64Bytes(s) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(s);
  var bin = atob(s), out = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function gunzip(bytes) {
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
}
function segmentBytes(src, name) {
  var at = src.table.get(name);
  if (!at) return Promise.reject(new Error("the page has no data segment " + name));
  return gunzip(base64Bytes(src.text.slice(at[0], at[1])));
}
function segmentText(src, name) {
  return segmentBytes(src, name).then(function (b) { return new TextDecoder().decode(b); });
}
/** Decodes n unsigned LEB128 varints (values up to 2^53). */
function varints(bytes, n) {
  var out = new Float64Array(n), p = 0;
  for (var i = 0; i < n; i++) {
    var b = bytes[p++], v = b & 0x7f;
    if (b >= 0x80) {
      var mul = 0x80;
      do { b = bytes[p++]; v += (b & 0x7f) * mul; mul *= 0x80; } while (b >= 0x80);
    }
    out[i] = v;
  }
  return out;
}
function unzig(v) { return v % 2 === 0 ? v / 2 : -(v + 1) / 2; }
/** The columns of one trace as typed arrays (see _page_data.ts for the encoding). */
function decodeColumns(raw, n) {
  var c = { kst: raw.kst, parent: new Int32Array(n), name: new Uint32Array(n), start: new Float64Array(n), dur: new Float64Array(n),
    total: new Float64Array(n), self: new Float64Array(n), tokens: raw.tk, cost: new Float64Array(n), model: new Uint32Array(n),
    tool: new Uint32Array(n), tagset: new Uint32Array(n), step: new Float64Array(n), node: new Int32Array(n) };
  var st = 0;
  for (var i = 0; i < n; i++) {
    c.parent[i] = raw.par[i] === 0 ? -1 : i - unzig(raw.par[i]);
    c.name[i] = raw.nm[i];
    st += unzig(raw.st[i]);
    c.start[i] = st / 1000;
    var du = raw.du[i] === 0 ? 0 : raw.du[i] - 1;
    c.dur[i] = raw.du[i] === 0 ? NaN : du / 1000;
    var total = du + unzig(raw.tt[i]);
    c.total[i] = total / 1000;
    c.self[i] = (total - unzig(raw.sf[i])) / 1000;
    c.cost[i] = raw.co[i] / 1e9;
    c.model[i] = raw.md[i];
    c.tool[i] = raw.tl[i];
    c.tagset[i] = raw.tg[i];
    c.step[i] = raw.si[i] === 0 ? NaN : unzig(raw.si[i] - 1);
    c.node[i] = raw.cn[i] - 1;
  }
  return c;
}
/** Loads one trace of the page ("m" or "c"): its core document, columns and ids. */
async function loadPageTrace(src, prefix) {
  var core = JSON.parse(await segmentText(src, prefix + ".core")), n = core.n;
  var raw = {};
  await Promise.all(core.columns.map(function (k) {
    return segmentBytes(src, prefix + ".col." + k).then(function (b) { raw[k] = k === "kst" ? b : varints(b, n); });
  }));
  var ids = n ? (await segmentText(src, prefix + ".ids")).split("\n") : [];
  return { src: src, prefix: prefix, core: core, n: n, cols: decodeColumns(raw, n), ids: ids, chunks: new Array(core.chunks), loaded: 0 };
}
async function loadData() {
  var el = document.getElementById("loom-data"), src = { text: el.textContent, table: null };
  src.table = segmentTable(src.text);
  var main = loadPageTrace(src, "m");
  var compare = src.table.has("c.core") ? loadPageTrace(src, "c") : null;
  DATA = { main: await main, compare: compare ? await compare : null };
  el.textContent = ""; // the segments are in src.text; the element's copy is no longer needed
}

/* ---------- detail chunks: each span's inputs, outputs, attributes, tags, meta, error ---------- */
function chunkLoaded(pt, c) { var ch = pt.chunks[c]; return !!ch && !ch.then; }
function loadChunk(pt, c) {
  var ch = pt.chunks[c];
  if (ch) return ch.then ? ch : Promise.resolve(ch);
  var p = segmentText(pt.src, pt.prefix + ".d." + c).then(function (text) {
    var lines = text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    var done = { lines: lines, recs: new Array(lines.length) };
    pt.chunks[c] = done;
    pt.loaded++;
    return done;
  });
  pt.chunks[c] = p;
  return p;
}
/** Loads the chunks holding the given span indexes. */
function needSpans(pt, list) {
  var want = new Set();
  list.forEach(function (i) { if (i >= 0) want.add(Math.floor(i / pt.core.chunk)); });
  return Promise.all(Array.from(want).map(function (c) { return loadChunk(pt, c); }));
}
function allLoaded(pt) { return pt.loaded >= pt.core.chunks; }
/** Loads every chunk, a few at a time, reporting the share done. */
async function loadAll(pt, onProgress) {
  for (var c = 0; c < pt.core.chunks; c += 4) {
    var batch = [];
    for (var k = c; k < Math.min(pt.core.chunks, c + 4); k++) batch.push(loadChunk(pt, k));
    await Promise.all(batch);
    if (onProgress) onProgress(Math.min(1, (c + 4) / pt.core.chunks));
  }
}
/** The detail record of span i, or null when its chunk is not loaded yet. */
function detailOf(pt, i) {
  var ch = pt.chunks[Math.floor(i / pt.core.chunk)];
  if (!ch || ch.then) return null;
  var k = i % pt.core.chunk, rec = ch.recs[k];
  if (rec === undefined) { rec = JSON.parse(ch.lines[k]); ch.recs[k] = rec; }
  return rec;
}
/** Span i as recorded (times to the microsecond), or null when its chunk is not loaded yet. */
function fullSpan(pt, i) {
  var rec = detailOf(pt, i);
  if (!rec) return null;
  var s = pt.spans[i], p = pt.cols.parent[i];
  var out = { id: s.id, parentId: "parentId" in rec ? rec.parentId : p >= 0 ? pt.ids[p] : null, kind: s.kind, name: s.name,
    startTime: rec.startTime, endTime: rec.endTime, startOffset: s.startOffset, duration: s.duration, status: s.status };
  for (var k in rec) if (k !== "parentId") out[k] = rec[k];
  return out;
}

/* ---------- span tree index (rendering structure, not statistics) ---------- */
/** Light span objects: what lists, bars and filters need, without the detail record. */
function lightSpans(pt) {
  var c = pt.cols, names = pt.core.names, tagsets = pt.core.tagsets, n = pt.n, out = new Array(n), none = [];
  for (var i = 0; i < n; i++) {
    var k = c.kst[i], d = c.dur[i];
    out[i] = { id: pt.ids[i], kind: KINDS[k & 7], name: names[c.name[i]], status: STATUSES[(k >> 3) & 3],
      startOffset: c.start[i], duration: d === d ? d : null, tags: c.tagset[i] ? tagsets[c.tagset[i] - 1] : none, err: (k & 32) !== 0 };
  }
  return out;
}
function buildIndex(pt) {
  var spans = pt.spans || (pt.spans = lightSpans(pt)), n = pt.n, c = pt.cols;
  var parent = new Int32Array(c.parent), kids = new Array(n), roots = [];
  for (var i = 0; i < n; i++) {
    var p = parent[i];
    if (p < 0 || p >= n || p === i) { parent[i] = -1; roots.push(i); }
    else (kids[p] || (kids[p] = [])).push(i);
  }
  var start = c.start;
  var byStart = function (a, b) { return start[a] - start[b] || a - b; };
  for (i = 0; i < n; i++) if (kids[i] && kids[i].length > 1) kids[i].sort(byStart);
  roots.sort(byStart);
  // Depth-first order; spans unreachable from a root (a parent cycle in bad data) become roots.
  var order = new Int32Array(n), len = 0, depth = new Int32Array(n), seen = new Uint8Array(n), stack = [];
  function walk(r) {
    stack.push(r);
    depth[r] = 0;
    while (stack.length) {
      var x = stack.pop();
      if (seen[x]) continue;
      seen[x] = 1;
      order[len++] = x;
      var ks = kids[x];
      if (ks) for (var j = ks.length - 1; j >= 0; j--) { depth[ks[j]] = depth[x] + 1; stack.push(ks[j]); }
    }
  }
  roots.forEach(walk);
  for (i = 0; i < n; i++) if (!seen[i]) { roots.push(i); parent[i] = -1; walk(i); }
  var t0 = Infinity, t1 = -Infinity, maxDepth = 0;
  for (i = 0; i < n; i++) {
    var st = start[i], d = c.dur[i];
    if (st < t0) t0 = st;
    var en = st + (d === d ? d : 0);
    if (en > t1) t1 = en;
    if (depth[i] > maxDepth) maxDepth = depth[i];
  }
  if (!isFinite(t0)) { t0 = 0; t1 = 0; }
  var rowOf = new Int32Array(n);
  for (i = 0; i < n; i++) rowOf[order[i]] = i;
  return { pt: pt, core: pt.core, spans: spans, n: n, pos: null, parent: parent, kids: kids, roots: roots, order: order,
    rowOf: rowOf, depth: depth, maxDepth: maxDepth, t0: t0, t1: Math.max(t1, t0), searchText: null };
}
/** Index of the span with this id (the last one, if ids repeat), or -1. */
function indexOfId(ix, id) {
  if (!ix.pos) { ix.pos = new Map(); for (var i = 0; i < ix.n; i++) ix.pos.set(ix.spans[i].id, i); }
  var p = ix.pos.get(id);
  return p === undefined ? -1 : p;
}
/** End offset of a span; an open span is drawn up to the end of the trace. */
function endOf(ix, i) {
  var s = ix.spans[i];
  return s.duration == null ? ix.t1 : s.startOffset + s.duration;
}
function ancestors(ix, i) {
  var out = [];
  for (var p = ix.parent[i]; p >= 0; p = ix.parent[p]) out.push(p);
  return out.reverse();
}
function isError(s) { return s.status === "error" || s.kind === "error" || !!s.err; }
function spanTokens(s) {
  var a = s.attributes || {};
  var inp = Number(a["gen_ai.usage.input_tokens"] || 0), out = Number(a["gen_ai.usage.output_tokens"] || 0);
  return { input: inp, output: out, total: inp + out };
}
function spanModel(s) {
  var a = s.attributes || {};
  return a["gen_ai.response.model"] || a["gen_ai.request.model"] || null;
}
/** The label of a group of spans: the span's own name when the group has only one. */
function groupLabel(g) { return g.count === 1 && g.i >= 0 && A.ix ? A.ix.spans[g.i].name : g.name; }
/** Name for merging repeated spans (the same expression as groupName in _summary_aggregates.ts). */
function groupName(name) { return String(name).replace(/([\s_#-])\d+$/, "$1#"); }
`;

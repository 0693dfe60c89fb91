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
/** Inflates gzip bytes with the browser's DecompressionStream (no Blob, no URL: all in this page). */
async function gunzip(bytes) {
  var ds = new DecompressionStream("gzip"), writer = ds.writable.getWriter(), reader = ds.readable.getReader();
  writer.write(bytes).catch(function () {});
  writer.close().catch(function () {});
  var parts = [], size = 0;
  for (;;) {
    var r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
    size += r.value.length;
  }
  if (parts.length === 1) return parts[0];
  var out = new Uint8Array(size), at = 0;
  for (var k = 0; k < parts.length; k++) { out.set(parts[k], at); at += parts[k].length; }
  return out;
}
function segmentBytes(src, name) {
  var at = src.table.get(name);
  if (!at) return Promise.reject(new Error("the page has no data segment " + name));
  return gunzip(base64Bytes(src.text.slice(at[0], at[1])));
}
function segmentText(src, name) {
  return segmentBytes(src, name).then(function (b) { return new TextDecoder().decode(b); });
}
/**
 * Decodes n LEB128 varints into out (a typed array), minus bias; zigzag-decoded when signed.
 * Values up to 2^53; the common small ones take the fast path.
 */
function varints(bytes, n, out, signed, bias) {
  var p = 0;
  for (var i = 0; i < n; i++) {
    var b = bytes[p++], v = b & 0x7f;
    if (b >= 0x80) {
      var mul = 0x80;
      do { b = bytes[p++]; v += (b & 0x7f) * mul; mul *= 0x80; } while (b >= 0x80);
    }
    if (signed) v = v < 0x80000000 ? (v >>> 1) ^ -(v & 1) : (v % 2 === 0 ? v / 2 : -(v + 1) / 2);
    out[i] = v - bias;
  }
  return out;
}
/** How each column is stored: [typed array, zigzag, bias] (see _page_data.ts). */
var COLUMN_TYPES = {
  par: [Int32Array, true, 0], nm: [Uint32Array, false, 0], st: [Float64Array, true, 0], du: [Float64Array, false, 1],
  tt: [Float64Array, true, 0], sf: [Float64Array, true, 0], tk: [Float64Array, false, 0], co: [Float64Array, false, 0],
  md: [Uint32Array, false, 0], tl: [Uint32Array, false, 0], tg: [Uint32Array, false, 0], si: [Float64Array, false, 1],
  cn: [Int32Array, false, 1],
};
function decodeColumn(bytes, key, n) {
  if (key === "kst") return bytes;
  var t = COLUMN_TYPES[key];
  return t ? varints(bytes, n, new t[0](n), t[1], t[2]) : null;
}
/** The columns of one trace as typed arrays, in the units the views use (ms, USD). */
function decodeColumns(raw, n) {
  var start = raw.st, dur = raw.du, total = raw.tt, self = raw.sf, cost = raw.co, step = raw.si, parent = raw.par;
  var st = 0;
  for (var i = 0; i < n; i++) {
    parent[i] = parent[i] === 0 ? -1 : i - parent[i];
    st += start[i];
    start[i] = st / 1000;
    var du = dur[i] < 0 ? 0 : dur[i]; // -1: open
    var t = du + total[i];
    total[i] = t / 1000;
    self[i] = (t - self[i]) / 1000;
    dur[i] = dur[i] < 0 ? NaN : du / 1000;
    cost[i] = cost[i] / 1e9;
    // step: stored zigzag + 1 (0: none), decoded with bias 1 so none is -1
    var sv = step[i];
    step[i] = sv < 0 ? NaN : (sv % 2 === 0 ? sv / 2 : -(sv + 1) / 2);
  }
  return { kst: raw.kst, parent: parent, name: raw.nm, start: start, dur: dur, total: total, self: self, tokens: raw.tk,
    cost: cost, model: raw.md, tool: raw.tl, tagset: raw.tg, step: step, node: raw.cn };
}
/** Loads one trace of the page ("m" or "c"): its core document, columns and ids. */
async function loadPageTrace(src, prefix) {
  var core = JSON.parse(await segmentText(src, prefix + ".core")), n = core.n;
  mark("xray:core");
  var raw = {};
  var ids = n ? segmentText(src, prefix + ".ids") : Promise.resolve("");
  await Promise.all(core.columns.map(function (k) {
    return segmentBytes(src, prefix + ".col." + k).then(function (b) { raw[k] = decodeColumn(b, k, n); });
  }));
  mark("xray:columns");
  var cols = decodeColumns(raw, n);
  mark("xray:cols-decoded");
  var idList = n ? (await ids).split("\n") : [];
  mark("xray:ids");
  return { src: src, prefix: prefix, core: core, n: n, cols: cols, ids: idList, chunks: new Array(core.chunks), loaded: 0 };
}
async function loadData() {
  var el = document.getElementById("loom-data"), src = { text: el.textContent, table: null };
  mark("xray:text");
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
  var s = spanAt(pt, i), p = pt.cols.parent[i];
  var out = { id: s.id, parentId: "parentId" in rec ? rec.parentId : p >= 0 ? pt.ids[p] : null, kind: s.kind, name: s.name,
    startTime: rec.startTime, endTime: rec.endTime, startOffset: s.startOffset, duration: s.duration, status: s.status };
  for (var k in rec) if (k !== "parentId") out[k] = rec[k];
  return out;
}

/* ---------- span tree index (rendering structure, not statistics) ---------- */
/**
 * Span i as lists, bars and filters need it (no detail record), made on first use: a
 * 1,000,000-span page makes only the spans a view touches.
 */
function spanAt(ix, i) {
  var pt = ix.pt || ix, s = pt.spans ? pt.spans[i] : (pt.spans = new Array(pt.n))[i];
  if (s) return s;
  var c = pt.cols, k = c.kst[i], d = c.dur[i];
  s = { id: pt.ids[i], kind: KINDS[k & 7], name: pt.core.names[c.name[i]], status: STATUSES[(k >> 3) & 3],
    startOffset: c.start[i], duration: d === d ? d : null, tags: c.tagset[i] ? pt.core.tagsets[c.tagset[i] - 1] : NO_TAGS,
    err: (k & 32) !== 0 };
  pt.spans[i] = s;
  return s;
}
var NO_TAGS = [];
function kindOf(ix, i) { return KINDS[(ix.pt || ix).cols.kst[i] & 7]; }
function statusOf(ix, i) { return STATUSES[((ix.pt || ix).cols.kst[i] >> 3) & 3]; }
/** Number of direct children of span i. */
function kidCount(ix, i) { return ix.kidStart[i + 1] - ix.kidStart[i]; }
/** The direct children of span i, in start order (a new array). */
function kidsOf(ix, i) { return Array.from(ix.kidList.subarray(ix.kidStart[i], ix.kidStart[i + 1])); }
/**
 * The tree: parents (a parent that is missing, the span itself or in a cycle makes a root),
 * children as one list cut per parent (kidStart/kidList), the depth-first order and depths.
 */
function buildIndex(pt) {
  var n = pt.n, c = pt.cols, start = c.start, i;
  if (!pt.spans) pt.spans = new Array(n);
  var parent = new Int32Array(c.parent), kidStart = new Int32Array(n + 1), roots = [];
  for (i = 0; i < n; i++) {
    var p = parent[i];
    if (p < 0 || p >= n || p === i) { parent[i] = -1; roots.push(i); } else kidStart[p + 1]++;
  }
  for (i = 0; i < n; i++) kidStart[i + 1] += kidStart[i];
  var fill = kidStart.slice(0, n), kidList = new Int32Array(kidStart[n]);
  for (i = 0; i < n; i++) if (parent[i] >= 0) kidList[fill[parent[i]]++] = i;
  var byStart = function (a, b) { return start[a] - start[b] || a - b; };
  for (i = 0; i < n; i++) {
    var a = kidStart[i], b = kidStart[i + 1];
    for (var k = a + 1; k < b; k++) {
      if (byStart(kidList[k - 1], kidList[k]) > 0) { kidList.subarray(a, b).sort(byStart); break; }
    }
  }
  roots.sort(byStart);
  // Depth-first order; spans unreachable from a root (a parent cycle in bad data) become roots.
  var order = new Int32Array(n), len = 0, depth = new Int32Array(n), seen = new Uint8Array(n), stack = new Int32Array(n + 1);
  function walk(r) {
    var top = 0;
    stack[top++] = r;
    depth[r] = 0;
    while (top) {
      var x = stack[--top];
      if (seen[x]) continue;
      seen[x] = 1;
      order[len++] = x;
      for (var j = kidStart[x + 1] - 1; j >= kidStart[x]; j--) {
        var y = kidList[j];
        if (seen[y]) continue;
        depth[y] = depth[x] + 1;
        stack[top++] = y;
      }
    }
  }
  roots.forEach(walk);
  for (i = 0; i < n; i++) if (!seen[i]) { roots.push(i); parent[i] = -1; walk(i); }
  var t0 = Infinity, t1 = -Infinity, maxDepth = 0, dur = c.dur;
  for (i = 0; i < n; i++) {
    var st = start[i], d = dur[i];
    if (st < t0) t0 = st;
    var en = st + (d === d ? d : 0);
    if (en > t1) t1 = en;
    if (depth[i] > maxDepth) maxDepth = depth[i];
  }
  if (!isFinite(t0)) { t0 = 0; t1 = 0; }
  var rowOf = new Int32Array(n);
  for (i = 0; i < n; i++) rowOf[order[i]] = i;
  return { pt: pt, core: pt.core, n: n, pos: null, parent: parent, kidStart: kidStart, kidList: kidList, roots: roots, order: order,
    rowOf: rowOf, depth: depth, maxDepth: maxDepth, t0: t0, t1: Math.max(t1, t0), searchText: null };
}
/** Index of the span with this id (the last one, if ids repeat), or -1. */
function indexOfId(ix, id) {
  if (!ix.pos) { ix.pos = new Map(); var ids = ix.pt.ids; for (var i = 0; i < ix.n; i++) ix.pos.set(ids[i], i); }
  var p = ix.pos.get(id);
  return p === undefined ? -1 : p;
}
/** End offset of a span; an open span is drawn up to the end of the trace. */
function endOf(ix, i) {
  var s = spanAt(ix, i);
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
function groupLabel(g) { return g.count === 1 && g.i >= 0 && A.ix ? spanAt(A.ix, g.i).name : g.name; }
/** Name for merging repeated spans (the same expression as groupName in _summary_aggregates.ts). */
function groupName(name) { return String(name).replace(/([\s_#-])\d+$/, "$1#"); }
`;

/**
 * Viewer script, part 1: loading the embedded data, indexing the span tree, DOM and format helpers.
 *
 * Every viewer part is plain browser JavaScript kept in a string; `app.ts` joins them inside one
 * function scope. Data from the trace only ever reaches the page through `textContent` and
 * attribute setters, never through `innerHTML`, so captured values cannot become markup.
 *
 * @module
 */

/** Browser JavaScript: data loading, tree index, helpers. */
export const CORE_JS: string = String.raw`
var DATA = JSON.parse(document.getElementById("loom-data").textContent);
var KINDS = ["run", "step", "llm", "tool", "branch", "error", "event"];

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
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  var m = Math.floor(ms / 60000), s = Math.round((ms % 60000) / 1000);
  if (m < 60) return m + "m " + s + "s";
  return Math.floor(m / 60) + "h " + (m % 60) + "m";
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

/* ---------- span tree index (rendering structure, not statistics) ---------- */
function buildIndex(trace) {
  var spans = Array.isArray(trace.spans) ? trace.spans : [];
  var n = spans.length;
  var pos = new Map();
  for (var i = 0; i < n; i++) pos.set(spans[i].id, i);
  var parent = new Int32Array(n).fill(-1);
  var kids = new Array(n);
  var roots = [];
  for (i = 0; i < n; i++) {
    var pid = spans[i].parentId;
    var p = pid == null ? undefined : pos.get(pid);
    if (p === undefined || p === i) roots.push(i);
    else { parent[i] = p; (kids[p] || (kids[p] = [])).push(i); }
  }
  var byStart = function (a, b) { return (spans[a].startOffset || 0) - (spans[b].startOffset || 0) || a - b; };
  for (i = 0; i < n; i++) if (kids[i]) kids[i].sort(byStart);
  roots.sort(byStart);
  // Depth-first order; spans unreachable from a root (a parent cycle in bad data) become roots.
  var order = [], depth = new Int32Array(n), seen = new Uint8Array(n);
  function walk(r) {
    var stack = [r];
    depth[r] = 0;
    while (stack.length) {
      var x = stack.pop();
      if (seen[x]) continue;
      seen[x] = 1;
      order.push(x);
      var c = kids[x];
      if (c) for (var j = c.length - 1; j >= 0; j--) { depth[c[j]] = depth[x] + 1; stack.push(c[j]); }
    }
  }
  roots.forEach(walk);
  for (i = 0; i < n; i++) if (!seen[i]) { roots.push(i); parent[i] = -1; walk(i); }
  var t0 = Infinity, t1 = -Infinity;
  for (i = 0; i < n; i++) {
    var s = spans[i], st = s.startOffset || 0;
    if (st < t0) t0 = st;
    var en = st + (s.duration == null ? 0 : s.duration);
    if (en > t1) t1 = en;
  }
  if (!isFinite(t0)) { t0 = 0; t1 = 0; }
  var rowOf = new Int32Array(n);
  for (i = 0; i < order.length; i++) rowOf[order[i]] = i;
  var maxDepth = 0;
  for (i = 0; i < n; i++) if (depth[i] > maxDepth) maxDepth = depth[i];
  return { trace: trace, spans: spans, n: n, pos: pos, parent: parent, kids: kids, roots: roots, order: order,
    rowOf: rowOf, depth: depth, maxDepth: maxDepth, t0: t0, t1: Math.max(t1, t0), searchText: null };
}
/** End offset of a span; an open span is drawn up to the end of the trace. */
function endOf(ix, i) {
  var s = ix.spans[i];
  return s.duration == null ? ix.t1 : (s.startOffset || 0) + s.duration;
}
function ancestors(ix, i) {
  var out = [];
  for (var p = ix.parent[i]; p >= 0; p = ix.parent[p]) out.push(p);
  return out.reverse();
}
function isError(s) { return s.status === "error" || s.kind === "error" || !!s.error; }
function spanTokens(s) {
  var a = s.attributes || {};
  var inp = Number(a["gen_ai.usage.input_tokens"] || 0), out = Number(a["gen_ai.usage.output_tokens"] || 0);
  return { input: inp, output: out, total: inp + out };
}
function spanModel(s) {
  var a = s.attributes || {};
  return a["gen_ai.response.model"] || a["gen_ai.request.model"] || null;
}
/** Name for merging repeated spans in the graph: a trailing counter ("step 12", "tool_3") becomes "#". */
function groupName(s) { return String(s.name).replace(/([\s_#-])\d+$/, "$1#"); }
`;

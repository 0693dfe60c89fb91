/**
 * Viewer script, part 4: the detail panel (timing, error, LLM usage, inputs/outputs as a JSON
 * tree, state change against the previous step, attributes, tags, metadata) and the JSON and
 * value-diff renderers it shares with other views.
 *
 * @module
 */

/** Browser JavaScript: JSON tree, value diff, detail panel. */
export const DETAIL_JS: string = String.raw`
/* ---------- JSON tree ---------- */
var STRING_PREVIEW = 2000;
function jsonScalar(v) {
  if (v === null) return h("span", { class: "z", text: "null" });
  switch (typeof v) {
    case "string": return stringEl(v);
    case "number": return h("span", { class: "n", text: String(v) });
    case "boolean": return h("span", { class: "b", text: String(v) });
    default: return h("span", { class: "z", text: String(v) });
  }
}
function stringEl(v) {
  var el = h("span", { class: "s" });
  if (v.length <= STRING_PREVIEW) { el.textContent = JSON.stringify(v); return el; }
  el.textContent = JSON.stringify(v.slice(0, STRING_PREVIEW)).slice(0, -1) + "…";
  var more = h("button", { class: "btn more", text: "show all " + fmtInt(v.length) + " chars" });
  more.addEventListener("click", function () { el.textContent = JSON.stringify(v); });
  return h("span", null, el, " ", more);
}
function preview(v) {
  if (Array.isArray(v)) return "[" + plural(v.length, "item") + "]";
  var keys = Object.keys(v);
  return "{" + keys.slice(0, 4).join(", ") + (keys.length > 4 ? ", …" : "") + "}";
}
/** A collapsible tree; children are built only when a node is opened, so huge values are cheap. */
function jsonTree(v, key, depth) {
  var keyEl = key == null ? null : h("span", { class: "k", text: (typeof key === "number" ? key : JSON.stringify(key)) + ": " });
  if (v === null || typeof v !== "object") return h("div", { class: "leaf" }, keyEl, jsonScalar(v));
  var isArr = Array.isArray(v), keys = isArr ? null : Object.keys(v), len = isArr ? v.length : keys.length;
  if (len === 0) return h("div", { class: "leaf" }, keyEl, h("span", { class: "p", text: isArr ? "[]" : "{}" }));
  var det = h("details", null, h("summary", null, keyEl, h("span", { class: "p", text: preview(v) })));
  var body = h("div");
  det.appendChild(body);
  var built = false;
  function build() {
    if (built) return;
    built = true;
    var limit = 500;
    for (var i = 0; i < len && i < limit; i++) body.appendChild(isArr ? jsonTree(v[i], i, depth + 1) : jsonTree(v[keys[i]], keys[i], depth + 1));
    if (len > limit) body.appendChild(h("div", { class: "faint", text: "… " + fmtInt(len - limit) + " more (see Raw)" }));
  }
  det.addEventListener("toggle", function () { if (det.open) build(); });
  if (depth < 3 && len <= 50) { det.open = true; build(); }
  return det;
}
function jsonBlock(v) {
  var wrap = h("div", { class: "json" });
  wrap.appendChild(jsonTree(v, null, 0));
  return wrap;
}
/** LLM inputs/outputs shaped as chat messages are shown as a conversation. */
function chatMessages(v) {
  var msgs = Array.isArray(v) ? v : v && typeof v === "object" && Array.isArray(v.messages) ? v.messages
    : v && typeof v === "object" && typeof v.role === "string" ? [v] : null;
  if (!msgs || !msgs.length) return null;
  for (var i = 0; i < msgs.length; i++) {
    var m = msgs[i];
    if (!m || typeof m !== "object" || typeof m.role !== "string") return null;
  }
  return msgs;
}
function chatBlock(msgs) {
  var box = h("div", { class: "chat" });
  msgs.forEach(function (m) {
    var content = typeof m.content === "string" ? m.content : jsonText(m.content, 2);
    var extra = m.tool_calls || m.toolCalls;
    box.appendChild(h("div", { class: "msg" },
      h("div", { class: "role", text: m.role + (m.name ? " · " + m.name : "") }),
      content != null && content !== "null" ? h("div", { class: "content", text: shorten(content, 20000) }) : null,
      extra ? jsonBlock(extra) : null));
  });
  return box;
}
function copyText(text, btn) {
  function done(ok) { if (btn) { btn.textContent = ok ? "Copied" : "Copy failed"; setTimeout(function () { btn.textContent = "Copy"; }, 1200); } }
  try {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback()); });
  } catch (_e) { done(fallback()); }
  function fallback() {
    var ta = h("textarea");
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (_e) { ok = false; }
    ta.remove();
    return ok;
  }
}
/** A value section with a JSON tree / chat / text switch and a copy button. */
function valueSection(title, v) {
  var msgs = chatMessages(v), mode = msgs ? "chat" : "tree";
  var body = h("div");
  var copy = h("button", { class: "btn", text: "Copy", onclick: function () { copyText(jsonText(v, 2), copy); } });
  var toggle = h("span", { class: "viewtoggle" });
  var modes = msgs ? ["chat", "tree", "text"] : ["tree", "text"];
  function draw() {
    clear(body);
    if (mode === "chat") body.appendChild(chatBlock(msgs));
    else if (mode === "tree") body.appendChild(jsonBlock(v));
    else body.appendChild(h("pre", { class: "json s", text: shorten(jsonText(v, 2), 500000) }));
    Array.prototype.forEach.call(toggle.children, function (b) { b.classList.toggle("on", b.textContent === mode); });
  }
  modes.forEach(function (m) { toggle.appendChild(h("button", { class: "btn", text: m, onclick: function () { mode = m; draw(); } })); });
  draw();
  return h("div", { class: "dsec" }, h("h4", null, title, toggle, copy), body);
}

/* ---------- structural diff of two JSON values ---------- */
function isPlain(o) { return o !== null && typeof o === "object" && !Array.isArray(o); }
function valueDiff(a, b, path, out, limit) {
  if (out.length >= limit) return out;
  if (a === b) return out;
  if (isPlain(a) && isPlain(b)) {
    var keys = Object.keys(a);
    Object.keys(b).forEach(function (k) { if (!(k in a)) keys.push(k); });
    for (var i = 0; i < keys.length; i++) {
      var k = keys[i], p = path + (/^[A-Za-z_$][\w$]*$/.test(k) ? (path ? "." : "") + k : "[" + JSON.stringify(k) + "]");
      if (!(k in b)) out.push({ op: "del", path: p, a: a[k] });
      else if (!(k in a)) out.push({ op: "add", path: p, b: b[k] });
      else valueDiff(a[k], b[k], p, out, limit);
      if (out.length >= limit) break;
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    var n = Math.max(a.length, b.length);
    for (var j = 0; j < n && out.length < limit; j++) {
      var q = path + "[" + j + "]";
      if (j >= a.length) out.push({ op: "add", path: q, b: b[j] });
      else if (j >= b.length) out.push({ op: "del", path: q, a: a[j] });
      else valueDiff(a[j], b[j], q, out, limit);
    }
    return out;
  }
  if (jsonText(a) !== jsonText(b)) out.push({ op: "chg", path: path || "(value)", a: a, b: b });
  return out;
}
function diffTable(changes, labelA, labelB) {
  if (!changes.length) return h("div", { class: "muted", text: "No change." });
  var tb = h("tbody");
  changes.forEach(function (c) {
    tb.appendChild(h("tr", { class: "d-" + c.op },
      h("td", { class: "wrap", text: c.path }),
      h("td", { class: "v1", text: c.op === "add" ? "" : shorten(jsonText(c.a), 400) }),
      h("td", { class: "v2", text: c.op === "del" ? "" : shorten(jsonText(c.b), 400) })));
  });
  return h("table", { class: "t diff" }, h("thead", null, h("tr", null, h("th", { text: "path" }), h("th", { text: labelA }), h("th", { text: labelB }))), tb);
}

/* ---------- steps: the state after each step is its output ---------- */
var stepInfo = null;
/** Steps grouped by parent (one loop), ordered by loom.step.index then start. */
function steps() {
  if (stepInfo) return stepInfo;
  var ix = A.ix, si = ix.pt.cols.step, groups = new Map(), prev = new Map(), list = [];
  for (var r = 0; r < ix.n; r++) {
    var i = ix.order[r];
    if (kindOf(ix, i) !== "step") continue;
    var p = ix.parent[i];
    if (!groups.has(p)) groups.set(p, []);
    groups.get(p).push(i);
  }
  groups.forEach(function (g) {
    g.sort(function (a, b) {
      var ia = si[a], ib = si[b];
      if (ia === ia && ib === ib && ia !== ib) return ia - ib;
      return ix.pt.cols.start[a] - ix.pt.cols.start[b] || a - b;
    });
    for (var k = 0; k < g.length; k++) { prev.set(g[k], k > 0 ? g[k - 1] : -1); list.push(g[k]); }
  });
  stepInfo = { prev: prev, list: list };
  return stepInfo;
}
/** Span i and the steps before it whose state it may be compared with (to load first). */
function stepNeighbours(i) {
  var out = [i], p = steps().prev.get(i);
  for (var k = 0; k < 3 && p !== undefined && p >= 0; k++) { out.push(p); p = steps().prev.get(p); }
  return out;
}
/**
 * The state before step i: the nearest earlier step's output (its state after); a step's own
 * input when there is no such step or it differs (e.g. a retried attempt that recorded none).
 * Steps whose detail chunk is not loaded count as having no output.
 */
function stateBefore(i) {
  var pt = A.ix.pt, s = fullSpan(pt, i) || {}, p = steps().prev.get(i), ps = null;
  while (p !== undefined && p >= 0) {
    ps = fullSpan(pt, p);
    if (ps && ps.output !== undefined) break;
    ps = null;
    p = steps().prev.get(p);
  }
  if (ps && (s.input === undefined || jsonText(s.input) === jsonText(ps.output))) {
    return { has: true, value: ps.output, from: p };
  }
  return { has: s.input !== undefined, value: s.input, from: -1 };
}

/* ---------- detail panel ---------- */
function kv(rows) {
  var g = h("div", { class: "kv" });
  rows.forEach(function (r) { if (r && r[1] != null && r[1] !== "") { g.appendChild(h("div", { text: r[0] })); g.appendChild(h("div", null, r[1])); } });
  return g;
}
function spanLink(i, label) {
  var s = spanAt(A.ix, i);
  return h("span", { class: "link", text: label || s.name, onclick: function () { select(i); } });
}
function renderDetail(i) {
  var host = clear($("detail"));
  if (i < 0) { host.appendChild(h("div", { class: "empty", text: "Select a span to see its inputs, outputs and timing." })); return; }
  var ix = A.ix, pt = ix.pt, light = spanAt(ix, i), m = A.metrics;
  var near = light.kind === "step" ? stepNeighbours(i) : [i];
  if (near.some(function (k) { return !detailOf(pt, k); })) {
    host.appendChild(h("div", { class: "empty", text: "Loading " + light.name + "…" }));
    needSpans(pt, near).then(function () { if (A.sel === i) renderDetail(i); });
    return;
  }
  var s = fullSpan(pt, i);
  var crumbs = h("div", { class: "crumbs" });
  var anc = ancestors(ix, i);
  anc.forEach(function (p, k) {
    // a long chain shows its two outermost and three innermost spans
    if (anc.length > 6 && k >= 2 && k < anc.length - 3) {
      if (k === 2) crumbs.appendChild(h("span", { class: "faint", text: " › … " + (anc.length - 5) + " more" }));
      return;
    }
    if (k) crumbs.appendChild(h("span", { class: "arrow", text: " › " }));
    crumbs.appendChild(spanLink(p));
  });
  host.appendChild(h("div", { class: "dsec" },
    h("div", { class: "dtitle" }, h("span", { class: "kb k-" + s.kind, text: s.kind }), h("span", { text: s.name }),
      h("span", { class: "status " + s.status, text: s.status })),
    crumbs));
  var total = ix.t1 - ix.t0;
  host.appendChild(h("div", { class: "dsec" }, h("h4", { text: "Timing" }), kv([
    ["total", s.duration == null ? "still open" : fmtMs(s.duration)],
    ["self", fmtMs(m.self[i]) + (s.duration ? " (" + fmtPct(m.self[i] / s.duration) + " of total)" : "")],
    ["starts at", "+" + fmtMs((s.startOffset || 0) - ix.t0) + (total > 0 ? " (" + fmtPct(((s.startOffset || 0) - ix.t0) / total) + " into the trace)" : "")],
    ["wall clock", fmtTime(s.startTime)],
    ["children", kidCount(ix, i) ? plural(kidCount(ix, i), "span") + " · " + plural(subtreeSize(ix, i) - 1, "descendant") : null],
    ["span id", s.id],
  ])));
  if (s.error || s.status === "error") {
    var err = s.error || { type: "Error", message: "(no error recorded)" };
    var from = attr(s, ATTR.propagatedFrom), fromI = from != null ? indexOfId(ix, String(from)) : -1;
    var rc = rootCauseOf(i);
    host.appendChild(h("div", { class: "dsec" }, h("h4", { text: "Error" }),
      h("div", { class: "errcard" },
        fromI >= 0 || (rc >= 0 && rc !== i)
          ? h("div", { class: "via" }, "Propagated from ", spanLink(rc >= 0 ? rc : fromI), " — counted once, at its root cause.")
          : h("div", null, h("span", { class: "label", text: "root cause" })),
        h("div", { class: "et", text: err.type }),
        h("div", { class: "em", text: err.message }),
        err.stack ? h("pre", { class: "stack", text: err.stack }) : null)));
  }
  // own usage, read the way summarize() reads it: llm spans only
  var ownCost = attr(s, ATTR.cost), cost = s.kind === "llm" && typeof ownCost === "number" ? ownCost : 0;
  var tok = s.kind === "llm" ? spanTokens(s) : { input: 0, output: 0, total: 0 }, usage = [];
  if (s.kind === "llm" || tok.total) {
    usage = [["model", spanModel(s)], ["input tokens", fmtInt(tok.input)], ["output tokens", fmtInt(tok.output)],
      ["cost", cost ? fmtCost(cost) : null]];
  } else if (m.subTokens[i]) {
    usage = [["tokens (subtree)", fmtInt(m.subTokens[i])], ["cost (subtree)", m.subCost[i] ? fmtCost(m.subCost[i]) : null]];
  }
  if (usage.length) host.appendChild(h("div", { class: "dsec" }, h("h4", { text: "LLM usage" }), kv(usage)));
  var ek = attr(s, ATTR.exitKind), el = attr(s, ATTR.exitLocation);
  if (ek || el) host.appendChild(h("div", { class: "dsec" }, h("h4", { text: "Loop exit taken" }), kv([["kind", ek], ["location", el]])));
  if (s.kind === "step") {
    var before = stateBefore(i);
    if (s.output !== undefined && before.has) {
      var ch = valueDiff(before.value, s.output, "", [], 300);
      host.appendChild(h("div", { class: "dsec" },
        h("h4", { text: "State change" + (before.from >= 0 ? " since " + spanAt(ix, before.from).name : " (input → output)") + " · " + plural(ch.length, "change") }),
        diffTable(ch, "before", "after")));
    }
  }
  if (s.input !== undefined) host.appendChild(valueSection("Input", s.input));
  if (s.output !== undefined) host.appendChild(valueSection(s.kind === "step" ? "Output (state after the step)" : "Output", s.output));
  var attrs = s.attributes || {}, ak = Object.keys(attrs).sort();
  if (ak.length) host.appendChild(h("div", { class: "dsec" }, h("h4", { text: "Attributes" }),
    kv(ak.map(function (k) { return [k, Array.isArray(attrs[k]) ? JSON.stringify(attrs[k]) : String(attrs[k])]; }))));
  if (s.tags && s.tags.length) {
    var tg = h("div", { class: "path" });
    s.tags.forEach(function (t) { tg.appendChild(h("span", { class: "tag link", text: t, onclick: function () { setQuery("tag:" + (/\s/.test(t) ? JSON.stringify(t) : t)); } })); });
    host.appendChild(h("div", { class: "dsec" }, h("h4", { text: "Tags" }), tg));
  }
  if (s.meta && Object.keys(s.meta).length) host.appendChild(valueSection("Metadata", s.meta));
  var cp = h("button", { class: "btn", id: "copydet", text: "Copy", onclick: function () { copyText(jsonText(s, 2), cp); } });
  host.appendChild(h("div", { class: "dsec" }, h("h4", null, "Span as JSON", cp)));
}
`;

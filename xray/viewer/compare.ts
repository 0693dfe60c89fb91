/**
 * Viewer script, part 8: the Diff tab, two traces side by side. Steps (or top-level spans) are
 * paired by step index, else by position; a pair whose name, status, state or output differs is
 * highlighted, and clicking it shows the value diff.
 *
 * @module
 */

/** Browser JavaScript: side-by-side comparison of two traces. */
export const COMPARE_JS: string = String.raw`
function pairSteps(ixA, ixB) {
  function lanes(ix) {
    return ganttLanes(ix).map(function (i) { var k = ix.pt.cols.step[i]; return { i: i, key: k === k ? k : null }; });
  }
  var a = lanes(ixA), b = lanes(ixB), pairs = [];
  var keyed = a.length && b.length && a.every(function (x) { return x.key !== null; }) && b.every(function (x) { return x.key !== null; });
  if (keyed) {
    var mb = new Map();
    b.forEach(function (x) { if (!mb.has(x.key)) mb.set(x.key, x.i); });
    var seen = new Set();
    a.forEach(function (x) { pairs.push({ key: x.key, a: x.i, b: mb.has(x.key) ? mb.get(x.key) : -1 }); seen.add(x.key); });
    b.forEach(function (x) { if (!seen.has(x.key)) pairs.push({ key: x.key, a: -1, b: x.i }); });
    pairs.sort(function (p, q) { return p.key - q.key; });
  } else {
    for (var k = 0; k < Math.max(a.length, b.length); k++) pairs.push({ key: k, a: k < a.length ? a[k].i : -1, b: k < b.length ? b[k].i : -1 });
  }
  pairs.forEach(function (p) {
    if (p.a < 0 || p.b < 0) { p.state = "onlyone"; return; }
    var sa = fullSpan(ixA.pt, p.a), sb = fullSpan(ixB.pt, p.b);
    p.state = sa.name !== sb.name || sa.status !== sb.status || jsonText(sa.output) !== jsonText(sb.output) ? "changed" : "same";
  });
  return pairs;
}
/** The recorder's own verdict (diffTraces): tool calls, arguments, outputs, errors, budgets. */
function changesBox(d) {
  var real = d.changes.filter(function (c) { return !c.ignored; });
  var b = box("Changes", d.ok ? "no failing change" : plural(d.failing, "failing change") + " of " + fmtInt(d.total) + " · timing is not compared");
  if (!real.length) { b.appendChild(noneLine("Same calls, arguments, outputs and errors.")); return b; }
  var tb = h("tbody");
  real.slice(0, 100).forEach(function (c) {
    tb.appendChild(h("tr", { class: c.change === "added" ? "d-add" : c.change === "removed" ? "d-del" : "d-chg" },
      h("td", { class: "wrap", text: c.locator + (c.field ? " · " + c.field : "") }),
      h("td", { text: c.change + (c.severity === "info" ? " (info)" : "") }),
      h("td", { class: "v1", text: "a" in c ? shorten(jsonText(c.a), 200) : "" }),
      h("td", { class: "v2", text: "b" in c ? shorten(jsonText(c.b), 200) : "" })));
  });
  b.appendChild(h("table", { class: "t diff" }, h("thead", null, h("tr", null, h("th", { text: "where" }), h("th", { class: "narrow", text: "change" }), h("th", { text: "A" }), h("th", { text: "B" }))), tb));
  if (real.length > 100) b.appendChild(noneLine("… " + fmtInt(real.length - 100) + " more"));
  return b;
}
function renderCompare(host) {
  clear(host);
  var api = { shown: function () {} };
  host.appendChild(h("div", { class: "empty", text: "Loading both traces…" }));
  // the comparison reads every step's output: both traces' detail chunks are loaded first
  Promise.all([loadAll(A.ix.pt), loadAll(DATA.compare)]).then(function () {
    clear(host);
    api.shown = drawCompare(host);
    api.shown();
  });
  return api;
}
function drawCompare(host) {
  var C = DATA.compare, ixA = A.ix, ixB = buildIndex(C), sa = A.sum.totals, sb = C.core.summary.totals;
  var pairs = pairSteps(ixA, ixB), changed = pairs.filter(function (p) { return p.state !== "same"; }).length;
  var top = h("div", { class: "pad" });
  top.style.flex = "none"; top.style.maxHeight = "48%"; top.style.overflow = "auto";
  host.appendChild(top);
  function delta(x, y, fmt) {
    var d = y - x;
    if (!d) return h("span", { class: "muted", text: "=" });
    return h("span", { class: d > 0 ? "delta-up" : "delta-down", text: (d > 0 ? "+" : "−") + fmt(Math.abs(d)) });
  }
  var rows = [["duration", sa.wallMs, sb.wallMs, fmtMs], ["steps", sa.byKind.step || 0, sb.byKind.step || 0, fmtInt],
    ["LLM calls", sa.llmCalls, sb.llmCalls, fmtInt], ["tool calls", sa.toolCalls, sb.toolCalls, fmtInt],
    ["tokens", sa.totalTokens, sb.totalTokens, fmtInt], ["cost", sa.costUsd, sb.costUsd, fmtCost], ["errors", sa.errors, sb.errors, fmtInt]];
  var tb = h("tbody");
  rows.forEach(function (r) { tb.appendChild(h("tr", null, h("td", { text: r[0] }), h("td", { class: "num", text: r[3](r[1]) }), h("td", { class: "num", text: r[3](r[2]) }), h("td", { class: "num" }, delta(r[1], r[2], r[3])))); });
  var b = box("Comparison", plural(changed, "step") + " differ of " + fmtInt(pairs.length));
  b.appendChild(h("table", { class: "t" }, h("thead", null, h("tr", null, h("th", { text: "" }), h("th", { class: "num", text: "A", title: ixA.core.name }),
    h("th", { class: "num", text: "B", title: ixB.core.name }), h("th", { class: "num", text: "B − A" }))), tb));
  top.appendChild(h("div", { class: "grid2" }, b, changesBox(C.core.diff)));
  var head = h("div", { class: "vhead cmp-grid" }, h("div", { text: "#" }), h("div", { text: "A · " + ixA.core.name }), h("div", { text: "B · " + ixB.core.name }));
  host.appendChild(head);
  var wrap = h("div", { class: "view" });
  host.appendChild(wrap);
  var detail = h("div", { class: "pad" });
  detail.style.flex = "none"; detail.style.maxHeight = "45%"; detail.style.overflow = "auto"; detail.style.borderTop = "1px solid var(--border)";
  host.appendChild(detail);
  detail.appendChild(h("div", { class: "muted", text: "Click a row to see what differs between A and B." }));
  var selPair = -1;
  function cell(ix, i) {
    if (i < 0) return h("div", { class: "cmp-cell muted", text: "(missing)" });
    var s = spanAt(ix, i);
    return h("div", { class: "cmp-cell" }, h("span", { class: "kb k-" + s.kind, text: s.kind }), h("span", { class: "name", text: s.name }),
      h("span", { class: "status " + s.status, text: s.status }), h("span", { class: "muted mono", text: fmtMs(s.duration) }));
  }
  var list = new VList(wrap, 26, function (r) {
    var p = pairs[r];
    var row = h("div", { class: "vrow cmp-grid" + (p.state === "changed" ? " changed" : p.state === "onlyone" ? " onlyone" : "") + (r === selPair ? " sel" : "") },
      h("div", { class: "num", text: String(p.key) }), cell(ixA, p.a), cell(ixB, p.b));
    row.style.height = "26px";
    row.addEventListener("click", function () { selPair = r; list.render(); showPair(p); });
    return row;
  });
  function showPair(p) {
    clear(detail);
    var a = p.a >= 0 ? fullSpan(ixA.pt, p.a) : null, bb = p.b >= 0 ? fullSpan(ixB.pt, p.b) : null;
    detail.appendChild(h("h3", { text: "Step " + p.key + ": " + (p.state === "same" ? "no difference" : p.state === "onlyone" ? "only in " + (a ? "A" : "B") : "differs") }));
    if (a && bb) {
      if (a.error || bb.error) detail.appendChild(kv([["error A", a.error ? a.error.type + ": " + a.error.message : "–"], ["error B", bb.error ? bb.error.type + ": " + bb.error.message : "–"]]));
      detail.appendChild(h("div", { class: "muted", text: "Output (state) A → B" }));
      detail.appendChild(diffTable(valueDiff(a.output, bb.output, "", [], 200), "A", "B"));
      if (jsonText(a.input) !== jsonText(bb.input)) {
        detail.appendChild(h("div", { class: "muted", text: "Input A → B" }));
        detail.appendChild(diffTable(valueDiff(a.input, bb.input, "", [], 200), "A", "B"));
      }
    } else detail.appendChild(jsonBlock((a || bb).output));
    if (a) select(p.a);
  }
  return function () { list.setCount(pairs.length); };
}
`;

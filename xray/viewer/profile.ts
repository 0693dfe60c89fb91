/**
 * Viewer script, part 9: the Profile tab (spans aggregated by name, kind, model or tool, like a
 * profiler: count, total and self time, p50/p95/max, errors, tokens, cost; sortable; a row
 * filters the span list) and the Flame tab (an icicle of the call tree merged by call path,
 * frames coloured by kind, click to zoom, a breadcrumb back, search highlight), drawn as SVG by
 * the page itself. The figures come from `summarize()`: nothing is counted in the browser.
 *
 * @module
 */

/** Browser JavaScript: Profile and Flame tabs. */
export const PROFILE_JS: string = String.raw`
var PROFILE_COLUMNS = [
  { key: "name", label: "group", num: false },
  { key: "count", label: "count", num: true, fmt: fmtInt },
  { key: "totalMs", label: "total", num: true, fmt: fmtMs, title: "wall time inside the group's spans; a span inside another of the same group is counted once" },
  { key: "selfMs", label: "self", num: true, fmt: fmtMs, title: "time in the spans themselves, not in their children" },
  { key: "p50Ms", label: "p50", num: true, fmt: fmtMs, title: "median duration of one span" },
  { key: "p95Ms", label: "p95", num: true, fmt: fmtMs },
  { key: "maxMs", label: "max", num: true, fmt: fmtMs },
  { key: "errors", label: "errors", num: true, fmt: fmtInt, title: "root-cause errors raised in these spans" },
  { key: "tokens", label: "tokens", num: true, fmt: fmtCompact, title: "input + output tokens of the group's LLM spans" },
  { key: "costUsd", label: "cost", num: true, fmt: fmtCost },
];
var PROFILE_GROUPINGS = [["byName", "Name"], ["byKind", "Kind"], ["byModel", "Model"], ["byTool", "Tool"]];
function renderProfile(host) {
  clear(host);
  var agg = A.sum.aggregates, by = "byName", sortKey = "selfMs", desc = true, MAX = 500;
  var bar = h("div", { class: "toolbar" }, h("span", { class: "muted", text: "Group by" }));
  var buttons = {};
  PROFILE_GROUPINGS.forEach(function (g) {
    buttons[g[0]] = h("button", { class: "btn", id: "profile-" + g[0], text: g[1], onclick: function () { by = g[0]; draw(); } });
    bar.appendChild(buttons[g[0]]);
  });
  bar.appendChild(h("span", { class: "info", text: "click a column to sort · click a row to see its spans" }));
  host.appendChild(bar);
  var pad = h("div", { class: "pad" });
  host.appendChild(pad);
  function value(r, key) { return key === "tokens" ? r.inputTokens + r.outputTokens : r[key]; }
  function draw() {
    PROFILE_GROUPINGS.forEach(function (g) { buttons[g[0]].classList.toggle("on", g[0] === by); });
    var rows = agg[by].rows.slice(), wall = A.sum.totals.wallMs || 1;
    rows.sort(function (a, b) {
      var x = value(a, sortKey), y = value(b, sortKey);
      var c = typeof x === "string" ? String(x).localeCompare(String(y)) : x - y;
      return desc ? -c : c;
    });
    var hr = h("tr");
    PROFILE_COLUMNS.forEach(function (c) {
      var on = c.key === sortKey;
      hr.appendChild(h("th", { class: (c.num ? "num " : "") + "sortable" + (on ? " sorted" : ""), "data-key": c.key, title: c.title || null,
        text: c.label + (on ? (desc ? " ▾" : " ▴") : ""),
        onclick: function () { if (sortKey === c.key) desc = !desc; else { sortKey = c.key; desc = c.num; } draw(); } }));
    });
    hr.appendChild(h("th", { class: "w20", text: "self share" }));
    var tb = h("tbody");
    rows.slice(0, MAX).forEach(function (r) {
      var tr = h("tr", { class: "click", onclick: function () { showAggregate(r); } });
      tr.appendChild(h("td", null, h("span", { class: "namecell" }, h("span", { class: "kb k-" + r.kind, text: r.kind }),
        h("span", { class: "name", text: shorten(groupLabel(r), 60), title: groupLabel(r) }))));
      PROFILE_COLUMNS.slice(1).forEach(function (c) {
        var v = value(r, c.key);
        tr.appendChild(h("td", { class: "num" + (c.key === "errors" && v ? " err-t" : ""), text: (c.key === "tokens" || c.key === "costUsd") && !v ? "" : c.fmt(v) }));
      });
      var share = h("div", { class: "hbar" }, h("div", { class: "self" }));
      share.firstChild.style.width = Math.min(100, r.selfMs / wall * 100) + "%";
      tr.appendChild(h("td", null, share));
      tb.appendChild(tr);
    });
    clear(pad);
    var b = pad.appendChild(box("Aggregates by " + by.slice(2).toLowerCase(), "like a profiler: every span counted once in its group"));
    b.appendChild(h("table", { class: "t profile", id: "profile-table" }, h("thead", null, hr), tb));
    var total = agg[by].rows.length + agg[by].more;
    b.appendChild(h("div", { class: "muted", text: plural(total, "group") + (total > MAX ? " · the first " + MAX + " in this order are shown" : "") +
      " · percentiles are of one span's duration; errors are counted once, at their root cause" }));
    if (!rows.length) b.appendChild(noneLine(by === "byModel" ? "No LLM calls." : by === "byTool" ? "No tool calls." : "No spans."));
  }
  draw();
  return {};
}

/* ---------- Flame tab: the call tree as an icicle ---------- */
function renderFlame(host) {
  clear(host);
  var nodes = A.sum.callTree, kids = nodes.map(function () { return []; }), tops = [], all = 0;
  nodes.forEach(function (n, k) { if (n.parent >= 0) kids[n.parent].push(k); else { tops.push(k); all += n.inclusiveMs; } });
  var focus = -1, query = "", ROW = 20;
  var crumbs = h("span", { class: "crumbs flame-crumbs", id: "flame-crumbs" });
  var search = h("input", { type: "search", id: "flame-search", placeholder: "Highlight frames…", autocomplete: "off" });
  var info = h("span", { class: "info", id: "flame-info" });
  host.appendChild(h("div", { class: "toolbar" },
    h("button", { class: "btn", id: "flame-reset", text: "Reset zoom", onclick: function () { zoom(-1); } }), crumbs,
    h("span", { class: "searchbox" }, search), info));
  var legend = h("div", { class: "legend flame-legend" });
  KINDS.forEach(function (k) { if (A.sum.totals.byKind[k]) legend.appendChild(h("span", null, h("i", { class: "b-" + k }), k)); });
  legend.appendChild(h("span", null, h("i", { class: "ferr-i" }), "has failed spans"));
  legend.appendChild(h("span", { class: "muted", text: "width = time in the frame and below (self times summed, so concurrent work adds up); the part with nothing beneath is self time" }));
  host.appendChild(legend);
  var wrap = h("div", { class: "flamewrap scroll" });
  host.appendChild(wrap);
  var el = $("graph-svg").cloneNode(false);
  el.removeAttribute("id");
  el.removeAttribute("class");
  el.setAttribute("id", "flame-svg");
  SVGNS = el.namespaceURI;
  wrap.appendChild(el);
  var hover = h("div", { class: "flame-hover muted", id: "flame-hover", text: "Click a frame to zoom into it; double-click to open its first span." });
  host.appendChild(hover);
  search.addEventListener("input", function () { query = search.value.trim().toLowerCase(); draw(); });
  function label(k) { return k < 0 ? "all" : groupLabel(nodes[k]); }
  function width(k) { return k < 0 ? all : nodes[k].inclusiveMs; }
  function describe(k) {
    if (k < 0) return "all · " + fmtMs(all) + " of work (" + plural(A.ix.n, "span") + ")";
    var n = nodes[k];
    return label(k) + " (" + n.kind + ") · " + plural(n.count, "span") + " · self " + fmtMs(n.selfMs) + " · frame " + fmtMs(n.inclusiveMs) +
      " (" + fmtPct(n.inclusiveMs / (all || 1)) + " of all)" + (n.errorSpans ? " · " + plural(n.errorSpans, "error span") : "");
  }
  function zoom(k) { focus = k; draw(); }
  function path(k) { var out = []; for (; k >= 0; k = nodes[k].parent) out.unshift(k); return out; }
  function matches(k) { return query && (nodes[k].kind + " " + label(k)).toLowerCase().indexOf(query) >= 0; }
  function frame(k, x, y, w, cls) {
    var g = svg("g", { class: "fl" + (cls ? " " + cls : ""), transform: "translate(" + x + "," + y + ")", "data-node": k });
    var kind = k < 0 ? "all" : nodes[k].kind;
    g.appendChild(svg("rect", { width: Math.max(w - 1, 0.5), height: ROW - 1, class: "b-" + kind + (k >= 0 && nodes[k].errorSpans ? " ferr" : "") }));
    if (w > 36) g.appendChild(svg("text", { x: 4, y: 14 }, shorten(label(k), Math.floor((w - 8) / 6.5))));
    g.appendChild(svg("title", {}, describe(k)));
    g.addEventListener("click", function (e) { e.stopPropagation(); zoom(k === focus && k >= 0 ? nodes[k].parent : k); });
    g.addEventListener("dblclick", function () { if (k >= 0 && nodes[k].i >= 0) select(nodes[k].i); });
    g.addEventListener("mouseenter", function () { hover.textContent = describe(k); });
    return g;
  }
  function draw() {
    clear(el);
    var W = Math.max(300, wrap.clientWidth - 2), chain = path(focus), hits = 0, hitMs = 0, drawn = 0, maxRow = 0;
    var layer = svg("g", {});
    el.appendChild(layer);
    // "all" and the focused frame's ancestors span the full width, above it
    [-1].concat(chain).forEach(function (k, row) {
      layer.appendChild(frame(k, 0, row * ROW, W, k === focus ? "focus" : "anc"));
      maxRow = row;
    });
    var base = chain.length; // row of the focus frame's children
    // under: a frame above matched already, so this one's time is part of that share
    function place(list, x, w, total, row, under) {
      var cx = x;
      list.forEach(function (k) {
        var kw = total > 0 ? w * nodes[k].inclusiveMs / total : 0;
        if (kw >= 0.5) {
          var m = matches(k);
          if (m) { hits++; if (!under) hitMs += nodes[k].inclusiveMs; }
          layer.appendChild(frame(k, cx, row * ROW, kw, query ? (m ? "hit" : "dim") : null));
          drawn++;
          if (row > maxRow) maxRow = row;
          place(kids[k], cx, kw, nodes[k].inclusiveMs, row + 1, under || m);
        }
        cx += kw;
      });
    }
    place(focus < 0 ? tops : kids[focus], 0, W, width(focus), base + 1, false);
    el.setAttribute("width", W);
    el.setAttribute("height", (maxRow + 1) * ROW + 4);
    el.setAttribute("viewBox", "0 0 " + W + " " + ((maxRow + 1) * ROW + 4));
    clear(crumbs);
    [-1].concat(chain).forEach(function (k, j) {
      if (j) crumbs.appendChild(h("span", { class: "arrow", text: " › " }));
      crumbs.appendChild(h("span", { class: k === focus ? "" : "link", text: shorten(label(k), 30), onclick: k === focus ? null : function () { zoom(k); } }));
    });
    info.textContent = (query ? plural(hits, "frame") + " match (" + fmtPct(hitMs / (width(focus) || 1)) + " of the view) · " : "") +
      plural(nodes.length, "frame") + " from " + plural(A.ix.n, "span");
    el.setAttribute("data-frames", String(drawn));
  }
  window.addEventListener("resize", function () { if (A.tab === "flame") draw(); });
  return { shown: draw };
}
`;

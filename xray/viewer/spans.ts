/**
 * Viewer script, part 3: selection, search and filters, and the span tree, waterfall and Gantt
 * views (all virtualised).
 *
 * @module
 */

/** Browser JavaScript: app state, search/filter, tree, waterfall timeline, Gantt. */
export const SPANS_JS: string = String.raw`
var A = {
  ix: null, sel: -1, tab: "overview", collapsed: null, query: "", kinds: {}, statuses: {},
  rows: [], mark: null, matchCount: 0, views: {}, onSelect: [], metrics: null, searchGen: 0,
};

/* ---------- search ---------- */
/** Text a free-text term is looked for in; needs the span's detail chunk. */
function searchHaystack(ix, i) {
  var cache = ix.n <= 200000;
  if (cache && !ix.searchText) ix.searchText = new Array(ix.n);
  var t = cache ? ix.searchText[i] : undefined;
  if (t !== undefined) return t;
  var s = fullSpan(ix.pt, i);
  if (!s) return "";
  var parts = [s.name, s.kind, s.status, s.id];
  if (Array.isArray(s.tags)) parts.push(s.tags.join(" "));
  if (s.meta && Object.keys(s.meta).length) parts.push(shorten(jsonText(s.meta), 20000));
  var a = s.attributes || {};
  for (var k in a) parts.push(k + "=" + (Array.isArray(a[k]) ? a[k].join(",") : a[k]));
  if (s.error) parts.push(s.error.type, s.error.message);
  if (s.input !== undefined) parts.push(shorten(jsonText(s.input), 20000));
  if (s.output !== undefined) parts.push(shorten(jsonText(s.output), 20000));
  t = parts.join("\n").toLowerCase();
  if (cache) ix.searchText[i] = t;
  return t;
}
/**
 * Parses "kind:llm tag:retry timeout" into field tests and free-text words (all must match). A
 * quoted field value (name:"step 1") must match exactly; an unquoted one is looked for inside.
 */
function parseQuery(q) {
  var out = [], re = /(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/g, m;
  while ((m = re.exec(q))) {
    if (m[1]) {
      var quoted = m[2].length > 1 && m[2].charAt(0) === '"' && m[2].charAt(m[2].length - 1) === '"';
      out.push({ field: m[1].toLowerCase(), value: m[2].replace(/^"|"$/g, "").toLowerCase(), exact: quoted });
    } else out.push({ field: null, value: (m[3] != null ? m[3] : m[4]).toLowerCase(), exact: false });
  }
  return out.filter(function (t) { return t.value !== ""; });
}
var COLUMN_FIELDS = { kind: 1, status: 1, name: 1, id: 1, tag: 1, model: 1, tool: 1, group: 1, node: 1 };
/** Whether a term needs the detail record (free text, meta, attribute=value). */
function needsDetail(t) { return !COLUMN_FIELDS[t.field]; }
function textIs(text, t) {
  text = String(text).toLowerCase();
  return t.exact ? text === t.value : text.indexOf(t.value) >= 0;
}
/** Lower-case names and group names by name index, computed once. */
function nameTables(ix) {
  if (!ix.lcNames) {
    ix.lcNames = ix.core.names.map(function (x) { return String(x).toLowerCase(); });
    ix.lcGroups = ix.core.names.map(function (x) { return groupName(x).toLowerCase(); });
  }
  return ix;
}
function matchesTerm(ix, i, t) {
  var s = spanAt(ix, i), c = ix.pt.cols;
  switch (t.field) {
    case "kind": return s.kind === t.value;
    case "status": return s.status === t.value;
    case "name": { var nm = nameTables(ix).lcNames[c.name[i]]; return t.exact ? nm === t.value : nm.indexOf(t.value) >= 0; }
    case "group": { var g = nameTables(ix).lcGroups[c.name[i]]; return t.exact ? g === t.value : g.indexOf(t.value) >= 0; }
    case "id": return textIs(s.id, t);
    case "tag": return s.tags.some(function (x) { return textIs(x, t); });
    case "model": return c.model[i] > 0 && textIs(ix.core.models[c.model[i] - 1], t);
    case "tool": return c.tool[i] > 0 && textIs(ix.core.names[c.tool[i] - 1], t);
    case "node": return String(c.node[i]) === t.value;
    case "meta": { var f = fullSpan(ix.pt, i); return !!f && textIs(jsonText(f.meta || {}), t); }
    case null: return searchHaystack(ix, i).indexOf(t.value) >= 0;
    default: return searchHaystack(ix, i).indexOf(t.field + ":" + t.value) >= 0 ||
      searchHaystack(ix, i).indexOf(t.field + "=" + t.value) >= 0;
  }
}
function filterActive() {
  if (A.query.trim()) return true;
  for (var k in A.kinds) if (!A.kinds[k]) return true;
  for (k in A.statuses) if (!A.statuses[k]) return true;
  return false;
}
/**
 * Recomputes the visible rows from collapse state, search and filters. A term that looks into
 * inputs, outputs or attributes first loads the detail chunks it needs (with a progress count),
 * so on a big trace the rows follow a moment later.
 */
function recomputeRows() {
  var ix = A.ix, gen = ++A.searchGen;
  if (!filterActive()) { showRows(unfilteredRows(), null, ix.n); return; }
  var terms = parseQuery(A.query);
  if (terms.some(needsDetail) && !allLoaded(ix.pt)) {
    var c = $("search-count");
    c.textContent = "searching… 0%";
    loadAll(ix.pt, function (f) { if (gen === A.searchGen) c.textContent = "searching… " + Math.round(f * 100) + "%"; })
      .then(function () { if (gen === A.searchGen) filterRows(terms); });
    return;
  }
  filterRows(terms);
}
function unfilteredRows() {
  var ix = A.ix, rows = [];
  for (var r = 0; r < ix.n; r++) {
    var i = ix.order[r];
    rows.push(i);
    if (A.collapsed[i] && kidCount(ix, i)) r += subtreeSize(ix, i) - 1;
  }
  return rows;
}
function filterRows(terms) {
  var ix = A.ix, n = ix.n, mark = new Uint8Array(n), count = 0, rows = [];
  for (var i = 0; i < n; i++) {
    if (A.kinds[kindOf(ix, i)] === false) continue;
    if (A.statuses[statusOf(ix, i)] === false) continue;
    var ok = true;
    for (var t = 0; t < terms.length && ok; t++) ok = matchesTerm(ix, i, terms[t]);
    if (!ok) continue;
    mark[i] = 1;
    count++;
    for (var p = ix.parent[i]; p >= 0 && !mark[p]; p = ix.parent[p]) mark[p] = 2;
  }
  for (var r = 0; r < n; r++) if (mark[ix.order[r]]) rows.push(ix.order[r]);
  showRows(rows, mark, count);
}
function showRows(rows, mark, count) {
  A.rows = rows;
  A.mark = mark;
  A.matchCount = count;
  $("search-count").textContent = mark ? fmtInt(count) + " / " + fmtInt(A.ix.n) : "";
  refreshLists();
}
var subtreeSizes = null;
function subtreeSize(ix, i) {
  if (!subtreeSizes) {
    subtreeSizes = new Int32Array(ix.n).fill(1);
    for (var r = ix.n - 1; r >= 0; r--) {
      var x = ix.order[r];
      if (ix.parent[x] >= 0) subtreeSizes[ix.parent[x]] += subtreeSizes[x];
    }
  }
  return subtreeSizes[i];
}
function refreshLists() {
  for (var k in A.views) if (A.views[k].refresh) A.views[k].refresh();
}
function setCollapsed(i, on) {
  if (!kidCount(A.ix, i)) return;
  A.collapsed[i] = on ? 1 : 0;
  recomputeRows();
}
function collapseAll(on) {
  var ix = A.ix;
  for (var i = 0; i < ix.n; i++) A.collapsed[i] = on && kidCount(ix, i) && ix.depth[i] >= 1 ? 1 : 0;
  recomputeRows();
}

/* ---------- selection ---------- */
function select(i, opts) {
  A.sel = i;
  for (var k = 0; k < A.onSelect.length; k++) A.onSelect[k](i, opts || {});
  if (i >= 0) {
    // Reveal a selected span hidden inside a collapsed parent.
    var hidden = false;
    for (var p = A.ix.parent[i]; p >= 0; p = A.ix.parent[p]) if (A.collapsed[p]) { A.collapsed[p] = 0; hidden = true; }
    if (hidden) recomputeRows(); else refreshLists();
    var row = A.rows.indexOf(i);
    if (row >= 0) for (var v in A.views) if (A.views[v].list) A.views[v].list.scrollToIndex(row);
    writeHash();
  }
}
function selectById(id) { var i = indexOfId(A.ix, id); if (i >= 0) select(i); }
function moveSelection(delta) {
  if (!A.rows.length) return;
  var r = A.rows.indexOf(A.sel);
  r = r < 0 ? 0 : Math.max(0, Math.min(A.rows.length - 1, r + delta));
  select(A.rows[r]);
}
function listKeys(e) {
  if (e.key === "ArrowDown" || e.key === "j") { moveSelection(1); e.preventDefault(); }
  else if (e.key === "ArrowUp" || e.key === "k") { moveSelection(-1); e.preventDefault(); }
  else if (e.key === "ArrowLeft" && A.sel >= 0) {
    if (kidCount(A.ix, A.sel) && !A.collapsed[A.sel]) setCollapsed(A.sel, true);
    else if (A.ix.parent[A.sel] >= 0) select(A.ix.parent[A.sel]);
    e.preventDefault();
  } else if (e.key === "ArrowRight" && A.sel >= 0) { setCollapsed(A.sel, false); e.preventDefault(); }
}

/* ---------- shared row pieces ---------- */
var MAX_INDENT = 8;
function rowClasses(i, base) {
  var s = spanAt(A.ix, i), c = base;
  if (i === A.sel) c += " sel";
  if (A.mark && A.mark[i] === 1 && A.query.trim()) c += " match";
  if (A.mark && A.mark[i] === 2) c += " ctx";
  if (isError(s)) c += " errrow";
  return c;
}
function nameCell(i, withToggle) {
  var ix = A.ix, s = spanAt(ix, i);
  var cell = h("div", { class: "namecell" });
  // Indentation stops at MAX_INDENT levels so deep trees keep their names visible.
  cell.style.paddingLeft = (8 + Math.min(ix.depth[i], MAX_INDENT) * 14) + "px";
  if (ix.depth[i] > MAX_INDENT) cell.appendChild(h("span", { class: "faint mono", text: "+" + (ix.depth[i] - MAX_INDENT), title: "depth " + ix.depth[i] }));
  if (withToggle) {
    var has = kidCount(ix, i) > 0;
    cell.appendChild(h("span", {
      class: "tog", text: has ? (A.collapsed[i] && !A.mark ? "▸" : "▾") : "",
      title: has ? plural(kidCount(ix, i), "child") : null,
      onclick: has ? function (e) { e.stopPropagation(); setCollapsed(i, !A.collapsed[i]); } : null,
    }));
  }
  cell.appendChild(h("span", { class: "kb k-" + s.kind, text: s.kind }));
  cell.appendChild(h("span", { class: "name", text: s.name, title: s.name }));
  if (isError(s)) cell.appendChild(h("span", { class: "errdot", title: s.error ? s.error.type + ": " + s.error.message : "error" }));
  if (s.duration == null) cell.appendChild(h("span", { class: "opendot", title: "still open when the trace was written" }));
  var tags = s.tags || [];
  for (var t = 0; t < tags.length && t < 3; t++) cell.appendChild(h("span", { class: "tag", text: tags[t] }));
  if (tags.length > 3) cell.appendChild(h("span", { class: "tag", text: "+" + (tags.length - 3) }));
  return cell;
}
function barEl(i, v0, v1, cls) {
  var ix = A.ix, s = spanAt(ix, i), span = Math.max(v1 - v0, 1e-9);
  var st = s.startOffset || 0, en = endOf(ix, i);
  var left = (st - v0) / span, width = (en - st) / span;
  var b = h("div", { class: "bar b-" + s.kind + (isError(s) ? " err" : "") + (s.duration == null ? " open" : "") + (cls || "") });
  b.style.left = (left * 100) + "%";
  b.style.width = "max(2px, " + (width * 100) + "%)";
  return { el: b, left: left, right: left + width };
}

/* ---------- Spans tab: tree + numbers + mini waterfall ---------- */
function makeTreeView(host) {
  clear(host);
  var head = h("div", { class: "vhead tree-grid" },
    h("div", { text: "Span" }), h("div", { class: "num", text: "Total", title: "wall time of the span including its children" }),
    h("div", { class: "num", text: "Self", title: "time not covered by any child span" }),
    h("div", { class: "num", text: "Tokens", title: "tokens of LLM spans in this subtree" }),
    h("div", { class: "num", text: "Cost", title: "cost of LLM spans in this subtree" }),
    h("div", { text: "Timeline" }));
  host.appendChild(head);
  var ix = A.ix;
  var list = new VList(host, 24, function (r) {
    var i = A.rows[r], s = spanAt(ix, i), m = A.metrics;
    var row = h("div", { class: rowClasses(i, "vrow tree-grid"), "data-span": s.id },
      nameCell(i, true),
      h("div", { class: "num", text: fmtMs(s.duration) }),
      h("div", { class: "num", text: fmtMs(m.self[i]) }),
      h("div", { class: "num", text: m.subTokens[i] ? fmtCompact(m.subTokens[i]) : "" }),
      h("div", { class: "num", text: m.subCost[i] ? fmtCost(m.subCost[i]) : "" }),
      h("div", { class: "track" }, barEl(i, ix.t0, ix.t1).el));
    row.addEventListener("click", function () { select(i); });
    row.addEventListener("dblclick", function () { setCollapsed(i, !A.collapsed[i]); });
    return row;
  });
  list.el.addEventListener("keydown", listKeys);
  return { list: list, refresh: function () { list.setCount(A.rows.length); } };
}

/* ---------- time axis ---------- */
var NAME_W = 320; // px; matches .tl-grid in the stylesheet
function niceStep(raw) {
  if (!(raw > 0)) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}
function drawAxis(axis, grid, v0, v1) {
  clear(axis); clear(grid);
  var span = v1 - v0, step = niceStep(span / 8);
  var first = Math.ceil((v0 - A.ix.t0) / step) * step + A.ix.t0;
  for (var t = first; t <= v1 + 1e-9 && step > 0; t += step) {
    var x = ((t - v0) / span * 100) + "%";
    var tick = h("div", { class: "tick", text: fmtMs(t - A.ix.t0) });
    tick.style.left = x;
    axis.appendChild(tick);
    var g = h("div");
    g.style.left = x;
    grid.appendChild(g);
  }
}

/* ---------- Timeline tab: waterfall with zoom ---------- */
function makeTimelineView(host) {
  clear(host);
  var ix = A.ix, v0 = ix.t0, v1 = ix.t1 > ix.t0 ? ix.t1 : ix.t0 + 1;
  var bar = h("div", { class: "toolbar" },
    h("button", { class: "btn", id: "zoomfit", text: "Fit", onclick: function () { setView(ix.t0, ix.t1 > ix.t0 ? ix.t1 : ix.t0 + 1); } }),
    h("button", { class: "btn", text: "Zoom in", onclick: function () { zoom(0.5); } }),
    h("button", { class: "btn", text: "Zoom out", onclick: function () { zoom(2); } }),
    h("span", { class: "muted", text: "Drag across the bars to zoom into a range." }),
    h("span", { class: "info", id: "tl-range" }));
  host.appendChild(bar);
  var axis = h("div", { class: "axis" });
  var head = h("div", { class: "vhead tl-grid" }, h("div", { text: "Span" }), axis);
  axis.style.borderBottom = "0";
  host.appendChild(head);
  var lane = processLane();
  if (lane) host.appendChild(lane.el);
  var wrap = h("div", { class: "view" });
  wrap.style.position = "relative";
  host.appendChild(wrap);
  var grid = h("div", { class: "gridlines" });
  var list = new VList(wrap, 24, function (r) {
    var i = A.rows[r], s = spanAt(ix, i);
    var track = h("div", { class: "track" });
    var b = barEl(i, v0, v1);
    track.appendChild(b.el);
    var lbl = h("span", { class: "bar-label", text: fmtMs(s.duration == null ? null : s.duration) + (s.duration == null ? " (open)" : "") });
    if (b.right < 0.85) lbl.style.left = "calc(" + (Math.max(b.right, 0) * 100) + "% + 5px)";
    else if (b.left > 0.12) lbl.style.right = "calc(" + ((1 - b.left) * 100) + "% + 5px)";
    else { lbl.style.left = "calc(" + (Math.max(b.left, 0) * 100) + "% + 5px)"; lbl.classList.add("inbar"); }
    track.appendChild(lbl);
    var row = h("div", { class: rowClasses(i, "vrow tl-grid"), "data-span": s.id }, nameCell(i, true), track);
    row.addEventListener("click", function () { select(i); });
    return row;
  });
  list.el.addEventListener("keydown", listKeys);
  // gridlines live in a layer under the (transparent) rows, aligned with the bar column
  var gridHost = h("div", { class: "gridlines" });
  wrap.insertBefore(gridHost, list.el);
  gridHost.appendChild(grid);
  var brush = h("div", { class: "brush hidden" });
  wrap.appendChild(brush);
  var drag = null;
  function trackBox() {
    var r = list.el.getBoundingClientRect();
    return { left: r.left + NAME_W, width: list.el.clientWidth - NAME_W, top: r.top };
  }
  list.el.addEventListener("mousedown", function (e) {
    var b = trackBox();
    if (e.clientX < b.left || e.button !== 0) return;
    drag = { x0: e.clientX, b: b };
    e.preventDefault();
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var a = Math.min(drag.x0, e.clientX), z = Math.max(drag.x0, e.clientX);
    var wr = wrap.getBoundingClientRect();
    brush.classList.remove("hidden");
    brush.style.left = (a - wr.left) + "px";
    brush.style.width = (z - a) + "px";
  });
  window.addEventListener("mouseup", function (e) {
    if (!drag) return;
    var d = drag;
    drag = null;
    brush.classList.add("hidden");
    if (Math.abs(e.clientX - d.x0) < 5) return;
    var f0 = (Math.min(d.x0, e.clientX) - d.b.left) / d.b.width, f1 = (Math.max(d.x0, e.clientX) - d.b.left) / d.b.width;
    f0 = Math.max(0, f0); f1 = Math.min(1, f1);
    setView(v0 + (v1 - v0) * f0, v0 + (v1 - v0) * f1);
  });
  function zoom(factor) {
    var mid = (v0 + v1) / 2, half = (v1 - v0) * factor / 2;
    setView(Math.max(ix.t0, mid - half), Math.min(Math.max(ix.t1, ix.t0 + 1), mid + half));
  }
  function setView(a, b) {
    if (!(b > a)) return;
    v0 = a; v1 = b;
    drawAxis(axis, grid, v0, v1);
    if (lane) lane.draw(v0, v1);
    $("tl-range").textContent = "showing " + fmtMs(v0 - ix.t0) + " – " + fmtMs(v1 - ix.t0) + " of " + fmtMs(ix.t1 - ix.t0);
    list.render();
  }
  function layoutAxis() {
    // keep the axis and gridlines aligned with the bar column of the (scrollbar-narrowed) list
    var sb = list.el.offsetWidth - list.el.clientWidth;
    head.style.paddingRight = sb + "px";
    if (lane) lane.el.style.paddingRight = sb + "px";
    gridHost.style.left = NAME_W + "px";
    gridHost.style.right = sb + "px";
  }
  window.addEventListener("resize", layoutAxis);
  return {
    list: list,
    refresh: function () { list.setCount(A.rows.length); },
    shown: function () { layoutAxis(); setView(v0, v1); },
  };
}

/* ---------- Gantt tab: one lane per step (or top-level span) ---------- */
function ganttLanes(ix) {
  var lanes = [];
  for (var i = 0; i < ix.n; i++) if (kindOf(ix, i) === "step") lanes.push(i);
  if (!lanes.length) {
    if (ix.roots.length === 1 && kidCount(ix, ix.roots[0])) lanes = kidsOf(ix, ix.roots[0]);
    else lanes = ix.roots.slice();
  }
  lanes.sort(function (a, b) { return ix.rowOf[a] - ix.rowOf[b]; });
  return lanes;
}
function makeGanttView(host) {
  clear(host);
  var ix = A.ix, lanes = ganttLanes(ix), v0 = ix.t0, v1 = ix.t1 > ix.t0 ? ix.t1 : ix.t0 + 1;
  var legend = h("div", { class: "legend" });
  KINDS.forEach(function (k) { legend.appendChild(h("span", null, h("i", { class: "b-" + k }), k)); });
  host.appendChild(h("div", { class: "toolbar" },
    h("span", { class: "muted", text: plural(lanes.length, "lane") + " · each lane is a " +
      (spanAt(ix, lanes[0]) && spanAt(ix, lanes[0]).kind === "step" ? "step" : "top-level span") + " with the spans inside it" }),
    h("span", { class: "info" }, legend)));
  var axis = h("div", { class: "axis" });
  var head = h("div", { class: "vhead tl-grid" }, h("div", { text: "Lane" }), axis);
  host.appendChild(head);
  var wrap = h("div", { class: "view" });
  host.appendChild(wrap);
  var list = new VList(wrap, 28, function (r) {
    var lane = lanes[r], s = spanAt(ix, lane), track = h("div", { class: "track" });
    var base = barEl(lane, v0, v1).el;
    base.style.opacity = "0.25";
    base.style.top = "4px"; base.style.height = "20px";
    base.title = s.name + " · " + fmtMs(s.duration);
    base.addEventListener("click", function (e) { e.stopPropagation(); select(lane); });
    track.appendChild(base);
    // descendants, nested ones drawn thinner on top; capped so a huge lane stays cheap
    var start = ix.rowOf[lane], end = start + subtreeSize(ix, lane), drawn = 0;
    for (var k = start + 1; k < end && drawn < 400; k++, drawn++) {
      var d = ix.order[k], rel = ix.depth[d] - ix.depth[lane];
      var b = barEl(d, v0, v1).el, hgt = Math.max(6, 18 - (rel - 1) * 4);
      b.style.top = (14 - hgt / 2) + "px";
      b.style.height = hgt + "px";
      b.title = spanAt(ix, d).kind + " · " + spanAt(ix, d).name + " · " + fmtMs(spanAt(ix, d).duration);
      (function (d) { b.addEventListener("click", function (e) { e.stopPropagation(); select(d); }); })(d);
      track.appendChild(b);
    }
    var row = h("div", { class: rowClasses(lane, "vrow tl-grid") }, nameCell(lane, false), track);
    row.style.height = "28px";
    row.addEventListener("click", function () { select(lane); });
    return row;
  });
  function layout() {
    head.style.paddingRight = (list.el.offsetWidth - list.el.clientWidth) + "px";
    drawAxis(axis, h("div"), v0, v1);
  }
  window.addEventListener("resize", layout);
  return { list: null, refresh: function () { list.render(); }, shown: function () { list.setCount(lanes.length); layout(); } };
}
`;

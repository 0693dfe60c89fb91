/**
 * Viewer script, part 6: the Graph tab, an SVG call graph drawn by the viewer itself (no
 * Graphviz, no CDN). Repeated calls are merged into one node with a count (`step #` ×120), and
 * the loop's exits hang off the node that took them: taken exits with their counts, exits found
 * in the source but never taken drawn dashed.
 *
 * @module
 */

/** Browser JavaScript: aggregated call graph with loop exits. */
export const GRAPH_JS: string = String.raw`
var SVGNS = null; // taken from the page's own <svg> element, so no namespace URL is spelled out
function svg(tag, attrs) {
  var el = document.createElementNS(SVGNS, tag);
  for (var k in attrs) if (attrs[k] != null) el.setAttribute(k, String(attrs[k]));
  for (var i = 2; i < arguments.length; i++) if (arguments[i]) el.appendChild(typeof arguments[i] === "object" ? arguments[i] : document.createTextNode(String(arguments[i])));
  return el;
}
/**
 * The call tree from summarize(): spans with the same parent node, kind and name (a trailing
 * counter read as #) are one node; each span's node is in the page's "node" column.
 */
function aggregate(ix) {
  var nodes = A.sum.callTree.map(function (n, id) {
    var exits = new Map();
    n.exits.forEach(function (e) { exits.set(e, true); });
    return { id: id, parent: n.parent, kind: n.kind, label: groupLabel(n), count: n.count, errors: n.errorSpans, ms: n.totalMs,
      first: n.i, kids: [], exits: exits, depth: n.depth };
  });
  nodes.forEach(function (n) { if (n.parent >= 0) nodes[n.parent].kids.push(n.id); });
  return { nodes: nodes, aggOf: ix.pt.cols.node };
}
function renderGraph(host) {
  clear(host);
  var ix = A.ix, ag = aggregate(ix), nodes = ag.nodes;
  var wrap = h("div", { class: "graphwrap" });
  var bar = h("div", { class: "toolbar" },
    h("button", { class: "btn", text: "Fit", onclick: function () { fit(); } }),
    h("span", { class: "muted", text: plural(nodes.length, "node") + " for " + plural(ix.n, "span") + " · repeated calls merged (×count) · scroll to zoom, drag to pan" }));
  host.appendChild(bar);
  host.appendChild(wrap);
  var el = $("graph-svg").cloneNode(false);
  el.removeAttribute("id");
  el.removeAttribute("class");
  SVGNS = el.namespaceURI;
  wrap.appendChild(el);
  var legend = h("div", { class: "graph-legend legend" });
  KINDS.forEach(function (k) { if (A.sum.totals.byKind[k]) legend.appendChild(h("span", null, h("i", { class: "b-" + k }), k)); });
  legend.appendChild(h("span", null, h("i", { class: "b-error" }), "error outline"));
  wrap.appendChild(legend);

  // Exits: attach each to the node whose spans took it; never-taken ones to the loop's node.
  var exitsAt = new Map(), loopNode = -1, best = 0;
  nodes.forEach(function (n) { if (n.exits.size > best) { best = n.exits.size; loopNode = n.id; } });
  (A.sum.exits || []).forEach(function (e) {
    var at = -1;
    nodes.forEach(function (n) { if (at < 0 && n.exits.has(e.kind + " " + e.location)) at = n.id; });
    if (at < 0) at = loopNode >= 0 ? loopNode : (nodes.length ? 0 : -1);
    if (at < 0) return;
    if (!exitsAt.has(at)) exitsAt.set(at, []);
    exitsAt.get(at).push(e);
  });

  // Layout: left to right by depth, leaves stacked top to bottom, parents centred on children.
  var NW = 210, NH = 42, XG = 70, YG = 14, EW = 250, EH = 24, MAXN = 3000;
  var y = 0, pos = new Array(nodes.length), g = svg("g", {}), drawn = 0;
  function place(id) {
    var n = nodes[id], ex = exitsAt.get(id) || [];
    if (drawn++ > MAXN) return null;
    var ys = [];
    n.kids.forEach(function (k) { var p = place(k); if (p) ys.push(p.y); });
    var exitYs = [];
    ex.forEach(function () { exitYs.push(y); y += EH + 8; });
    var cy;
    if (ys.length || exitYs.length) {
      var all = ys.concat(exitYs.map(function (v) { return v + EH / 2 - NH / 2; }));
      cy = (Math.min.apply(null, all) + Math.max.apply(null, all)) / 2;
    } else { cy = y; y += NH + YG; }
    pos[id] = { x: n.depth * (NW + XG), y: cy, exitYs: exitYs };
    return pos[id];
  }
  nodes.forEach(function (n) { if (n.parent < 0) { place(n.id); y += YG; } });
  var edges = svg("g", {}), boxes = svg("g", {});
  g.appendChild(edges); g.appendChild(boxes);
  var nodeEls = new Map();
  nodes.forEach(function (n) {
    var p = pos[n.id];
    if (!p) return;
    if (n.parent >= 0 && pos[n.parent]) {
      var q = pos[n.parent], x1 = q.x + NW, y1 = q.y + NH / 2, x2 = p.x, y2 = p.y + NH / 2, mx = (x1 + x2) / 2;
      edges.appendChild(svg("path", { class: "edge", d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2 }));
    }
    var ng = svg("g", { class: "gnode" + (n.errors ? " err" : ""), transform: "translate(" + p.x + "," + p.y + ")" });
    ng.appendChild(svg("rect", { width: NW, height: NH, rx: 6 }));
    ng.appendChild(svg("rect", { width: 5, height: NH - 2, x: 1, y: 1, rx: 2, class: "kbar kbar-" + n.kind }));
    ng.appendChild(svg("text", { x: 12, y: 17 }, shorten(n.label, 24)));
    if (n.count > 1) ng.appendChild(svg("text", { x: NW - 8, y: 17, "text-anchor": "end", class: "cnt" }, "×" + fmtInt(n.count)));
    ng.appendChild(svg("text", { x: 12, y: 33, class: "sub" }, n.kind + " · Σ " + fmtMs(n.ms) + (n.errors ? " · " + plural(n.errors, "error span") : "")));
    ng.appendChild(svg("title", {}, n.kind + " " + n.label + "\n" + plural(n.count, "span") + ", total " + fmtMs(n.ms) + " (sum over the merged spans)"));
    ng.addEventListener("click", function () { select(n.first); });
    boxes.appendChild(ng);
    nodeEls.set(n.id, ng);
    (exitsAt.get(n.id) || []).forEach(function (e, k) {
      var ey = p.exitYs[k], ex = p.x + NW + XG;
      edges.appendChild(svg("path", { class: "exit-edge", d: "M" + (p.x + NW) + "," + (p.y + NH / 2) + " C" + (ex - XG / 2) + "," + (p.y + NH / 2) + " " + (ex - XG / 2) + "," + (ey + EH / 2) + " " + ex + "," + (ey + EH / 2) }));
      var eg = svg("g", { class: "gexit" + (e.taken ? "" : " never"), transform: "translate(" + ex + "," + ey + ")" });
      eg.appendChild(svg("rect", { width: EW, height: EH, rx: 12 }));
      eg.appendChild(svg("text", { x: 10, y: 16 }, e.kind + " " + shorten(shortLocation(e.location), 26) + "  " + (e.taken ? "×" + fmtInt(e.count) : "never")));
      eg.appendChild(svg("title", {}, e.kind + " exit at " + e.location + (e.taken ? ", taken " + e.count + " times" : ", never taken") + (e.possible ? "" : " (not found in the source scan)")));
      boxes.appendChild(eg);
    });
  });
  el.appendChild(g);
  var W = 0, H = Math.max(y, NH);
  nodes.forEach(function (n) { var p = pos[n.id]; if (p) W = Math.max(W, p.x + NW + ((exitsAt.get(n.id) || []).length ? XG + EW : 0)); });
  var vb = { x: -20, y: -20, w: W + 40, h: H + 40 };
  function apply() { el.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h); }
  function fit() {
    var r = wrap.getBoundingClientRect(), aspect = (r.width || 800) / (r.height || 600);
    // never blow a small graph up past 1:1, so text keeps its real size
    var w = Math.max(W + 40, (r.width || 800)), hh = Math.max(H + 40, (r.height || 600));
    if (w / hh < aspect) w = hh * aspect; else hh = w / aspect;
    vb = { x: -20, y: -20, w: w, h: hh };
    apply();
  }
  el.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = el.getBoundingClientRect(), fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    var k = e.deltaY > 0 ? 1.15 : 1 / 1.15, nw = vb.w * k, nh = vb.h * k;
    vb = { x: vb.x + (vb.w - nw) * fx, y: vb.y + (vb.h - nh) * fy, w: nw, h: nh };
    apply();
  }, { passive: false });
  var pan = null;
  el.addEventListener("mousedown", function (e) { pan = { x: e.clientX, y: e.clientY, vb: vb }; });
  window.addEventListener("mousemove", function (e) {
    if (!pan) return;
    var r = el.getBoundingClientRect(), sx = pan.vb.w / r.width, sy = pan.vb.h / r.height;
    vb = { x: pan.vb.x - (e.clientX - pan.x) * sx, y: pan.vb.y - (e.clientY - pan.y) * sy, w: pan.vb.w, h: pan.vb.h };
    apply();
  });
  window.addEventListener("mouseup", function () { pan = null; });
  function mark(i) {
    nodeEls.forEach(function (e) { e.classList.remove("sel"); });
    if (i >= 0 && ag.aggOf[i] >= 0 && nodeEls.get(ag.aggOf[i])) nodeEls.get(ag.aggOf[i]).classList.add("sel");
  }
  A.onSelect.push(mark);
  mark(A.sel);
  return { shown: fit };
}
`;

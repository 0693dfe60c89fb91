/**
 * Viewer script, part 10: runs over time. The "Over time" tab draws per-step duration, tokens and
 * cost as strip charts over the run's steps (binned, so 100,000 steps fit the width: each bar is
 * the slowest step of its bin, the mark inside it the mean), with the processes that ran the
 * steps as bands underneath and each crash, resume, lease takeover, wait and wake-up as a line
 * across. The Timeline tab gets the same bands and markers on its time axis (`processLane`).
 * Bands and markers come from `summarize()` (`_summary_processes.ts`).
 *
 * @module
 */

/** Browser JavaScript: strip charts over steps, process bands and markers. */
export const RUNS_JS: string = String.raw`
var MARKS = {
  start: { glyph: "▶", label: "start" },
  crash: { glyph: "✕", label: "crash" },
  resume: { glyph: "↻", label: "resume" },
  "lease-takeover": { glyph: "⇄", label: "lease takeover" },
  wait: { glyph: "‖", label: "wait" },
  wake: { glyph: "▲", label: "wake-up" },
  pause: { glyph: "■", label: "pause" },
  fail: { glyph: "!", label: "failure" },
};
function markTitle(m) {
  return MARKS[m.kind].label + " · +" + fmtMs(m.atMs - A.ix.t0) + (m.afterStep != null ? " · after step " + m.afterStep : "") + "\n" + m.message;
}
function bandTitle(b) {
  return "process " + b.index + (b.owner ? " (" + b.owner + ")" : "") + " of run " + b.runId + "\n" +
    plural(b.steps, "step") + (b.firstStep != null ? " (" + b.firstStep + "–" + b.lastStep + ")" : "") + " · " + fmtMs(b.endMs - b.startMs) + " · ended: " + b.ended;
}
function bandLabel(b) { return "process " + b.index + (b.owner ? " · " + b.owner : ""); }
function markerEl(m, cls) {
  var el = h("span", { class: "pmark " + m.kind + (cls ? " " + cls : ""), title: markTitle(m), text: MARKS[m.kind].glyph });
  el.addEventListener("click", function (e) { e.stopPropagation(); if (m.i >= 0) select(m.i); });
  return el;
}
/** Places markers at x pixels, pushing one that would cover the previous one to its right. */
function placeMarks(track, list) {
  var W = track.clientWidth || parseFloat(track.style.width) || 600, last = -Infinity, GAP = 18;
  list.sort(function (a, b) { return a.x - b.x; });
  list.forEach(function (p) { p.x = Math.max(p.x, 9, last + GAP); last = p.x; });
  // and back from the right edge, so the last ones stay inside the track
  var limit = W - 9;
  for (var k = list.length - 1; k >= 0; k--) { list[k].x = Math.min(list[k].x, limit); limit = list[k].x - GAP; }
  list.forEach(function (p) {
    var mk = markerEl(p.m);
    mk.style.left = p.x + "px";
    track.appendChild(mk);
  });
}
function processesLabel(n) { return fmtInt(n) + (n === 1 ? " process" : " processes"); }
function marksLegend() {
  var lg = h("span", { class: "legend" });
  Object.keys(MARKS).forEach(function (k) {
    if (A.sum.processes.markers.some(function (m) { return m.kind === k; })) lg.appendChild(h("span", null, h("span", { class: "pmark " + k, text: MARKS[k].glyph }), MARKS[k].label));
  });
  return lg;
}

/** The processes row of the Timeline: bands and markers over [v0, v1]; null without runs. */
function processLane() {
  var pr = A.sum.processes;
  if (!pr.bands.length) return null;
  var track = h("div", { class: "track plane-track" });
  var el = h("div", { class: "vhead tl-grid plane", id: "process-lane" },
    h("div", { class: "plane-name", text: "Processes", title: processesLabel(pr.bands.length) + " advanced the run; markers show how each stopped and the next began" }), track);
  function draw(v0, v1) {
    clear(track);
    var span = Math.max(v1 - v0, 1e-9), W = track.clientWidth || 600, marks = [];
    function pct(t) { return Math.max(0, Math.min(1, (t - v0) / span)) * 100 + "%"; }
    pr.bands.forEach(function (b, k) {
      var next = pr.bands[k + 1];
      if (next && next.runId === b.runId && next.startMs > b.endMs && next.startMs >= v0 && b.endMs <= v1) {
        // nobody ran the run between one process's last work and the next one's start
        var gap = h("div", { class: "pgap", title: "no process ran run " + b.runId + " for " + fmtMs(next.startMs - b.endMs) + " (" + b.ended + " → resumed)" });
        gap.style.left = pct(b.endMs);
        gap.style.width = "calc(" + pct(next.startMs) + " - " + pct(b.endMs) + ")";
        track.appendChild(gap);
      }
      if (b.endMs < v0 || b.startMs > v1) return;
      var band = h("div", { class: "pband p" + (k % 4) + " end-" + b.ended, title: bandTitle(b) }, h("span", { text: bandLabel(b) }));
      band.style.left = pct(b.startMs);
      band.style.width = "max(3px, calc(" + pct(b.endMs) + " - " + pct(b.startMs) + "))";
      band.addEventListener("click", function () { if (b.run >= 0) select(b.run); });
      track.appendChild(band);
    });
    pr.markers.forEach(function (m) {
      var x = (m.atMs - v0) / span;
      if (x >= 0 && x <= 1) marks.push({ m: m, x: x * W });
    });
    placeMarks(track, marks);
  }
  return { el: el, draw: draw };
}

/** Position of each step in the list by "run span index:step index", for markers after a step. */
function stepPositions(list) {
  var ix = A.ix, si = ix.pt.cols.step, pos = new Map();
  list.forEach(function (i, k) {
    var p = ix.parent[i];
    if (p >= 0 && kindOf(ix, p) === "run" && si[i] === si[i]) pos.set(p + ":" + si[i], k);
  });
  return pos;
}
/** Bins values over the steps: per bin the max (and which step), the mean and the steps it covers. */
function binSteps(list, value, bins) {
  var out = [], per = list.length / bins;
  for (var b = 0; b < bins; b++) {
    var from = Math.floor(b * per), to = Math.max(from + 1, Math.floor((b + 1) * per)), max = -Infinity, arg = -1, sum = 0, n = 0;
    for (var k = from; k < to && k < list.length; k++) {
      var v = value(list[k]);
      if (!(v === v)) continue;
      sum += v; n++;
      if (v > max) { max = v; arg = list[k]; }
    }
    out.push({ from: from, to: to, max: n ? max : 0, mean: n ? sum / n : 0, arg: arg });
  }
  return out;
}
function stripChart(id, title, list, value, fmt, W, markers, positions) {
  var H = 64, bins = Math.max(1, Math.min(list.length, Math.floor(W / 3))), data = binSteps(list, value, bins);
  var top = 0;
  data.forEach(function (d) { if (d.max > top) top = d.max; });
  var box = h("div", { class: "strip", id: "strip-" + id });
  box.appendChild(h("div", { class: "strip-head" }, h("span", { class: "strip-title", text: title }),
    h("span", { class: "muted", text: top > 0 ? "max " + fmt(top) : "none recorded" })));
  var el = $("graph-svg").cloneNode(false);
  el.removeAttribute("id");
  el.removeAttribute("class");
  SVGNS = el.namespaceURI;
  el.setAttribute("width", W);
  el.setAttribute("height", H);
  el.setAttribute("viewBox", "0 0 " + W + " " + H);
  var bw = W / bins;
  data.forEach(function (d, b) {
    if (!(d.max > 0)) return;
    var hMax = Math.max(1, d.max / top * (H - 2)), hMean = Math.max(1, d.mean / top * (H - 2));
    var g = svg("g", { class: "sbin" });
    g.appendChild(svg("rect", { x: b * bw, y: H - hMax, width: Math.max(1, bw - (bw > 3 ? 1 : 0)), height: hMax, class: "smax" }));
    g.appendChild(svg("rect", { x: b * bw, y: H - hMean, width: Math.max(1, bw - (bw > 3 ? 1 : 0)), height: Math.min(2, hMean), class: "smean" }));
    var a = spanAt(A.ix, list[d.from]), z = spanAt(A.ix, list[Math.min(d.to, list.length) - 1]);
    g.appendChild(svg("title", {}, (d.to - d.from > 1 ? a.name + " – " + z.name : a.name) + "\n" + title + ": max " + fmt(d.max) + (d.to - d.from > 1 ? " · mean " + fmt(d.mean) : "")));
    g.addEventListener("click", function () { if (d.arg >= 0) select(d.arg); });
    el.appendChild(g);
  });
  markers.forEach(function (m) {
    var x = markerX(m, positions, list.length, W);
    if (x === null) return;
    el.appendChild(svg("line", { x1: x, x2: x, y1: 0, y2: H, class: "sline " + m.kind }));
  });
  if (top > 0) box.appendChild(el);
  return box;
}
/** x of a marker on the step axis: just after the step it follows (null when not placeable). */
function markerX(m, positions, count, W) {
  var b = A.sum.processes.bands[m.process];
  if (!b) return null;
  var k = m.afterStep == null ? -1 : positions.get(b.run + ":" + m.afterStep);
  if (k === undefined) return null;
  return Math.max(1, Math.min(W - 1, (k + 1) / count * W));
}
function renderOverTime(host) {
  clear(host);
  var pad = h("div", { class: "pad" }), ix = A.ix, c = ix.pt.cols, list = steps().list, pr = A.sum.processes;
  host.appendChild(pad);
  if (!list.length && !pr.bands.length) { pad.appendChild(h("div", { class: "empty", text: "No steps or runs in this trace." })); return {}; }
  function draw() {
    clear(pad);
    // the charts' width: the pad's, less a strip box's padding and border
    var W = Math.max(300, pad.clientWidth - 2 * 16 - 2 * 12 - 2), positions = stepPositions(list);
    var head = h("div", { class: "muted" }, plural(list.length, "step") + (list.length > W / 3 ? " · each bar is about " + fmtInt(Math.ceil(list.length / Math.floor(W / 3))) + " steps: its height the slowest (or largest), the line inside the mean" : "") +
      " · click a bar to open that step");
    pad.appendChild(head);
    if (pr.markers.length) pad.appendChild(h("div", { class: "strip-legend" }, marksLegend()));
    if (list.length) {
      pad.appendChild(stripChart("duration", "Duration per step", list, function (i) { return c.total[i]; }, fmtMs, W, pr.markers, positions));
      pad.appendChild(stripChart("tokens", "Tokens per step", list, function (i) { return c.tokens[i]; }, fmtCompact, W, pr.markers, positions));
      pad.appendChild(stripChart("cost", "Cost per step", list, function (i) { return c.cost[i]; }, fmtCost, W, pr.markers, positions));
    }
    if (list.length) {
      var axis = h("div", { class: "strip-axis muted" }, h("span", { text: "← " + spanAt(ix, list[0]).name }), h("span", { text: spanAt(ix, list[list.length - 1]).name + " →" }));
      axis.style.width = W + "px";
      pad.appendChild(axis);
    }
    if (pr.bands.length) pad.appendChild(processStrip(list, positions, W));
  }
  window.addEventListener("resize", function () { if (A.tab === "runs") draw(); });
  return { shown: draw };
}
/** The processes under the strip charts, on the same step axis, with the markers. */
function processStrip(list, positions, W) {
  var pr = A.sum.processes, box = h("div", { class: "strip", id: "strip-processes" });
  box.appendChild(h("div", { class: "strip-head" }, h("span", { class: "strip-title", text: "Processes" }),
    h("span", { class: "muted", text: processesLabel(pr.bands.length) + " · " + plural(pr.markers.length, "marker") })));
  var row = h("div", { class: "plane-steps" });
  row.style.width = W + "px";
  pr.bands.forEach(function (b, k) {
    var a = positions.get(b.run + ":" + b.firstStep), z = positions.get(b.run + ":" + b.lastStep);
    if (a === undefined || z === undefined || !list.length) return;
    var band = h("div", { class: "pband p" + (k % 4) + " end-" + b.ended, title: bandTitle(b) }, h("span", { text: bandLabel(b) + " · steps " + b.firstStep + "–" + b.lastStep }));
    band.style.left = a / list.length * 100 + "%";
    band.style.width = "max(3px, " + (z + 1 - a) / list.length * 100 + "%)";
    band.addEventListener("click", function () { if (b.run >= 0) select(b.run); });
    row.appendChild(band);
  });
  var marks = [];
  pr.markers.forEach(function (m) {
    var x = markerX(m, positions, list.length, W);
    if (x === null && m.afterStep == null) x = 1;
    if (x !== null) marks.push({ m: m, x: x });
  });
  placeMarks(row, marks);
  box.appendChild(row);
  var tb = h("tbody");
  pr.bands.forEach(function (b) {
    tb.appendChild(h("tr", { class: "click", onclick: function () { if (b.run >= 0) select(b.run); } },
      h("td", { text: "process " + b.index }), h("td", { class: "mono", text: b.owner || "–" }), h("td", { text: b.runId }),
      h("td", { class: "num", text: b.firstStep != null ? b.firstStep + "–" + b.lastStep : "–" }),
      h("td", { class: "num", text: fmtMs(b.endMs - b.startMs) }), h("td", { class: "ended end-" + b.ended, text: b.ended })));
  });
  box.appendChild(h("table", { class: "t", id: "process-table" }, h("thead", null, h("tr", null, h("th", { text: "process" }), h("th", { text: "lease owner" }),
    h("th", { text: "run" }), h("th", { class: "num", text: "steps" }), h("th", { class: "num", text: "active" }), h("th", { text: "ended" }))), tb));
  return box;
}
`;

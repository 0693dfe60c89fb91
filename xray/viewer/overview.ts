/**
 * Viewer script, part 5: the header totals, the Overview tab (critical path, self vs total time,
 * token-heavy spans, models, repeated calls, loop exits, depth, tags) and the Errors tab. All
 * figures come from `summarize()` (computed before embedding), so nothing is counted twice here.
 *
 * @module
 */

/** Browser JavaScript: totals cards, Overview and Errors tabs. */
export const OVERVIEW_JS: string = String.raw`
function card(label, value, sub, opts) {
  opts = opts || {};
  return h("div", { class: "card" + (opts.bad ? " bad" : "") + (opts.onclick ? " click" : ""), title: opts.title, onclick: opts.onclick },
    h("div", { class: "l", text: label }), h("div", { class: "v", text: value }), sub ? h("div", { class: "s", text: sub }) : null);
}
function renderCards(host, sum, trace) {
  var t = sum.totals, by = t.byKind || {};
  clear(host);
  add(host, [
    card("Duration", fmtMs(t.wallMs), "first start → last end", { title: "Never a sum of nested spans" }),
    card("Steps", fmtInt(by.step || 0), by.run ? plural(by.run, "run") : null),
    card("LLM calls", fmtInt(t.llmCalls), t.unpricedLlmCalls ? t.unpricedLlmCalls + " unpriced" : null),
    card("Tool calls", fmtInt(t.toolCalls), t.replayedToolCalls ? t.replayedToolCalls + " replayed" : null),
    card("Tokens", fmtCompact(t.totalTokens), fmtCompact(t.inputTokens) + " in · " + fmtCompact(t.outputTokens) + " out",
      { title: "Counted on llm spans only" + (t.cachedInputTokens ? "; " + fmtInt(t.cachedInputTokens) + " cached input" : "") }),
    t.llmCalls > 0 && t.unpricedLlmCalls === t.llmCalls
      ? card("Cost", "n/a", "no price known for these models")
      : card("Cost", fmtCost(t.costUsd), t.unpricedLlmCalls ? "excl. " + plural(t.unpricedLlmCalls, "unpriced call") : null),
    card("Errors", fmtInt(t.errors), sum.errors.errorSpans > t.errors ? plural(sum.errors.errorSpans, "span") + " failed" : null,
      { bad: t.errors > 0, onclick: t.errors > 0 ? function () { showTab("errors"); } : null, title: "Distinct errors, each counted once at its root cause" }),
    card("Spans", fmtInt(t.spans), "depth " + A.ix.maxDepth + (t.openSpans ? " · " + t.openSpans + " open" : "")),
    card("Redactions", fmtInt(trace.redactions || 0), null),
  ]);
}
function box(title, note) {
  var b = h("div", { class: "box" }, h("h3", null, title, note ? h("span", { class: "muted", text: note }) : null));
  return b;
}
function noneLine(text) { return h("div", { class: "muted", text: text }); }
function idxOf(id) { var i = A.ix.pos.get(id); return i === undefined ? -1 : i; }
function spanRowClick(id) { return function () { var i = idxOf(id); if (i >= 0) select(i); }; }

function renderOverview(host) {
  var sum = A.sum, ix = A.ix;
  clear(host);
  var pad = h("div", { class: "pad" });
  host.appendChild(pad);

  // Root cause first when the trace failed: it is what a reader came for.
  if (sum.errors.count > 0) {
    var rc = primaryRootCause(sum);
    var b0 = box("Root-cause error", sum.errors.count > 1 ? "1 of " + sum.errors.count + " distinct errors — see Errors" : null);
    b0.appendChild(errorCard(rc, true));
    pad.appendChild(b0);
  }

  // Critical path: a strip of what the trace waited on, then the spans that weigh most on it.
  var cp = sum.criticalPath, cpb = box("Critical path", fmtMs(cp.ms) + " of " + fmtMs(sum.totals.wallMs) + " wall time");
  var segs = pathSegments(cp);
  if (!segs.length) cpb.appendChild(noneLine("No spans."));
  else {
    var strip = h("div", { class: "cpstrip" });
    segs.forEach(function (sg) {
      if (!(sg.ms > cp.ms / 3000)) return; // slivers under a pixel would only cost DOM nodes
      var seg = h("div", { class: "b-" + sg.kind, title: sg.kind + " · " + sg.name + " · " + fmtMs(sg.ms), onclick: spanRowClick(sg.spanId) });
      seg.style.flex = sg.ms + " 0 0";
      strip.appendChild(seg);
    });
    cpb.appendChild(strip);
    var per = new Map();
    segs.forEach(function (sg) { var e = per.get(sg.spanId) || { spanId: sg.spanId, name: sg.name, kind: sg.kind, ms: 0, first: per.size }; e.ms += sg.ms; per.set(sg.spanId, e); });
    var top = Array.from(per.values()).sort(function (a, b) { return b.ms - a.ms; }).slice(0, 8).sort(function (a, b) { return a.first - b.first; });
    var path = h("div", { class: "path" });
    top.forEach(function (sg, k) {
      if (k) path.appendChild(h("span", { class: "arrow", text: "→" }));
      var i = idxOf(sg.spanId), err = i >= 0 && isError(ix.spans[i]);
      path.appendChild(h("span", { class: "pchip" + (err ? " err" : ""), onclick: spanRowClick(sg.spanId), title: fmtMs(sg.ms) + " of this span's own time is on the critical path" },
        h("span", { class: "kb k-" + sg.kind, text: sg.kind }), h("span", { text: shorten(sg.name, 40) }), h("span", { class: "muted", text: fmtMs(sg.ms) + " · " + fmtPct(sg.ms / (cp.ms || 1)) })));
    });
    cpb.appendChild(path);
    cpb.appendChild(h("div", { class: "muted", text: "Top " + top.length + " of " + plural(per.size, "span") + " on the path, in time order. Each millisecond of the path belongs to one span, so it never exceeds the wall time." }));
    cpb.lastChild.style.marginTop = "6px";
  }
  pad.appendChild(cpb);

  // Latency: self vs total
  var lat = box("Where the time went", "top 12 by self time · total includes children");
  var order = [];
  for (var i = 0; i < ix.n; i++) order.push(i);
  order.sort(function (a, b) { return A.metrics.self[b] - A.metrics.self[a]; });
  var wall = sum.totals.wallMs || 1, tb = h("tbody");
  order.slice(0, 12).forEach(function (i) {
    var s = ix.spans[i], m = A.metrics;
    var bar = h("div", { class: "hbar" }, h("div", { class: "total" }), h("div", { class: "self" }));
    bar.children[0].style.width = Math.min(100, m.total[i] / wall * 100) + "%";
    bar.children[1].style.width = Math.min(100, m.self[i] / wall * 100) + "%";
    tb.appendChild(h("tr", { class: "click", onclick: function () { select(i); } },
      h("td", null, h("span", { class: "namecell" }, h("span", { class: "kb k-" + s.kind, text: s.kind }), h("span", { class: "name", text: shorten(s.name, 50) }))),
      h("td", { class: "num", text: fmtMs(m.self[i]) }),
      h("td", { class: "num", text: fmtMs(m.total[i]) }),
      h("td", { class: "num", text: fmtPct(m.self[i] / wall) }),
      h("td", { class: "w35" }, bar)));
  });
  lat.appendChild(h("table", { class: "t" }, h("thead", null, h("tr", null, h("th", { text: "span" }), h("th", { class: "num", text: "self" }),
    h("th", { class: "num", text: "total" }), h("th", { class: "num", text: "self %" }), h("th", null, h("span", { class: "legend" },
      h("span", null, h("i", { class: "self-i" }), "self"), h("span", null, h("i", { class: "total-i" }), "total"))))), tb));
  pad.appendChild(lat);

  var g1 = h("div", { class: "grid2" });
  pad.appendChild(g1);
  // Token-heavy spans
  var tk = box("Token-heavy LLM calls", sum.tokenHeavy.length ? "top " + sum.tokenHeavy.length : null);
  if (!sum.tokenHeavy.length) tk.appendChild(noneLine("No LLM call reported tokens."));
  else tk.appendChild(table(["call", "model", "in", "out", "cost"], sum.tokenHeavy.map(function (t) {
    return { click: spanRowClick(t.spanId), cells: [shorten(t.name, 40), t.model, fmtInt(t.inputTokens), fmtInt(t.outputTokens), t.costUsd == null ? "–" : fmtCost(t.costUsd)] };
  }), [false, false, true, true, true]));
  g1.appendChild(tk);
  // Models
  var md = box("Models", sum.models.length ? plural(sum.models.length, "model") : null);
  if (!sum.models.length) md.appendChild(noneLine("No LLM calls."));
  else md.appendChild(table(["model", "provider", "calls", "tokens in / out", "cost"], sum.models.map(function (m) {
    return { click: function () { setQuery("model:" + m.model); showTab("spans"); }, cells: [m.model, m.provider || "–", fmtInt(m.calls),
      fmtInt(m.inputTokens) + " / " + fmtInt(m.outputTokens), m.costUsd == null ? "unpriced" : fmtCost(m.costUsd) + (m.unpricedCalls ? " (+" + m.unpricedCalls + " unpriced)" : "")] };
  }), [false, false, true, true, true]));
  g1.appendChild(md);
  // Repeated calls
  var rp = box("Repeated calls", "same tool + arguments, or same model + messages");
  if (!sum.repeatedCalls.length) rp.appendChild(noneLine("No call was made twice with the same input."));
  else rp.appendChild(table(["kind", "name", "times", "replayed"], sum.repeatedCalls.slice(0, 15).map(function (r) {
    return { click: spanRowClick(r.spanIds[0]), cells: [r.kind, r.name, "×" + r.count, r.kind === "tool" ? String(r.replayed) : "–"] };
  }), [false, false, true, true]));
  g1.appendChild(rp);
  // Loop exits
  g1.appendChild(exitsBox(sum, ix.trace));
  // Depth distribution
  var dd = box("Depth", "spans per nesting level"), counts = [];
  for (i = 0; i < ix.n; i++) counts[ix.depth[i]] = (counts[ix.depth[i]] || 0) + 1;
  var maxc = Math.max.apply(null, counts.concat([1])), dtb = h("tbody");
  counts.forEach(function (c, d) {
    var bar = h("div", { class: "hbar" }, h("div", { class: "self" }));
    bar.children[0].style.width = ((c || 0) / maxc * 100) + "%";
    dtb.appendChild(h("tr", null, h("td", { class: "mono", text: "depth " + d }), h("td", { class: "w60" }, bar), h("td", { class: "num", text: fmtInt(c || 0) })));
  });
  dd.appendChild(h("table", { class: "t" }, dtb));
  g1.appendChild(dd);
  // Kinds + tags
  var kt = box("Kinds and tags");
  var kp = h("div", { class: "path" });
  KINDS.forEach(function (k) {
    var c = sum.totals.byKind[k] || 0;
    if (c) kp.appendChild(h("span", { class: "chip", onclick: function () { setQuery("kind:" + k); showTab("spans"); } },
      h("span", { class: "kb k-" + k, text: k }), fmtInt(c)));
  });
  kt.appendChild(kp);
  if (sum.tags.length) {
    var tp = h("div", { class: "path" });
    tp.style.marginTop = "8px";
    sum.tags.slice(0, 30).forEach(function (t) {
      tp.appendChild(h("span", { class: "chip", onclick: function () { setQuery("tag:" + (/\s/.test(t.tag) ? JSON.stringify(t.tag) : t.tag)); showTab("spans"); } },
        h("span", { class: "tag", text: t.tag }), "×" + t.count));
    });
    kt.appendChild(tp);
  }
  var meta = ix.trace.meta || {}, mk = Object.keys(meta).filter(function (k) { return k !== "exits"; });
  if (mk.length) {
    kt.appendChild(h("div", { class: "muted", text: "Trace metadata" })).style.marginTop = "10px";
    kt.appendChild(kv(mk.slice(0, 20).map(function (k) { return [k, typeof meta[k] === "string" ? meta[k] : shorten(jsonText(meta[k]), 300)]; })));
  }
  g1.appendChild(kt);
}
/** The embedded path is compact (span indexes + ms); expand it for display. */
function pathSegments(cp) {
  return cp.spans.map(function (i, k) { var s = A.ix.spans[i]; return { spanId: s.id, name: s.name, kind: s.kind, ms: cp.segMs[k] }; });
}
function table(heads, rows, numeric) {
  var tb = h("tbody");
  rows.forEach(function (r) {
    var tr = h("tr", { class: r.click ? "click" : null, onclick: r.click });
    r.cells.forEach(function (c, k) { tr.appendChild(h("td", { class: numeric[k] ? "num" : "wrap", text: c })); });
    tb.appendChild(tr);
  });
  var hr = h("tr");
  heads.forEach(function (t, k) { hr.appendChild(h("th", { class: numeric[k] ? "num" : null, text: t })); });
  return h("table", { class: "t" }, h("thead", null, hr), tb);
}
function exitsBox(sum, trace) {
  var b = box("Loop exits", "taken vs possible in the source");
  var exits = sum.exits || [];
  if (!exits.length) { b.appendChild(noneLine("No loop exits recorded (not a loop run, or exits not scanned).")); return b; }
  var texts = {};
  (Array.isArray(trace.meta && trace.meta.exits) ? trace.meta.exits : []).forEach(function (e) { if (e && e.text) texts[e.location] = e.text; });
  var never = exits.filter(function (e) { return e.possible && !e.taken; }).length;
  if (never) b.querySelector("h3").appendChild(h("span", { class: "never", text: plural(never, "exit") + " never taken" }));
  var tb = h("tbody"), hasLoop = exits.some(function (x) { return x.loop; });
  var extraCol = hasLoop || exits.some(function (x) { return !x.possible; });
  exits.forEach(function (e) {
    tb.appendChild(h("tr", { class: e.taken ? "click" : null, onclick: e.taken ? function () { setQuery(ATTR.exitLocation + "=" + e.location); showTab("spans"); } : null },
      h("td", null, h("span", { class: "kb " + (e.kind === "return" ? "k-event" : "k-step"), text: e.kind })),
      h("td", { class: "mono wrap", text: shortLocation(e.location) + (texts[e.location] ? "  " + texts[e.location] : ""), title: e.location }),
      h("td", { class: "num " + (e.taken ? "" : "never"), text: e.taken ? "×" + fmtInt(e.count) : "never" }),
      extraCol ? h("td", { class: "muted", text: e.possible ? (e.loop || "") : "not found in source" }) : null));
  });
  b.appendChild(h("table", { class: "t" }, h("thead", null, h("tr", null, h("th", { text: "exit" }), h("th", { text: "location" }), h("th", { class: "num", text: "taken" }), extraCol ? h("th", { text: "loop" }) : null)), tb));
  return b;
}
function shortLocation(loc) {
  var m = /([^/\\]+:\d+:\d+)$/.exec(loc);
  return m ? m[1] : loc;
}

/* ---------- errors ---------- */
/** The error a reader should look at first: one the root did not survive, else the first. */
function primaryRootCause(sum) {
  var rcs = sum.errors.rootCauses;
  for (var k = 0; k < rcs.length; k++) if (!rcs[k].handled) return rcs[k];
  return rcs[0];
}
/** Root-cause span of an error span i, from the summary's propagation chains. */
var rootCauseIndex = null;
function rootCauseOf(i) {
  if (!rootCauseIndex) {
    rootCauseIndex = new Map();
    A.sum.errors.rootCauses.forEach(function (rc) {
      var r = idxOf(rc.spanId);
      rootCauseIndex.set(r, r);
      rc.propagatedThrough.forEach(function (id) { rootCauseIndex.set(idxOf(id), r); });
    });
  }
  var r = rootCauseIndex.get(i);
  return r === undefined ? -1 : r;
}
function errorCard(rc, primary) {
  var i = idxOf(rc.spanId), s = i >= 0 ? A.ix.spans[i] : null;
  var via = rc.propagatedThrough.map(function (id) { var j = idxOf(id); return j >= 0 ? A.ix.spans[j].name : id; });
  var card = h("div", { class: "errcard" + (rc.handled ? " handled" : "") },
    h("div", null,
      primary ? h("span", { class: "label", text: "root cause" }) : null,
      h("span", { class: "et", text: rc.type }),
      h("span", { class: "muted", text: "  in " }), i >= 0 ? spanLink(i) : h("span", { text: rc.spanId }),
      rc.handled ? h("span", { class: "muted", text: "  · handled (the run went on)" }) : null),
    h("div", { class: "em", text: rc.message }),
    h("div", { class: "via", text: "path: " + rc.path.join(" › ") }),
    via.length ? h("div", { class: "via", text: "propagated through " + plural(via.length, "span") + " (not counted again): " + via.join(" › ") }) : null,
    s && s.error && s.error.stack ? h("details", null, h("summary", { class: "via link", text: "stack" }), h("pre", { class: "stack", text: s.error.stack })) : null);
  return card;
}
function renderErrors(host) {
  var sum = A.sum;
  clear(host);
  var pad = h("div", { class: "pad" });
  host.appendChild(pad);
  if (!sum.errors.count) { pad.appendChild(h("div", { class: "empty", text: "No errors in this trace." })); return; }
  var first = primaryRootCause(sum);
  pad.appendChild(h("div", { class: "muted", text: plural(sum.errors.count, "distinct error") + " · " + plural(sum.errors.errorSpans, "span") +
    " ended in error (a propagated error is counted once, at the span where it was raised)." }));
  pad.lastChild.style.marginBottom = "10px";
  pad.appendChild(errorCard(first, true));
  sum.errors.rootCauses.forEach(function (rc) { if (rc !== first) pad.appendChild(errorCard(rc, false)); });
}
`;

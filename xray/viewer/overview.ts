/**
 * Viewer script, part 5: the header totals, the Overview tab (critical path, self vs total time,
 * token-heavy spans, models, repeated calls, loop exits, depth, tags) and the Errors tab. All
 * figures come from `summarize()` (computed before embedding), so nothing is counted twice here.
 *
 * @module
 */

/** Browser JavaScript: totals cards, Overview and Errors tabs. */
export const OVERVIEW_JS: string = String.raw`
/** A totals card; its text never overflows it (ellipsis), and the whole text is in its tooltip. */
function card(label, value, sub, opts) {
  opts = opts || {};
  var title = [label + ": " + value + (sub ? " (" + sub + ")" : ""), opts.title].filter(Boolean).join("\n");
  return h("div", { class: "card" + (opts.bad ? " bad" : "") + (opts.onclick ? " click" : ""), title: title, onclick: opts.onclick },
    h("div", { class: "l", text: label }), h("div", { class: "v", text: value }), sub ? h("div", { class: "s", text: sub }) : null);
}
function renderCards(host, sum, trace) {
  var t = sum.totals, by = t.byKind || {};
  clear(host);
  add(host, [
    card("Duration", fmtMs(t.wallMs), "first start → last end", { title: "Never a sum of nested spans" }),
    card("Steps", fmtInt(by.step || 0), by.run ? plural(by.run, "run") : null),
    card("LLM calls", fmtInt(t.llmCalls), t.unpricedLlmCalls ? fmtCompact(t.unpricedLlmCalls) + " unpriced" : null),
    card("Tool calls", fmtInt(t.toolCalls), t.replayedToolCalls ? fmtCompact(t.replayedToolCalls) + " replayed" : null),
    card("Tokens", fmtCompact(t.totalTokens), fmtCompact(t.inputTokens) + " in · " + fmtCompact(t.outputTokens) + " out",
      { title: "Counted on llm spans only" + (t.cachedInputTokens ? "; " + fmtInt(t.cachedInputTokens) + " cached input" : "") }),
    t.llmCalls > 0 && t.unpricedLlmCalls === t.llmCalls
      ? card("Cost", "n/a", "no known price", { title: "No price is known for these models" })
      : card("Cost", fmtCost(t.costUsd), t.unpricedLlmCalls ? "+" + fmtCompact(t.unpricedLlmCalls) + " unpriced" : null,
        { title: t.unpricedLlmCalls ? "Excludes " + plural(t.unpricedLlmCalls, "call") + " to models with no known price" : null }),
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
function spanRowClick(i) { return function () { if (i >= 0) select(i); }; }

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
  if (!cp.strip.length) cpb.appendChild(noneLine("No spans."));
  else {
    var strip = h("div", { class: "cpstrip" });
    cp.strip.forEach(function (sg) {
      var s = sg.i >= 0 ? spanAt(ix, sg.i) : null;
      var seg = h("div", { class: "b-" + sg.kind, title: sg.kind + (s ? " · " + s.name : "") + " · " + fmtMs(sg.ms), onclick: spanRowClick(sg.i) });
      seg.style.flex = sg.ms + " 0 0";
      strip.appendChild(seg);
    });
    cpb.appendChild(strip);
    // a long path is read by group (step # ×10,000), a short one span by span
    var grouped = cp.spans > 20, top = grouped ? cp.groups : cp.top;
    var path = h("div", { class: "path" });
    top.forEach(function (sg, k) {
      if (k) path.appendChild(h("span", { class: "arrow", text: "→" }));
      var i = sg.i, err = !grouped && i >= 0 && isError(spanAt(ix, i));
      var click = grouped && sg.count > 1 ? function () { setQuery("kind:" + sg.kind + " group:" + JSON.stringify(sg.name)); } : spanRowClick(i);
      path.appendChild(h("span", { class: "pchip" + (err ? " err" : ""), onclick: click,
        title: fmtMs(sg.ms) + (grouped ? " of these spans' own time is" : " of this span's own time is") + " on the critical path" },
        h("span", { class: "kb k-" + sg.kind, text: sg.kind }), h("span", { text: shorten(grouped ? groupLabel(sg) : sg.name, 40) }),
        grouped && sg.count > 1 ? h("span", { class: "muted", text: "×" + fmtInt(sg.count) }) : null,
        h("span", { class: "muted", text: fmtMs(sg.ms) + " · " + fmtPct(sg.ms / (cp.ms || 1)) })));
    });
    cpb.appendChild(path);
    cpb.appendChild(h("div", { class: "muted", text: "Top " + top.length + " of " + (grouped ? plural(cp.spans, "span") + ", by group," : plural(cp.spans, "span")) +
      " on the path, in time order. Each millisecond of the path belongs to one span, so it never exceeds the wall time." }));
    cpb.lastChild.style.marginTop = "6px";
  }
  pad.appendChild(cpb);

  pad.appendChild(timeBox(sum));

  var g1 = h("div", { class: "grid2" });
  pad.appendChild(g1);
  // Token-heavy spans
  var tk = box("Token-heavy LLM calls", sum.tokenHeavy.length ? "top " + sum.tokenHeavy.length : null);
  if (!sum.tokenHeavy.length) tk.appendChild(noneLine("No LLM call reported tokens."));
  else tk.appendChild(table(["call", "model", "in", "out", "cost"], sum.tokenHeavy.map(function (t) {
    return { click: spanRowClick(t.i), cells: [shorten(t.name, 40), t.model, fmtInt(t.inputTokens), fmtInt(t.outputTokens), t.costUsd == null ? "–" : fmtCost(t.costUsd)] };
  }), [false, false, true, true, true]));
  g1.appendChild(tk);
  // Models
  var md = box("Models", sum.models.length ? plural(sum.models.length, "model") : null);
  if (!sum.models.length) md.appendChild(noneLine("No LLM calls."));
  else md.appendChild(table(["model", "provider", "calls", "tokens in / out", "cost"], sum.models.map(function (m) {
    return { click: function () { setQuery("kind:llm model:" + JSON.stringify(m.model)); }, cells: [m.model, m.provider || "–", fmtInt(m.calls),
      fmtInt(m.inputTokens) + " / " + fmtInt(m.outputTokens), m.costUsd == null ? "unpriced" : fmtCost(m.costUsd) + (m.unpricedCalls ? " (+" + m.unpricedCalls + " unpriced)" : "")] };
  }), [false, false, true, true, true]));
  g1.appendChild(md);
  // Repeated calls: the same input, and the same tool or model whatever the input
  var rp = box("Repeated calls", "same tool + arguments or model + messages; and calls by name");
  if (!sum.repeatedCalls.length) rp.appendChild(noneLine("No call was made twice with the same input."));
  else rp.appendChild(table(["kind", "name", "same input", "replayed"], sum.repeatedCalls.slice(0, 10).map(function (r) {
    return { click: spanRowClick(r.i), cells: [r.kind, r.name, "×" + fmtInt(r.count), r.kind === "tool" ? fmtInt(r.replayed) : "–"] };
  }), [false, false, true, true]));
  if (sum.repeatedNames.length) {
    rp.appendChild(h("div", { class: "muted sub-h", text: "By name (any input)" }));
    rp.appendChild(table(["kind", "name", "calls", "distinct inputs"], sum.repeatedNames.slice(0, 10).map(function (r) {
      return { click: function () { setQuery(r.kind === "tool" ? "kind:tool tool:" + JSON.stringify(r.name) : "kind:llm model:" + JSON.stringify(r.name)); },
        cells: [r.kind, r.name, "×" + fmtInt(r.count), fmtInt(r.distinctInputs)] };
    }), [false, false, true, true]));
  }
  g1.appendChild(rp);
  // Loop exits
  g1.appendChild(exitsBox(sum, ix.core));
  // Depth distribution
  var dd = box("Depth", "spans per nesting level"), counts = [];
  for (var i = 0; i < ix.n; i++) counts[ix.depth[i]] = (counts[ix.depth[i]] || 0) + 1;
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
  var meta = ix.core.meta || {}, mk = Object.keys(meta).filter(function (k) { return k !== "exits"; });
  if (mk.length) {
    kt.appendChild(h("div", { class: "muted", text: "Trace metadata" })).style.marginTop = "10px";
    kt.appendChild(kv(mk.slice(0, 20).map(function (k) { return [k, typeof meta[k] === "string" ? meta[k] : shorten(jsonText(meta[k]), 300)]; })));
  }
  g1.appendChild(kt);
}
/**
 * "Where the time went": spans grouped by kind and name (a trailing counter read as #), so a
 * 10,000-step run shows "step #" once with its count; a group of one is the span itself.
 */
function timeBox(sum) {
  var rows = sum.aggregates.byName.rows, wall = sum.totals.wallMs || 1;
  var b = box("Where the time went", "top 12 groups by self time · total counts nested spans of a group once · click to see the spans");
  var tb = h("tbody");
  rows.slice(0, 12).forEach(function (r) {
    var bar = h("div", { class: "hbar" }, h("div", { class: "total" }), h("div", { class: "self" }));
    bar.children[0].style.width = Math.min(100, r.totalMs / wall * 100) + "%";
    bar.children[1].style.width = Math.min(100, r.selfMs / wall * 100) + "%";
    tb.appendChild(h("tr", { class: "click", onclick: function () { showAggregate(r); } },
      h("td", null, h("span", { class: "namecell" }, h("span", { class: "kb k-" + r.kind, text: r.kind }), h("span", { class: "name", text: shorten(groupLabel(r), 50) }),
        r.count > 1 ? h("span", { class: "muted", text: "×" + fmtInt(r.count) }) : null)),
      h("td", { class: "num", text: fmtMs(r.selfMs) }),
      h("td", { class: "num", text: fmtMs(r.totalMs) }),
      h("td", { class: "num", text: fmtPct(r.selfMs / wall) }),
      h("td", { class: "w35" }, bar)));
  });
  b.appendChild(h("table", { class: "t", id: "time-groups" }, h("thead", null, h("tr", null, h("th", { text: "spans" }), h("th", { class: "num", text: "self" }),
    h("th", { class: "num", text: "total" }), h("th", { class: "num", text: "self %" }), h("th", null, h("span", { class: "legend" },
      h("span", null, h("i", { class: "self-i" }), "self"), h("span", null, h("i", { class: "total-i" }), "total"))))), tb));
  if (rows.length > 12) b.appendChild(h("div", { class: "muted", text: plural(rows.length + sum.aggregates.byName.more, "group") + " in all — see Profile" }));
  return b;
}
/** The search that shows an aggregate row's spans. */
function aggregateQuery(r) {
  var q = JSON.stringify(r.name);
  if (r.by === "kind") return "kind:" + r.kind;
  if (r.by === "model") return "kind:llm model:" + q;
  if (r.by === "tool") return "kind:tool tool:" + q;
  return "kind:" + r.kind + " group:" + q;
}
/** Shows a group's spans: the span itself for a group of one, else the filtered span list. */
function showAggregate(r) {
  if (r.count === 1 && r.i >= 0) { select(r.i); showTab("spans"); return; }
  setQuery(aggregateQuery(r));
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
      rootCauseIndex.set(rc.i, rc.i);
      rc.via.forEach(function (j) { rootCauseIndex.set(j, rc.i); });
    });
  }
  var r = rootCauseIndex.get(i);
  return r === undefined ? -1 : r;
}
function errorCard(rc, primary) {
  var i = rc.i, s = i >= 0 ? detailOf(A.ix.pt, i) : null;
  var via = rc.via.map(function (j) { return j >= 0 ? spanAt(A.ix, j).name : "?"; });
  var card = h("div", { class: "errcard" + (rc.handled ? " handled" : "") },
    h("div", null,
      primary ? h("span", { class: "label", text: "root cause" }) : null,
      h("span", { class: "et", text: rc.type }),
      h("span", { class: "muted", text: "  in " }), i >= 0 ? spanLink(i) : h("span", { text: "?" }),
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
  var firstCard = pad.appendChild(errorCard(first, true));
  if (!detailOf(A.ix.pt, first.i)) needSpans(A.ix.pt, [first.i]).then(function () { pad.replaceChild(errorCard(first, true), firstCard); });
  var rest = sum.errors.rootCauses.filter(function (rc) { return rc !== first; }), shown = 0;
  var more = h("button", { class: "btn", onclick: page });
  function page() {
    var end = Math.min(rest.length, shown + 100), need = [];
    for (var k = shown; k < end; k++) need.push(rest[k].i);
    needSpans(A.ix.pt, need).then(function () {
      for (; shown < end; shown++) more.before(errorCard(rest[shown], false));
      more.textContent = "Show " + Math.min(100, rest.length - shown) + " more of " + fmtInt(rest.length - shown);
      more.classList.toggle("hidden", shown >= rest.length);
    });
  }
  pad.appendChild(more);
  if (sum.errors.count > sum.errors.rootCauses.length) {
    pad.appendChild(noneLine("The page keeps the first " + fmtInt(sum.errors.rootCauses.length) + " of " + fmtInt(sum.errors.count) + " errors; search status:error for all failed spans."));
  }
  page();
}
`;

/**
 * The viewer's script: the parts in `viewer/*.ts` plus the boot code (tabs, search box, filters,
 * deep links), joined into one strict-mode function so nothing leaks into the page's globals.
 *
 * @module
 */

import {
  LOOM_COST_USD,
  LOOM_ERROR_PROPAGATED_FROM,
  LOOM_EXIT_KIND,
  LOOM_EXIT_LOCATION,
} from "../attributes.ts";
import { embedJson } from "../escape.ts";
import { COMPARE_JS } from "./compare.ts";
import { CORE_JS } from "./core.ts";
import { DETAIL_JS } from "./detail.ts";
import { GRAPH_JS } from "./graph.ts";
import { OVERVIEW_JS } from "./overview.ts";
import { PROFILE_JS } from "./profile.ts";
import { RUNS_JS } from "./runs.ts";
import { SPANS_JS } from "./spans.ts";
import { STEPS_JS } from "./steps.ts";
import { VLIST_JS } from "./vlist.ts";

/** Attribute name carrying a runner step's index (set by `@loom/runner`). */
export const LOOM_STEP_INDEX = "loom.step.index";

/** Attribute names the viewer reads, passed in so they are spelled in one place only. */
const ATTR_NAMES = {
  cost: LOOM_COST_USD,
  propagatedFrom: LOOM_ERROR_PROPAGATED_FROM,
  exitKind: LOOM_EXIT_KIND,
  exitLocation: LOOM_EXIT_LOCATION,
  stepIndex: LOOM_STEP_INDEX,
};

const BOOT_JS = String.raw`
var TABS = [
  { id: "overview", label: "Overview", render: renderOverview, scroll: true },
  { id: "spans", label: "Spans", render: makeTreeView, filters: true },
  { id: "timeline", label: "Timeline", render: makeTimelineView, filters: true },
  { id: "profile", label: "Profile", render: renderProfile, scroll: true },
  { id: "flame", label: "Flame", render: renderFlame },
  { id: "runs", label: "Over time", render: renderOverTime, scroll: true },
  { id: "gantt", label: "Gantt", render: makeGanttView },
  { id: "graph", label: "Graph", render: renderGraph },
  { id: "errors", label: "Errors", render: renderErrors, scroll: true },
  { id: "state", label: "State", render: renderState, scroll: true },
  { id: "raw", label: "Raw JSON", render: renderRaw },
  { id: "diff", label: "Diff", render: renderCompare },
];
var viewEls = {}, filterBar = null;

/** Per-span figures from summarize(), as the page's columns (no copy). */
function metricsFrom(pt) {
  var c = pt.cols;
  return { self: c.self, total: c.total, subTokens: c.tokens, subCost: c.cost };
}
function setQuery(q) {
  $("search").value = q;
  A.query = q;
  recomputeRows();
  if (!TABS.some(function (t) { return t.id === A.tab && t.filters; })) showTab("spans");
}
function buildFilterBar() {
  var bar = h("div", { class: "toolbar" });
  KINDS.forEach(function (k) {
    var c = A.sum.totals.byKind[k] || 0;
    if (!c) return;
    A.kinds[k] = true;
    var chip = h("span", { class: "chip on", title: "show or hide " + k + " spans" }, h("span", { class: "kb k-" + k, text: k }), fmtInt(c));
    chip.addEventListener("click", function () { A.kinds[k] = !A.kinds[k]; chip.classList.toggle("on", A.kinds[k]); recomputeRows(); });
    bar.appendChild(chip);
  });
  bar.appendChild(h("span", { class: "sep" }));
  var counts = { ok: 0, error: 0, unset: 0 };
  for (var i = 0; i < A.ix.n; i++) { var st = statusOf(A.ix, i); counts[st] = (counts[st] || 0) + 1; }
  [["ok", "ok", "sdot-ok"], ["error", "error", "errdot"], ["unset", "open", "opendot"]].forEach(function (st) {
    if (!counts[st[0]]) return;
    A.statuses[st[0]] = true;
    var chip = h("span", { class: "chip on", id: "status-" + st[0], title: "show or hide spans with status " + st[0] }, h("span", { class: st[2] }), st[1] + " " + fmtInt(counts[st[0]]));
    chip.addEventListener("click", function () { A.statuses[st[0]] = !A.statuses[st[0]]; chip.classList.toggle("on", A.statuses[st[0]]); recomputeRows(); });
    bar.appendChild(chip);
  });
  bar.appendChild(h("span", { class: "sep" }));
  bar.appendChild(h("button", { class: "btn", text: "Expand all", onclick: function () { collapseAll(false); } }));
  bar.appendChild(h("button", { class: "btn", text: "Collapse", onclick: function () { collapseAll(true); } }));
  bar.appendChild(h("span", { class: "info", text: "↑↓ ←→ to move · / to search", title: "Search terms: plain words (all must match names, tags, metadata, attributes, errors, inputs and outputs) and field:value — kind:llm status:error tag:retry model:gpt name:step meta:user" }));
  return bar;
}
function showTab(id) {
  var tab = TABS.filter(function (t) { return t.id === id; })[0];
  if (!tab || !viewEls[id]) return;
  A.tab = id;
  TABS.forEach(function (t) {
    if (!viewEls[t.id]) return;
    viewEls[t.id].el.classList.toggle("hidden", t.id !== id);
    $("mode-" + t.id).classList.toggle("on", t.id === id);
  });
  var v = viewEls[id];
  if (tab.filters) v.el.insertBefore(filterBar, v.el.firstChild);
  if (!v.built) {
    v.built = true;
    var host = h("div", { class: tab.scroll ? "view scroll" : "view" });
    v.el.appendChild(host);
    var api = tab.render(host) || {};
    A.views[id] = api;
    if (api.refresh) api.refresh();
  }
  if (A.views[id].shown) A.views[id].shown();
  if (A.views[id].refresh) A.views[id].refresh();
  writeHash();
}
function writeHash() {
  var parts = ["tab=" + A.tab];
  if (A.sel >= 0) parts.push("span=" + encodeURIComponent(spanAt(A.ix, A.sel).id));
  try { history.replaceState(null, "", "#" + parts.join("&")); } catch (_e) { /* some file:// contexts refuse */ }
}
function readHash() {
  var out = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (p) { var kv = p.split("="); if (kv[0]) out[kv[0]] = decodeURIComponent(kv[1] || ""); });
  return out;
}
async function boot() {
  mark("xray:start");
  try {
    await loadData();
  } catch (e) {
    $("loading").textContent = "This page's data could not be read: " + (e && e.message ? e.message : String(e));
    document.body.setAttribute("data-error", "1");
    return;
  }
  mark("xray:decoded");
  var main = DATA.main;
  A.ix = buildIndex(main);
  mark("xray:indexed");
  A.sum = main.core.summary;
  A.metrics = metricsFrom(main);
  A.collapsed = new Uint8Array(A.ix.n);
  // a small trace gets every detail at once, so every view shows without waiting
  if (main.n <= EAGER_SPANS) await loadAll(main);
  var core = main.core;
  $("loading").remove();
  $("subtitle").textContent = [fmtTime(core.startTime), "trace " + String(core.traceId || "").slice(0, 12)].concat(
    core.meta && core.meta.runId ? ["run " + core.meta.runId] : []).join(" · ");
  renderCards($("cards"), A.sum, core);
  filterBar = buildFilterBar();
  var nav = $("tabs"), mainEl = $("main");
  TABS.forEach(function (t) {
    if (t.id === "diff" && !DATA.compare) return;
    if (t.id === "state" && !steps().list.length) return;
    if (t.id === "runs" && !steps().list.length && !A.sum.processes.bands.length) return;
    var b = h("button", { id: "mode-" + t.id, text: t.label, onclick: function () { showTab(t.id); } });
    if (t.id === "errors" && A.sum.errors.count) b.appendChild(h("span", { class: "badge bad", text: fmtCompact(A.sum.errors.count) }));
    if (t.id === "spans") b.appendChild(h("span", { class: "badge", text: fmtCompact(A.ix.n) }));
    nav.appendChild(b);
    var el = h("div", { class: "view hidden", id: "view-" + t.id });
    mainEl.appendChild(el);
    viewEls[t.id] = { el: el, built: false };
  });
  A.onSelect.push(function (i) { renderDetail(i); });
  var search = $("search"), timer = 0;
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { setQuery(search.value); }, A.ix.n > 2000 ? 180 : 60);
  });
  search.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { search.value = ""; setQuery(""); }
    if (e.key === "Enter" && A.rows.length) { clearTimeout(timer); setQuery(search.value); select(A.rows.filter(function (i) { return !A.mark || A.mark[i] === 1; })[0]); }
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target && e.target.tagName;
    if (e.key === "/" && t !== "INPUT" && t !== "TEXTAREA") { e.preventDefault(); search.focus(); search.select(); }
  });
  recomputeRows();
  renderDetail(-1);
  var hs = readHash();
  showTab(viewEls[hs.tab] ? hs.tab : "overview");
  if (hs.span) selectById(hs.span);
  else if (A.sum.errors.count) select(primaryRootCause(A.sum).i);
  else if (A.ix.roots.length) select(A.ix.roots[0]);
  mark("xray:ready");
  document.body.setAttribute("data-ready", "1");
}
/** A performance mark, so a profiler (or the bench) can see where loading spends its time. */
function mark(name) { try { performance.mark(name); } catch (_e) { /* marks are optional */ } }
boot();
`;

/** The whole viewer script, ready to be placed in one inline `<script>` element. */
export const VIEWER_JS: string = [
  "(function () {",
  '"use strict";',
  `var ATTR = ${embedJson(ATTR_NAMES)};`,
  CORE_JS,
  VLIST_JS,
  SPANS_JS,
  DETAIL_JS,
  OVERVIEW_JS,
  PROFILE_JS,
  RUNS_JS,
  GRAPH_JS,
  STEPS_JS,
  COMPARE_JS,
  BOOT_JS,
  "})();",
].join("\n");

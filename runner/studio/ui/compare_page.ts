/**
 * Studio script, part 5: the compare page. Two run ids (from `?a=&b=`; run b picked from the
 * runs of a's agent or typed), a summary table of both runs side by side with the rows that
 * differ marked, and xray's diff page of the two traces in a sandboxed iframe, opened on its
 * Diff tab.
 *
 * @module
 */

/** Browser JavaScript: the compare page. */
export const COMPARE_JS: string = String.raw`
function comparePage() {
  var params = new URLSearchParams(location.search);
  var a = params.get("a") || RUN_ID || "", b = params.get("b") || "";
  var main = $("#main");
  var aIn = h("input", { id: "cmp-a", value: a, required: true, class: "mono", "aria-label": "Run a", list: "cmp-runs" });
  var bIn = h("input", { id: "cmp-b", value: b, required: true, class: "mono", "aria-label": "Run b", list: "cmp-runs", placeholder: "pick or type a run id" });
  var list = h("datalist", { id: "cmp-runs" });
  var msg = h("div", { class: "field-error", role: "alert" });
  var summary = h("div", { id: "cmp-summary" });
  var frameBox = h("div", { id: "cmp-frame" });
  var form = h("form", { class: "row", id: "cmp-form" },
    h("label", null, "Run a", aIn), h("label", null, "Run b", bIn), list,
    h("button", { type: "submit", class: "primary", id: "cmp-go", text: "Compare" }));
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!aIn.value.trim() || !bIn.value.trim()) { msg.textContent = "Pick two runs to compare."; return; }
    a = aIn.value.trim(); b = bIn.value.trim();
    history.replaceState(null, "", location.pathname + "?" + new URLSearchParams({ a: a, b: b }));
    show();
  });
  fill(main,
    h("div", { class: "section-head" }, h("a", { href: url("/"), class: "small", text: "← Runs" })),
    h("div", { class: "section-head" }, h("h1", { text: "Compare two runs" })),
    h("section", { class: "panel" }, form, msg, summary),
    h("section", { class: "panel" }, h("h2", { text: "Trace diff" }), frameBox));

  async function suggest() {
    if (!a) return;
    try {
      var ra = await api(apiRun(a));
      var d = await api("/api/runs", { agent: ra.run.agentName, limit: 50 });
      fill(list, d.runs.filter(function (r) { return r.runId !== a; }).map(function (r) {
        return h("option", { value: r.runId, label: r.runId + " · " + r.status });
      }));
    } catch (_) { /* the summary below says what is wrong with run a */ }
  }
  async function show() {
    msg.textContent = "";
    if (!a || !b) {
      fill(summary, h("p", { class: "empty", text: "Pick run b: the runs of the same agent are suggested." }));
      clear(frameBox); document.body.setAttribute("data-ready", ""); suggest(); return;
    }
    var both = await Promise.all([a, b].map(function (id) { return api(apiRun(id)).catch(function (e) { return { error: e.message }; }); }));
    var bad = both.filter(function (x) { return x.error; });
    if (bad.length) { fill(summary, bad.map(function (x) { return h("div", { class: "banner error", text: x.error }); })); clear(frameBox); document.body.setAttribute("data-ready", ""); return; }
    fill(summary, summaryTable(both[0], both[1]));
    fill(frameBox, h("iframe", { class: "trace-frame", id: "cmp-trace", title: "xray diff of the two runs", sandbox: "allow-scripts", src: url("/compare/trace", { a: a, b: b }) + "#tab=diff" }));
    document.title = "Compare " + a + " and " + b + " · Loom Studio";
    document.body.setAttribute("data-ready", "");
    suggest();
  }
  show().catch(function (e) { notice("error", e.message); });
}
function summaryTable(da, db) {
  var ra = da.run, rb = db.run;
  function dur(r) { return r.endedAt ? fmtDuration(r.endedAt - r.createdAt) : "still " + r.status; }
  var rows = [
    ["Run", function (r) { return h("a", { href: runUrl(r.runId), class: "mono", text: r.runId }); }, function (r) { return r.runId; }],
    ["Status", function (r) { return badge(r.status); }, function (r) { return r.status; }],
    ["Agent", function (r) { return r.agentName; }],
    ["Last step", function (r) { return r.lastStep == null ? "none" : String(r.lastStep); }],
    ["Fork of", function (r) { return r.forkOfRunId ? r.forkOfRunId + " at step " + r.forkOfStep : "—"; }],
    ["Created", function (r) { return absTime(r.createdAt); }],
    ["Took", dur],
    ["Waiting", function (r) { return r.waiting ? sentence(r.waiting) : "—"; }],
    ["Error", function (r) { return r.error || "—"; }],
    ["Result", function (r) { return r.result == null ? "—" : shortJson(r.result, 120); }],
    ["Processes, events", function (r, d) { return plural((d.processes || []).length, "process", "processes") + " · " + plural((d.events || []).length, "history event"); }],
  ];
  var tb = h("tbody");
  rows.forEach(function (row) {
    var va = row[1](ra, da), vb = row[1](rb, db);
    var key = row[2] || row[1];
    var ka = key(ra, da), kb = key(rb, db);
    var same = typeof ka === "string" && ka === kb;
    var diff = row[0] !== "Run" && row[0] !== "Created" && !same;
    tb.appendChild(h("tr", { class: diff ? "differs" : null }, h("th", { scope: "row", text: row[0] }), h("td", null, va), h("td", null, vb),
      h("td", { class: "small muted", text: diff ? "differs" : "" })));
  });
  return h("table", { id: "cmp-table" }, h("thead", null, h("tr", null, h("th"), h("th", { text: "Run a" }), h("th", { text: "Run b" }), h("th"))), tb);
}
`;

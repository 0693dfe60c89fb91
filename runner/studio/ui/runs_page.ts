/**
 * Studio script, part 2: the runs page. A live list (the server's `runs` events update rows in
 * place and bring in new runs), filters by status (with counts), agent and text, children shown
 * under their parent on demand, and paging by offset/limit so 100,000 runs stay one page away.
 * The filters live in the address (`?status=&agent=&q=&offset=`), so a reload or a shared link
 * shows the same list.
 *
 * @module
 */

/** Browser JavaScript: the runs page. */
export const RUNS_JS: string = String.raw`
var LIMIT = 50;
function runsPage() {
  var params = new URLSearchParams(location.search);
  var f = { status: params.get("status") || "", agent: params.get("agent") || "", q: params.get("q") || "", offset: Math.max(0, Number(params.get("offset")) || 0) };
  var rowsById = new Map(); // runId -> <tr> of every row shown (top level and expanded children)
  var expanded = new Set();
  var last = null;
  var main = $("#main");
  var chips = h("div", { class: "filters", role: "group", "aria-label": "Filter by status" });
  var agentSel = h("select", { id: "f-agent", "aria-label": "Agent" });
  var qInput = h("input", { id: "f-q", type: "search", placeholder: "Run id or agent…", "aria-label": "Search runs", value: f.q });
  var body = h("tbody", { id: "runs-body" });
  var total = h("span", { class: "where", id: "runs-range" });
  var prev = h("button", { type: "button", id: "prev", text: "← Newer", onclick: function () { setF({ offset: Math.max(0, f.offset - LIMIT) }); } });
  var next = h("button", { type: "button", id: "next", text: "Older →", onclick: function () { setF({ offset: f.offset + LIMIT }); } });
  var qTimer = null;
  qInput.addEventListener("input", function () { clearTimeout(qTimer); qTimer = setTimeout(function () { setF({ q: qInput.value.trim(), offset: 0 }); }, 250); });
  agentSel.addEventListener("change", function () { setF({ agent: agentSel.value, offset: 0 }); });
  fill(main,
    h("div", { class: "section-head" }, h("h1", { text: "Runs" }), h("span", { class: "muted small", id: "runs-total" })),
    h("div", { class: "panel" },
      h("div", { class: "row" }, chips, h("span", { class: "spacer" }),
        h("label", null, "Agent", agentSel), h("label", null, "Search", qInput)),
      h("table", { id: "runs" },
        h("thead", null, h("tr", null, h("th", { text: "Run" }), h("th", { text: "Agent" }), h("th", { text: "Status" }),
          h("th", { class: "num", text: "Step" }), h("th", { text: "Waiting for / error" }), h("th", { text: "Updated" }), h("th", { text: "Created" }))),
        body),
      h("div", { class: "pager" }, prev, next, total)));

  function setF(change) {
    for (var k in change) f[k] = change[k];
    var q = new URLSearchParams();
    ["status", "agent", "q"].forEach(function (k) { if (f[k]) q.set(k, f[k]); });
    if (f.offset) q.set("offset", String(f.offset));
    history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
    reload();
  }
  // Chips and the agent list are updated in place, so keyboard focus stays where it was.
  function renderChips(data) {
    var all = 0;
    for (var s in data.counts) all += data.counts[s];
    var list = [{ s: "", label: "All", n: all }];
    STATUSES.forEach(function (s) { list.push({ s: s, label: s, n: data.counts[s] || 0 }); });
    if (!chips.firstChild) {
      list.forEach(function (c) {
        chips.appendChild(h("button", { type: "button", class: "chip", "data-status": c.s || "all",
          onclick: function () { setF({ status: c.s, offset: 0 }); } }, c.label, h("span", { class: "n" })));
      });
    }
    list.forEach(function (c) {
      var b = chips.querySelector('[data-status="' + (c.s || "all") + '"]');
      b.classList.toggle("zero", !c.n);
      b.setAttribute("aria-pressed", String(f.status === c.s));
      b.querySelector(".n").textContent = fmtInt(c.n);
    });
  }
  var agentKey = null;
  function renderAgents(data) {
    var keep = f.agent;
    var names = (data.agents || []).slice();
    if (keep && names.indexOf(keep) < 0) names.push(keep);
    if (names.join("\n") !== agentKey) {
      agentKey = names.join("\n");
      fill(agentSel, h("option", { value: "", text: "All agents" }), names.map(function (a) { return h("option", { value: a, text: a }); }));
    }
    agentSel.value = keep;
  }
  function fillRow(tr, r, depth) {
    tr.setAttribute("data-status", r.status);
    var idCell = h("td", { class: "id" });
    if (r.children > 0) {
      var open = expanded.has(r.runId);
      idCell.appendChild(h("button", { type: "button", class: "toggle", "aria-expanded": String(open),
        "aria-label": (open ? "Hide " : "Show ") + plural(r.children, "child run") + " of " + r.runId,
        text: open ? "▾" : "▸", onclick: function () { toggle(r, depth); } }));
    }
    idCell.appendChild(h("a", { href: runUrl(r.runId), class: "mono", text: r.runId }));
    if (r.children > 0) idCell.appendChild(h("span", { class: "muted small", text: " · " + plural(r.children, "child", "children") }));
    if (r.forkOfRunId) idCell.appendChild(h("div", { class: "muted small", text: "fork of " + r.forkOfRunId + " at step " + r.forkOfStep }));
    else if (r.parentRunId && depth === 0) idCell.appendChild(h("div", { class: "muted small", text: "child of " + r.parentRunId }));
    var why = r.waiting ? h("span", { class: "reason", text: sentence(r.waiting) }) : r.error ? h("span", { class: "err", text: r.error }) : "";
    fill(tr, idCell, h("td", { text: r.agentName }), h("td", null, badge(r.status)),
      h("td", { class: "num", text: r.lastStep == null ? "—" : r.lastStep }), h("td", null, why),
      h("td", null, timeEl(r.updatedAt)), h("td", null, timeEl(r.createdAt)));
  }
  function makeRow(r, depth) {
    var tr = h("tr", { "data-run-id": r.runId, class: depth ? "child d" + Math.min(depth, 3) : null });
    tr._row = r; tr._depth = depth;
    fillRow(tr, r, depth);
    rowsById.set(r.runId, tr);
    return tr;
  }
  async function toggle(r, depth) {
    if (expanded.has(r.runId)) { expanded.delete(r.runId); removeChildren(r.runId); fillRow(rowsById.get(r.runId), r, depth); return; }
    expanded.add(r.runId);
    fillRow(rowsById.get(r.runId), r, depth);
    await showChildren(r.runId, depth + 1);
    var t = rowsById.get(r.runId);
    if (t) { var b = t.querySelector(".toggle"); if (b) b.focus(); }
  }
  function removeChildren(id) {
    body.querySelectorAll('tr[data-parent="' + CSS.escape(id) + '"]').forEach(function (tr) {
      var cid = tr.getAttribute("data-run-id");
      removeChildren(cid); expanded.delete(cid); rowsById.delete(cid); tr.remove();
    });
  }
  async function showChildren(id, depth) {
    var data = await api("/api/runs", { parent: id, limit: 200 });
    var parentTr = rowsById.get(id);
    if (!parentTr || !expanded.has(id)) return;
    removeChildren(id);
    var after = parentTr;
    data.runs.forEach(function (c) {
      var tr = makeRow(c, depth);
      tr.setAttribute("data-parent", id);
      after.after(tr); after = tr;
    });
    if (data.total > data.runs.length) {
      var more = h("tr", { class: "child", "data-parent": id }, h("td", { colspan: 7, class: "muted small", text: (data.total - data.runs.length) + " more children: search for them by id" }));
      after.after(more);
    }
    for (var i = 0; i < data.runs.length; i++) if (expanded.has(data.runs[i].runId)) await showChildren(data.runs[i].runId, depth + 1);
  }
  async function load() {
    var data = await api("/api/runs", { status: f.status, agent: f.agent, q: f.q, offset: f.offset, limit: LIMIT });
    last = data;
    renderChips(data);
    renderAgents(data);
    var old = rowsById;
    rowsById = new Map();
    clear(body);
    if (!data.runs.length) body.appendChild(h("tr", null, h("td", { colspan: 7, class: "empty", text: f.status || f.agent || f.q ? "No run matches these filters." : "No runs yet. Start one and it appears here." })));
    data.runs.forEach(function (r) {
      var tr = makeRow(r, 0);
      var before = old.get(r.runId);
      if (before && before._row && (before._row.status !== r.status || before._row.lastStep !== r.lastStep)) tr.classList.add("flash");
      if (!before && old.size && f.offset === 0) tr.classList.add("flash");
      body.appendChild(tr);
    });
    for (var i = 0; i < data.runs.length; i++) if (expanded.has(data.runs[i].runId)) await showChildren(data.runs[i].runId, 1);
    var from = data.total ? f.offset + 1 : 0, to = f.offset + data.runs.length;
    total.textContent = fmtInt(from) + "–" + fmtInt(to) + " of " + fmtInt(data.total);
    $("#runs-total").textContent = fmtInt(data.total) + (f.status || f.agent || f.q ? " matching" : " in all");
    prev.disabled = f.offset === 0;
    next.disabled = f.offset + LIMIT >= data.total;
    document.body.setAttribute("data-ready", "");
  }
  var reload = coalesce(load, 300);
  onRunsChanged(function (changed) {
    if (changed === null) { reload(); return; }
    // A changed child shown under its parent is updated in place; anything else reloads the page
    // of rows (50 at most), which also brings new runs and fresh counts.
    var needReload = false;
    changed.forEach(function (r) {
      var tr = rowsById.get(r.runId);
      if (tr && tr.hasAttribute("data-parent")) {
        tr._row = r; fillRow(tr, r, tr._depth); tr.classList.remove("flash"); void tr.offsetWidth; tr.classList.add("flash");
      } else needReload = true;
    });
    if (needReload) reload();
  });
  setInterval(tickTimes, 15000);
  reload();
}
`;

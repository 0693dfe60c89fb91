/**
 * Studio script, part 3: the run page. The header (status, agent, the waiting reason in words,
 * the error), the steering panel (`steer.ts`), the xray viewer of the whole run in a sandboxed
 * iframe (reloaded when the run changes), the process history, and tabs for steps (with the
 * diff to the previous state, paged), calls, failed attempts, signals and history events.
 *
 * @module
 */

/** Browser JavaScript: the run page. */
export const RUN_JS: string = String.raw`
var STEP_LIMIT = 50;
function runPage() {
  var main = $("#main");
  var header = h("section", { class: "panel", id: "run-header", "aria-live": "polite" });
  var steer = h("section", { id: "steer" });
  var procs = h("section", { class: "panel", id: "processes" });
  var frame = h("iframe", { class: "trace-frame", id: "trace", title: "xray trace of the run", sandbox: "allow-scripts", src: url("/runs/" + encodeURIComponent(RUN_ID) + "/trace") });
  var liveBox = h("input", { type: "checkbox", id: "trace-live", checked: true });
  var tabsBox = h("section", { class: "panel", id: "details" });
  fill(main, h("div", { class: "run-top" }, header, steer),
    h("section", { class: "panel" },
      h("div", { class: "section-head" }, h("h2", { text: "Trace" }), h("span", { class: "spacer" }),
        h("label", { class: "row small" }, h("span", null, liveBox, " reload while the run changes")),
        h("button", { type: "button", text: "Reload", onclick: function () { reloadFrame(); } }),
        h("a", { href: url("/runs/" + encodeURIComponent(RUN_ID) + "/trace"), target: "_blank", rel: "noopener", class: "small", text: "Open full page ↗" })),
      frame),
    procs, tabsBox);
  var state = { data: null, tab: "steps", stepFrom: 0, firstStep: 0 };
  // The trace iframe reloads when the run changed; while it loads, further changes make one more
  // reload after it (at most one a second). data-state says "loading", "stale" or "loaded".
  var frameLoading = true, frameDirty = false;
  frame.setAttribute("data-state", "loading");
  function reloadFrame() {
    if (frameLoading) { frameDirty = true; frame.setAttribute("data-state", "stale"); return; }
    frameLoading = true;
    frame.setAttribute("data-state", "loading");
    frame.setAttribute("src", frame.getAttribute("src"));
  }
  frame.addEventListener("load", function () {
    frameLoading = false;
    if (!frameDirty) { frame.setAttribute("data-state", "loaded"); return; }
    frameDirty = false;
    frame.setAttribute("data-state", "stale");
    setTimeout(reloadFrame, 1000);
  });
  function frameReload() { if (liveBox.checked) reloadFrame(); }

  async function load() {
    var data;
    try { data = await api(apiRun(RUN_ID)); } catch (e) {
      if (e.status === 404) { fill(main, h("div", { class: "banner error", role: "alert", text: e.message }), h("a", { href: url("/"), text: "← All runs" })); document.body.setAttribute("data-ready", ""); return; }
      throw e;
    }
    var before = state.data && state.data.run;
    var changed = !before || before.updatedAt !== data.run.updatedAt || before.status !== data.run.status ||
      before.lastStep !== data.run.lastStep || (state.data.children || []).length !== (data.children || []).length;
    state.data = data;
    document.title = "Run " + data.run.runId + " · " + data.run.status + " · Loom Studio";
    renderSteer(steer, data, load);
    // Rebuild only what changed, so an open value or a half-typed step number stays put.
    if (changed) {
      renderHeader(header, data);
      renderProcesses(procs, data.processes || []);
      await renderTabUnlessTyping();
    }
    document.body.setAttribute("data-status", data.run.status);
    document.body.setAttribute("data-ready", "");
    if (before && changed) frameReload();
  }
  var reload = coalesce(load, 500);
  onRunsChanged(function (changed) {
    if (changed === null) { if (state.data) reload(); return; }
    if (changed.some(function (r) { return r.runId === RUN_ID || r.parentRunId === RUN_ID; })) reload();
  });

  var TABS = [
    { id: "steps", label: "Steps", render: renderSteps },
    { id: "calls", label: "Calls", render: renderCalls },
    { id: "attempts", label: "Failed attempts", render: renderAttempts },
    { id: "signals", label: "Signals", render: renderSignals },
    { id: "events", label: "History events", render: renderEvents },
  ];
  var tabBar = h("div", { class: "tabs", role: "tablist" });
  var tabBody = h("div", { role: "tabpanel", id: "tab-body" });
  TABS.forEach(function (t) {
    tabBar.appendChild(h("button", { type: "button", role: "tab", id: "tab-" + t.id, "aria-selected": String(state.tab === t.id),
      onclick: function () { state.tab = t.id; tabBar.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-selected", String(b.id === "tab-" + t.id)); }); renderTab(); } }, t.label));
  });
  fill(tabsBox, tabBar, tabBody);
  async function renderTab() {
    state.tabDirty = false;
    var t = TABS.filter(function (x) { return x.id === state.tab; })[0];
    var content = await t.render();
    // Keep keyboard focus on the same control (e.g. "Later →") across the rebuild.
    var a = document.activeElement;
    var focusId = a && a.id && tabBody.contains(a) ? a.id : null;
    fill(tabBody, content);
    var again = focusId && document.getElementById(focusId);
    if (again && !again.disabled) again.focus();
  }
  /** A live update waits while the user types in the tab (e.g. a step number), until they leave it. */
  function renderTabUnlessTyping() {
    var a = document.activeElement;
    if (a && tabBody.contains(a) && (a.tagName === "INPUT" || a.tagName === "TEXTAREA")) { state.tabDirty = true; return; }
    return renderTab();
  }
  tabBody.addEventListener("focusout", function (ev) {
    if (state.tabDirty && !tabBody.contains(ev.relatedTarget)) renderTab().catch(function (e) { notice("error", e.message); });
  });

  async function renderSteps() {
    var d = await api(apiRun(RUN_ID, "/steps"), { from: state.stepFrom, limit: STEP_LIMIT });
    var box = h("div", { id: "steps" });
    if (!d.steps.length && state.stepFrom > 0) {
      add(box, h("p", { class: "empty", text: "No step from step " + state.stepFrom + " on." }),
        h("button", { type: "button", text: "Show the first steps", onclick: function () { state.stepFrom = 0; renderTab(); } }));
      return box;
    }
    if (!d.steps.length) { box.appendChild(h("p", { class: "empty", text: "No step committed yet." })); return box; }
    var tb = h("tbody");
    d.steps.forEach(function (s) {
      tb.appendChild(h("tr", { "data-step": s.step },
        h("td", { class: "num", text: s.step }), h("td", { class: "num", text: s.attempt }),
        h("td", null, timeEl(s.startedAt)), h("td", { class: "num", text: fmtDuration(s.durationMs) }),
        h("td", null, diffList(s.diff, s.diffTruncated)),
        h("td", null, s.state === null || s.state === undefined ? h("span", { class: "muted small", text: "not kept" }) : s.stateOmitted ? omittedState(s) : jsonDetails(s.state)),
        h("td", null, steeringAllowed() ? h("button", { type: "button", class: "small", "data-fork-step": s.step, text: "Fork from step " + s.step, onclick: function () { openFork(state.data, s.step); } }) : "")));
    });
    var last = d.steps[d.steps.length - 1].step;
    var goTo = h("input", { type: "number", min: "0", id: "step-goto", "aria-label": "Go to step", placeholder: "step", class: "narrow" });
    var goForm = h("form", { class: "row" }, h("button", { type: "submit", text: "Go to step" }), goTo);
    goForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var n = Number(goTo.value);
      if (Number.isInteger(n) && n >= 0) { state.stepFrom = n; renderTab(); }
    });
    // "from" is a step number (the server starts at the run's first step when it is lower).
    if (state.stepFrom === 0) state.firstStep = d.steps[0].step;
    if (state.data && state.data.run.firstStep != null) state.firstStep = state.data.run.firstStep;
    var runLast = state.data && state.data.run.lastStep;
    var pager = h("div", { class: "pager" },
      h("button", { type: "button", id: "steps-earlier", text: "← Earlier", disabled: d.steps[0].step <= state.firstStep,
        onclick: function () { state.stepFrom = Math.max(0, d.steps[0].step - STEP_LIMIT); renderTab(); } }),
      h("button", { type: "button", id: "steps-later", text: "Later →", disabled: d.steps.length < STEP_LIMIT || (runLast != null && last >= runLast),
        onclick: function () { state.stepFrom = last + 1; renderTab(); } }),
      h("span", { class: "where", text: "steps " + d.steps[0].step + "–" + last + " · " + fmtInt(d.total) + " in all" }),
      h("span", { class: "spacer" }), goForm);
    add(box, pager, h("table", null, h("thead", null, h("tr", null, h("th", { class: "num", text: "Step" }), h("th", { class: "num", text: "Attempt" }),
      h("th", { text: "Started" }), h("th", { class: "num", text: "Took" }), h("th", { text: "Changes to the state" }), h("th", { text: "State after" }), h("th"))), tb));
    return box;
  }
  function renderCalls() {
    return api(apiRun(RUN_ID, "/calls")).then(function (d) {
      return table("calls", d.calls, ["Step", "Kind", "Name", "Status", "Attempts", "Arguments", "Result or error"], function (c) {
        return [c.step, c.kind, h("span", { class: "mono", text: c.name }), badge(c.status === "completed" ? "completed" : c.status === "failed" ? "failed" : "running", c.status === "started" ? "running" : null),
          c.attempts, c.args == null ? "—" : jsonDetails(c.args),
          c.error ? h("span", { class: "err", text: (c.errorCategory ? c.errorCategory + ": " : "") + c.error }) : c.result === undefined || c.result === null ? "—" : jsonDetails(c.result)];
      }, "No calls: this run made no tool call, signal wait, timer or child run.");
    });
  }
  function renderAttempts() {
    return api(apiRun(RUN_ID, "/failed-attempts")).then(function (d) {
      return table("failed-attempts", d.failedAttempts, ["Step", "Scope", "Attempt", "Category", "Error", "When", "Retry at"], function (a) {
        return [a.step, a.scope || "step", a.attempt, a.errorCategory, h("span", { class: "err", text: (a.errorType ? a.errorType + ": " : "") + a.error }), timeEl(a.startedAt), a.retryAt ? absTime(a.retryAt) : "—"];
      }, "No failed attempts.");
    });
  }
  function renderSignals() {
    return api(apiRun(RUN_ID, "/signals")).then(function (d) {
      return table("signals", d.signals, ["#", "Name", "Sent", "Data", "Consumed by", "Rejected"], function (s) {
        return [s.seq, h("span", { class: "mono", text: s.name }), timeEl(s.sentAt), jsonDetails(s.data), s.consumedBy || "—", s.rejected ? h("span", { class: "err", text: s.rejected }) : "—"];
      }, "No signals sent to this run.");
    });
  }
  function renderEvents() {
    var evs = (state.data && state.data.events) || [];
    return table("events", evs, ["#", "At", "Kind", "Message"], function (e) {
      return [e.seq, h("span", { title: absTime(e.at), text: absTime(e.at) }), h("span", { class: "mono", text: e.kind }), e.message];
    }, "No history events.");
  }
  setInterval(tickTimes, 15000);
  reload();
}

/** A table with one row per item; cells() returns the cells (nodes or text). */
function table(id, items, heads, cells, emptyText) {
  if (!items || !items.length) return h("p", { class: "empty", id: id, text: emptyText });
  var tb = h("tbody");
  items.forEach(function (it) { tb.appendChild(h("tr", null, cells(it).map(function (c) { return h("td", null, c == null ? "—" : c); }))); });
  return h("div", { class: "scroll" }, h("table", { id: id }, h("thead", null, h("tr", null, heads.map(function (x) { return h("th", { text: x }); }))), tb));
}
/** A state the steps API left out (over its size cap): a button that loads it whole. */
function omittedState(s) {
  var b = h("button", { type: "button", class: "small", "data-load-state": s.step, text: "state is " + fmtBytes(s.state.bytes) + " — load it" });
  b.onclick = async function () {
    b.disabled = true; b.textContent = "Loading the state…";
    try { b.replaceWith(jsonDetails(await api(apiRun(RUN_ID, "/steps/" + s.step + "/state")))); }
    catch (e) { b.disabled = false; b.textContent = "state is " + fmtBytes(s.state.bytes) + " — load it"; notice("error", e.message); }
  };
  return b;
}
function fmtBytes(n) {
  return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KB" : (n / 1048576).toFixed(1) + " MB";
}
function diffList(diff, truncated) {
  if (diff == null) return h("span", { class: "muted small", text: "—" });
  if (!diff.length) return h("span", { class: "muted small", text: "no change" });
  var ul = h("ul", { class: "diff" });
  diff.slice(0, 30).forEach(function (c) {
    var li = h("li", { class: c.op }, h("span", { class: "op", "aria-label": c.op, text: c.op === "add" ? "+" : c.op === "remove" ? "−" : "~" }), c.path || "(whole state)", " ");
    if (c.op !== "add") li.appendChild(h("span", { class: "before", text: shortJson(c.before, 60) }));
    if (c.op === "replace") li.appendChild(document.createTextNode(" → "));
    if (c.op !== "remove") li.appendChild(h("span", { class: "after", text: shortJson(c.after, 60) }));
    ul.appendChild(li);
  });
  if (diff.length > 30) ul.appendChild(h("li", { class: "muted", text: "… " + (diff.length - 30) + (truncated ? " more changes, and more not listed" : " more changes") }));
  else if (truncated) ul.appendChild(h("li", { class: "muted", text: "… more changes not listed" }));
  return ul;
}
function renderHeader(el, data) {
  var r = data.run;
  var facts = h("dl", { class: "facts" });
  function fact(k, v, wide) { if (v == null || v === "") return; facts.appendChild(h("div", { class: wide ? "wide" : null }, h("dt", { text: k }), h("dd", null, v))); }
  fact("Agent", h("span", { id: "run-agent", text: r.agentName }));
  fact("Last step", r.lastStep == null ? "none yet" : String(r.lastStep));
  fact("Created", timeEl(r.createdAt));
  fact("Updated", timeEl(r.updatedAt));
  if (r.endedAt) fact("Ended", timeEl(r.endedAt));
  if (r.parentRunId) fact("Parent", h("a", { href: runUrl(r.parentRunId), class: "mono", text: r.parentRunId }));
  if (r.forkOfRunId) fact("Fork of", h("span", null, h("a", { href: runUrl(r.forkOfRunId), class: "mono", text: r.forkOfRunId }), " at step " + r.forkOfStep + " · ",
    h("a", { href: url("/compare", { a: r.forkOfRunId, b: r.runId }), text: "compare" })));
  if (data.children && data.children.length) {
    fact("Children", h("span", null, data.children.slice(0, 20).map(function (c, i) { return [i ? ", " : "", h("a", { href: runUrl(c.runId), class: "mono", text: c.runId }), " ", badge(c.status)]; }),
      data.children.length > 20 ? " … " + (data.children.length - 20) + " more" : ""));
  }
  if (r.leaseOwner) fact("Lease", h("span", { class: "mono", text: r.leaseOwner + (r.leaseExpires ? " until " + absTime(r.leaseExpires) : "") }));
  if (r.input !== undefined && r.input !== null) fact("Input", jsonDetails(r.input), true);
  if (r.result !== undefined && r.result !== null) fact("Result", jsonDetails(r.result), true);
  fill(el,
    h("div", { class: "header-line" }, h("a", { href: url("/"), class: "small", text: "← Runs" })),
    h("div", { class: "header-line" }, h("h1", null, "Run ", h("span", { class: "mono", id: "run-id", text: r.runId })), h("span", { id: "run-status" }, badge(r.status)),
      h("span", { class: "spacer" }), h("a", { href: url("/compare", { a: r.runId, b: r.forkOfRunId || "" }), class: "small", id: "compare-link", text: "Compare with another run…" })),
    r.waiting ? h("div", { class: "waitbox", id: "run-waiting", text: sentence(r.waiting) }) : "",
    r.error ? h("div", { class: "errbox", id: "run-error", role: "alert" }, "Error: ", r.error) : "",
    facts);
}
function renderProcesses(el, list) {
  var head = h("div", { class: "section-head" }, h("h2", { text: "Process history" }), h("span", { class: "muted small", text: "which process advanced which steps" }));
  if (!list.length) { fill(el, head, h("p", { class: "empty", text: "No process has advanced this run yet." })); return; }
  var lo = Infinity, hi = -Infinity;
  list.forEach(function (p) { lo = Math.min(lo, p.fromStep); hi = Math.max(hi, p.toStep == null ? p.fromStep : p.toStep); });
  var span = Math.max(1, hi - lo + 1);
  var tb = h("tbody");
  list.forEach(function (p) {
    var end = p.toStep == null ? p.fromStep : p.toStep;
    var bar = h("span", { class: p.ended || "" });
    bar.style.left = ((p.fromStep - lo) / span * 100) + "%";
    bar.style.width = Math.max(2, (end - p.fromStep + 1) / span * 100) + "%";
    var ended = p.ended == null ? "—" : badge(p.ended, p.ended === "crashed" ? "crashed" : p.ended === "running" ? "running" : p.ended);
    tb.appendChild(h("tr", { "data-how": p.how, "data-ended": p.ended || "" },
      h("td", { class: "mono small", text: p.owner }), h("td", null, badge(p.how)),
      h("td", { class: "num", text: p.toStep == null || p.toStep === p.fromStep ? String(p.fromStep) : p.fromStep + "–" + p.toStep }),
      h("td", null, h("div", { class: "tl", title: "steps " + p.fromStep + "–" + end + " of " + lo + "–" + hi }, bar)),
      h("td", null, timeEl(p.startedAt)), h("td", { class: "num", text: p.endedAt ? fmtDuration(p.endedAt - p.startedAt) : "" }), h("td", null, ended)));
  });
  fill(el, head, h("table", { id: "process-table" }, h("thead", null, h("tr", null, h("th", { text: "Process" }), h("th", { text: "How it began" }), h("th", { class: "num", text: "Steps" }),
    h("th", { text: "Timeline (steps " + lo + "–" + hi + ")" }), h("th", { text: "Started" }), h("th", { class: "num", text: "Took" }), h("th", { text: "How it ended" }))), tb));
}
`;

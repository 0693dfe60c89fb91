/**
 * Studio script, part 4: steering a run. A loom-ops approval gate gets approve/deny with a name
 * and a comment; a waiting run gets a signal form with the awaited name filled in and a JSON
 * editor that refuses invalid JSON before anything is sent; resume, cancel and retry buttons
 * appear when the run's status allows them; "fork from step N" opens an editor with the state
 * before that step and, once the server made the fork, goes to the new run's page.
 *
 * Shown only when the server says steering is allowed (`/api/info`: not read-only). Every POST
 * goes through `post()` (core.ts), which sends `x-loom-studio: 1` and shows the server's
 * `{error}` sentence.
 *
 * @module
 */

/** Browser JavaScript: the steering panel and the fork editor. */
export const STEER_JS: string = String.raw`
function renderSteer(el, data, reload) {
  CURRENT = data;
  if (!steeringAllowed()) { clear(el); return; }
  var r = data.run;
  // Keep what the user is typing when the run changes under them: rebuild only on a new situation.
  var key = [r.status, data.gate ? data.gate.signal : "", data.waitingFor ? data.waitingFor.name : ""].join("|");
  if (el.getAttribute("data-key") === key && el.firstChild) return;
  el.setAttribute("data-key", key);
  var ended = TERMINAL.indexOf(r.status) >= 0;
  var parts = [];
  if (data.gate && !ended) parts.push(gateForm(r, data.gate, reload));
  if (!ended) parts.push(signalForm(r, data.waitingFor, !!data.gate, reload));
  parts.push(actions(r, reload));
  fill(el, h("div", { class: "panel steer", role: "region", "aria-label": "Steer the run" }, h("h2", { text: "Steer" }), parts));
}
async function steerPost(button, path, body, done) {
  var old = button.textContent;
  button.disabled = true;
  try {
    var answer = await post(apiRun(RUN_ID, path), body);
    await done(answer);
  } catch (e) {
    notice("error", e.message);
  } finally {
    button.disabled = false; button.textContent = old;
  }
}
function gateForm(r, gate, reload) {
  var by = h("input", { id: "gate-by", required: true, autocomplete: "name", placeholder: "your name" });
  var only = (gate.approvers || []).filter(function (a) { return a !== "*"; });
  if (only.length === 1) by.value = only[0];
  var comment = h("input", { id: "gate-comment", placeholder: "optional" });
  var msg = h("div", { class: "field-error", id: "gate-error", role: "alert" });
  function decide(decision, button) {
    if (!by.value.trim()) { msg.textContent = "Enter the name of who decides."; by.focus(); return; }
    msg.textContent = "";
    var body = { decision: decision, by: by.value.trim() };
    if (comment.value.trim()) body.comment = comment.value.trim();
    steerPost(button, "/approve", body, function (a) {
      notice("ok", (decision === "approve" ? "Approved" : "Denied") + " step " + gate.step + " (signal #" + a.seq + ").");
      return reload();
    });
  }
  var approve = h("button", { type: "button", class: "primary", id: "gate-approve", text: "Approve", onclick: function () { decide("approve", approve); } });
  var deny = h("button", { type: "button", class: "danger", id: "gate-deny", text: "Deny", onclick: function () { decide("deny", deny); } });
  return h("div", { class: "gate", id: "gate" },
    h("div", null, h("strong", { text: "Approval needed for step " }), h("span", { class: "mono", text: gate.step })),
    gate.reason ? h("div", { class: "small", text: "Reason: " + gate.reason }) : "",
    gate.argv && gate.argv.length ? h("div", { class: "small" }, "Command: ", h("code", { text: gate.argv.join(" ") })) : "",
    h("div", { class: "small muted", text: "May decide: " + ((gate.approvers || []).join(", ") || "anyone") + " · signal " + gate.signal }),
    h("div", { class: "row" }, h("label", null, "Name", by), h("label", null, "Comment", comment)),
    h("div", { class: "row" }, approve, deny), msg);
}
function signalForm(r, waitingFor, folded, reload) {
  var name = h("input", { id: "signal-name", required: true, value: waitingFor ? waitingFor.name : "", placeholder: "signal name" });
  var dataBox = h("textarea", { id: "signal-data", spellcheck: "false", "aria-describedby": "signal-error" });
  dataBox.value = "{}";
  var msg = h("div", { class: "field-error", id: "signal-error", role: "alert" });
  var send = h("button", { type: "submit", class: folded ? "" : "primary", id: "signal-send", text: "Send signal" });
  var check = jsonEditor(dataBox, msg, [send]);
  var form = h("form", { id: "signal-form", novalidate: true });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!name.value.trim()) { msg.textContent = "Enter the signal's name."; name.focus(); return; }
    var parsed = check();
    if (!parsed.ok) { dataBox.focus(); return; }
    steerPost(send, "/signal", { name: name.value.trim(), data: parsed.value }, function (a) {
      notice("ok", "Signal " + name.value.trim() + " sent (#" + a.seq + ").");
      return reload();
    });
  });
  var what = waitingFor
    ? h("div", { class: "small" }, "This run waits for signal ", h("code", { text: waitingFor.name }), waitingFor.deadline ? " (times out " + absTime(waitingFor.deadline) + ")" : "", ".")
    : h("div", { class: "small muted", text: "The run waits for no signal now; a signal sent is kept until a step waits for it." });
  add(form, what, h("label", null, "Name", name), h("label", null, "Data (JSON)", dataBox), msg, h("div", { class: "row" }, send));
  if (!folded && waitingFor) return form;
  return h("details", { id: "signal-details" }, h("summary", { text: folded ? "Send another signal" : "Send a signal" }), form);
}
function actions(r, reload) {
  function act(id, label, path, when, cls) {
    if (!when) return "";
    var b = h("button", { type: "button", id: id, class: cls || "", text: label, onclick: function () {
      steerPost(b, path, {}, function (a) { notice("ok", label + ": the run is now " + a.status + "."); return reload(); });
    } });
    return b;
  }
  var s = r.status;
  var canResume = s === "paused" || s === "waiting" || s === "queued";
  var fork = h("button", { type: "button", id: "fork-open", text: "Fork from a step…", onclick: function () { var cur = CURRENT.run; openFork(CURRENT, cur.lastStep == null ? (cur.firstStep || 0) : cur.lastStep); } });
  var worker = INFO && INFO.worker;
  return h("div", { class: "row", id: "actions" },
    act("resume", "Resume", "/resume", canResume && worker),
    act("retry", "Retry", "/retry", s === "failed"),
    act("cancel", "Cancel", "/cancel", TERMINAL.indexOf(s) < 0, "danger"),
    fork,
    !worker && TERMINAL.indexOf(s) < 0 ? h("div", { class: "muted small", id: "no-worker-hint" }, "No worker is attached: advance this run with ", h("code", { text: "loom-runner resume" }), ".") : "");
}
/** The run page's latest answer, so the fork editor opens on the current last step. */
var CURRENT = null;

/* ---------- the fork editor ---------- */
async function checkpointBefore(run, step) {
  // The checkpoint before step N, as forkRun picks it: a patched one first, then the run's
  // initial state before its first step, else the state stored after step N-1.
  if (run.patchedStep === step && run.patchedState !== null && run.patchedState !== undefined) return { ok: true, state: run.patchedState };
  if (step === run.firstStep && run.initialState !== undefined) return { ok: true, state: run.initialState };
  if (step > 0) {
    var d = await api(apiRun(run.runId, "/steps"), { from: step - 1, limit: 1 });
    var row = d.steps[0];
    // A state over the steps API's cap comes as a marker: load it whole for the editor.
    if (row && row.step === step - 1 && row.stateOmitted) return { ok: true, state: await api(apiRun(run.runId, "/steps/" + row.step + "/state")) };
    if (row && row.step === step - 1 && row.state !== null && row.state !== undefined) return { ok: true, state: row.state };
  }
  return { ok: false };
}
function openFork(data, step) {
  var run = data.run;
  var old = $("#fork-dialog");
  if (old) old.remove();
  var stepIn = h("input", { id: "fork-step", type: "number", min: "0", max: String(run.lastStep == null ? 0 : run.lastStep + 1), value: String(step) });
  var editor = h("textarea", { id: "fork-state", spellcheck: "false", "aria-describedby": "fork-error" });
  var msg = h("div", { class: "field-error", id: "fork-error", role: "alert" });
  var note = h("div", { class: "small muted", id: "fork-note" });
  var create = h("button", { type: "submit", class: "primary", id: "fork-create", text: "Create fork" });
  var cancel = h("button", { type: "button", id: "fork-cancel", text: "Cancel", onclick: function () { dlg.close(); } });
  var stored = false;
  var check = jsonEditor(editor, msg, [create]);
  var form = h("form", { method: "dialog", novalidate: true },
    h("h2", null, "Fork run ", h("span", { class: "mono", text: run.runId })),
    h("p", { class: "small muted", text: "The new run starts at this step from the state below (the checkpoint before the step). Edit it to try another path; the original run is not changed." }),
    h("div", { class: "row" }, h("label", null, "From step", stepIn)),
    h("label", { class: "block" }, "State before the step (JSON)", editor), note, msg,
    h("div", { class: "row" }, create, cancel));
  var dlg = h("dialog", { id: "fork-dialog", "aria-label": "Fork the run" }, form);
  async function loadState() {
    var n = Number(stepIn.value);
    editor.value = ""; msg.textContent = ""; note.textContent = "Loading the checkpoint…";
    editor.classList.remove("invalid");
    try {
      var c = await checkpointBefore(run, n);
      if (Number(stepIn.value) !== n) return;
      stored = !c.ok;
      editor.value = c.ok ? jsonText(c.state) : "";
      note.textContent = c.ok ? "" : "This checkpoint is not shown here; leave the editor empty to start from the stored one, or write a state.";
    } catch (e) { note.textContent = ""; msg.textContent = e.message; }
  }
  stepIn.addEventListener("change", loadState);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var n = Number(stepIn.value);
    if (!Number.isInteger(n) || n < 0) { msg.textContent = "The step is a whole number from 0."; stepIn.focus(); return; }
    var body = { step: n };
    if (!(stored && !editor.value.trim())) {
      var parsed = check();
      if (!parsed.ok) { editor.focus(); return; }
      body.state = parsed.value;
    }
    steerPost(create, "/fork", body, function (a) {
      create.textContent = "Opening the fork…";
      location.assign(runUrl(a.runId));
    });
  });
  dlg.addEventListener("close", function () { dlg.remove(); });
  document.body.appendChild(dlg);
  dlg.showModal();
  loadState().then(function () { editor.focus(); dlg.setAttribute("data-ready", ""); });
}
`;

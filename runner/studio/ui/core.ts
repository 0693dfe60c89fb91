/**
 * Studio script, part 1: the page context (base path, run id), DOM and format helpers, and the
 * one way the pages talk to the server (`api` for reads, `post` for steering).
 *
 * Every part of the studio script is plain browser JavaScript kept in a string; `pages.ts` joins
 * them inside one function scope. Data from the server (run ids, agent names, states, errors) only
 * ever reaches the page through `textContent` and attribute setters, never through `innerHTML`,
 * so a run named `<img onerror=…>` stays text.
 *
 * @module
 */

/** Browser JavaScript: context, DOM helpers, formatting, HTTP. */
export const CORE_JS: string = String.raw`
function meta(name) {
  var el = document.querySelector('meta[name="' + name + '"]');
  return el ? el.getAttribute("content") || "" : "";
}
var BASE = meta("loom-studio-base").replace(/\/+$/, "");
var PAGE = meta("loom-studio-page");
var RUN_ID = meta("loom-studio-run");
var TERMINAL = ["completed", "failed", "cancelled"];
var STATUSES = ["queued", "running", "paused", "waiting", "completed", "failed", "cancelled"];

/* ---------- DOM: data becomes text nodes and attribute values, never parsed HTML ---------- */
function h(tag, attrs) {
  var el = document.createElement(tag);
  if (attrs) {
    for (var k in attrs) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = String(v);
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
/** Appends each child after el: nodes as they are, text as text nodes, arrays flattened. */
function add(el) {
  for (var i = 1; i < arguments.length; i++) {
    var child = arguments[i];
    if (child == null || child === false) continue;
    if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); continue; }
    el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return el;
}
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
function fill(el) { clear(el); for (var i = 1; i < arguments.length; i++) add(el, arguments[i]); return el; }
function $(sel, root) { return (root || document).querySelector(sel); }

/* ---------- URLs ---------- */
function url(path, query) {
  var u = BASE + path;
  if (query) {
    var parts = [];
    for (var k in query) {
      if (query[k] == null || query[k] === "") continue;
      parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(query[k]));
    }
    if (parts.length) u += "?" + parts.join("&");
  }
  return u;
}
function runUrl(id) { return url("/runs/" + encodeURIComponent(id)); }
function apiRun(id, tail) { return "/api/runs/" + encodeURIComponent(id) + (tail || ""); }

/* ---------- HTTP: the server's {error} sentence becomes the Error's message ---------- */
async function readAnswer(res) {
  var text = await res.text();
  var body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!res.ok) {
    var msg = body && typeof body.error === "string" ? body.error : "The server answered " + res.status + " " + res.statusText + ".";
    var e = new Error(msg); e.status = res.status; throw e;
  }
  return body;
}
async function api(path, query) {
  var res = await fetch(url(path, query), { credentials: "same-origin", headers: { accept: "application/json" } });
  return readAnswer(res);
}
async function post(path, body) {
  var res = await fetch(url(path), {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-loom-studio": "1", "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body || {}),
  });
  return readAnswer(res);
}

/* ---------- formatting ---------- */
function fmtInt(n) { return Number(n || 0).toLocaleString("en-US"); }
function pad2(n) { return n < 10 ? "0" + n : "" + n; }
function absTime(ms) {
  if (ms == null) return "";
  var d = new Date(ms);
  return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " + pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
}
function relTime(ms) {
  if (ms == null) return "";
  var s = Math.round((Date.now() - ms) / 1000);
  var future = s < 0; s = Math.abs(s);
  var t = s < 5 ? "just now" : s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min" : s < 86400 ? Math.floor(s / 3600) + " h" : Math.floor(s / 86400) + " d";
  if (t === "just now") return t;
  return future ? "in " + t : t + " ago";
}
/** A <time> that says "3 min ago" and keeps the exact time in its tooltip; refreshed by tickTimes. */
function timeEl(ms) {
  if (ms == null) return h("span", { class: "muted", text: "—" });
  return h("time", { datetime: new Date(ms).toISOString(), title: absTime(ms), "data-ms": ms, text: relTime(ms) });
}
function tickTimes() {
  document.querySelectorAll("time[data-ms]").forEach(function (t) { t.textContent = relTime(Number(t.getAttribute("data-ms"))); });
}
function fmtDuration(ms) {
  if (ms == null) return "";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}
function plural(n, word, many) { return fmtInt(n) + " " + (n === 1 ? word : many || word + "s"); }
/** The server's waiting reason ("waiting for signal x") as a sentence starting with a capital. */
function sentence(text) { return text ? text.charAt(0).toUpperCase() + text.slice(1) : ""; }
function badge(word, cls) { return h("span", { class: "badge " + (cls || word), text: word }); }
function jsonText(v) {
  if (v === undefined) return "undefined";
  try { return JSON.stringify(v, null, 2); } catch (_) { return String(v); }
}
function shortJson(v, max) {
  var s;
  try { s = JSON.stringify(v); } catch (_) { s = String(v); }
  if (s === undefined) s = "undefined";
  max = max || 80;
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}
/** A collapsed JSON value: its one-line preview as the summary, the pretty text inside. */
function jsonDetails(v, label) {
  var d = h("details", { class: "json" });
  var pre = h("pre");
  d.appendChild(h("summary", { text: label || shortJson(v, 60) }));
  d.addEventListener("toggle", function () { if (d.open && !pre.firstChild) pre.textContent = jsonText(v); });
  d.appendChild(pre);
  return d;
}
/** Parses JSON text; returns { ok, value } or { ok: false, message } naming what is wrong. */
function parseJson(text) {
  if (!text.trim()) return { ok: false, message: "Enter a JSON value (for nothing, write null)." };
  try { return { ok: true, value: JSON.parse(text) }; } catch (e) { return { ok: false, message: "Not valid JSON: " + e.message }; }
}
/** Wires a textarea to a message element and buttons: invalid JSON is shown and blocks sending. */
function jsonEditor(textarea, messageEl, buttons) {
  function check() {
    var r = parseJson(textarea.value);
    textarea.classList.toggle("invalid", !r.ok);
    textarea.setAttribute("aria-invalid", r.ok ? "false" : "true");
    messageEl.textContent = r.ok ? "" : r.message;
    return r;
  }
  textarea.addEventListener("input", check);
  return check;
}

/* ---------- the page frame: top bar, banners, notices ---------- */
var INFO = null;
function notice(kind, text) {
  var box = $("#notices");
  var el = h("div", { class: "banner " + kind, role: kind === "error" ? "alert" : "status", text: text });
  box.appendChild(el);
  if (kind !== "error") setTimeout(function () { el.remove(); }, 6000);
  else el.appendChild(h("button", { class: "link", type: "button", "aria-label": "Dismiss", text: " ✕", onclick: function () { el.remove(); } }));
  return el;
}
async function loadInfo() {
  try { INFO = await api("/api/info"); } catch (e) { INFO = { worker: false, readOnly: true, agents: [], location: "", error: e.message }; }
  var where = $("#where");
  if (where && INFO.location) where.textContent = INFO.location;
  var b = $("#info-banner");
  if (INFO.error) fill(b, h("div", { class: "banner error", role: "alert", text: "Could not read the studio's settings: " + INFO.error }));
  else if (!INFO.worker) {
    fill(b, h("div", { class: "banner warn", id: "no-worker", role: "status" },
      "No worker is attached: signals and cancels are stored, but nothing advances runs until a process resumes them. ",
      "Start the studio with ", h("code", { text: "--agents DIR" }), " to advance runs from here."));
  }
  return INFO;
}
function steeringAllowed() { return INFO && !INFO.readOnly; }

/* ---------- live updates: one EventSource for the page ---------- */
var liveHandlers = [];
function onRunsChanged(fn) { liveHandlers.push(fn); }
function startLive() {
  var dot = $("#live");
  var es = new EventSource(url("/api/events"));
  es.addEventListener("open", function () {
    dot.classList.add("on"); dot.textContent = "live";
    // Changes made while the stream was not connected are not replayed: load again (null).
    liveHandlers.forEach(function (fn) { fn(null); });
  });
  es.addEventListener("error", function () { dot.classList.remove("on"); dot.textContent = "reconnecting…"; });
  es.addEventListener("runs", function (ev) {
    var data;
    try { data = JSON.parse(ev.data); } catch (_) { return; }
    var changed = data && Array.isArray(data.changed) ? data.changed : [];
    if (!changed.length) return;
    liveHandlers.forEach(function (fn) { fn(changed); });
  });
  addEventListener("pagehide", function () { es.close(); });
  return es;
}
/**
 * Runs fn now, or, when it is already running, once more after it ends (and gapMs later), so a
 * burst of events costs at most two loads and answers never arrive out of order.
 */
function coalesce(fn, gapMs) {
  var running = false, again = false;
  return function go() {
    if (running) { again = true; return; }
    running = true;
    Promise.resolve().then(fn).catch(function (e) { notice("error", e.message); }).finally(function () {
      setTimeout(function () { running = false; if (again) { again = false; go(); } }, gapMs);
    });
  };
}
`;

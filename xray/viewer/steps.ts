/**
 * Viewer script, part 7: the State tab (for runner traces, the state diff between consecutive
 * steps; a step span's `output` is the state after it) and the Raw JSON tab.
 *
 * @module
 */

/** Browser JavaScript: State and Raw tabs. */
export const STEPS_JS: string = String.raw`
function renderState(host) {
  clear(host);
  var ix = A.ix, list = steps().list, pad = h("div", { class: "pad" });
  host.appendChild(pad);
  if (!list.length) { pad.appendChild(h("div", { class: "empty", text: "No step spans in this trace." })); return; }
  pad.appendChild(h("div", { class: "muted", text: plural(list.length, "step") + ". Each step's output is the loop state after it; each card shows what that step changed." }));
  var more = h("button", { class: "btn", text: "" }), shown = 0, PAGE = 40;
  var cards = h("div");
  cards.style.marginTop = "10px";
  pad.appendChild(cards);
  pad.appendChild(more);
  function page() {
    var end = Math.min(list.length, shown + PAGE), need = [];
    for (var k = shown; k < end; k++) need = need.concat(stepNeighbours(list[k]));
    more.disabled = true;
    needSpans(ix.pt, need).then(function () {
      for (; shown < end; shown++) cards.appendChild(stepCard(list[shown]));
      more.disabled = false;
      more.textContent = "Show " + Math.min(PAGE, list.length - shown) + " more of " + fmtInt(list.length - shown);
      more.classList.toggle("hidden", shown >= list.length);
    });
  }
  more.addEventListener("click", page);
  page();
}
function stepCard(i) {
  var ix = A.ix, s = fullSpan(ix.pt, i), before = stateBefore(i), idx = attr(s, ATTR.stepIndex);
  var b = h("div", { class: "box" });
  var title = h("h3", null, h("span", { class: "kb k-step", text: typeof idx === "number" ? "#" + idx : "step" }), spanLink(i),
    h("span", { class: "status " + s.status, text: s.status }), h("span", { class: "muted", text: fmtMs(s.duration) }));
  var ek = attr(s, ATTR.exitKind);
  if (ek) title.appendChild(h("span", { class: "muted", text: "exit: " + ek + " @ " + shortLocation(String(attr(s, ATTR.exitLocation) || "?")) }));
  b.appendChild(title);
  if (s.error) b.appendChild(h("div", { class: "err-t mono", text: s.error.type + ": " + s.error.message }));
  if (s.output === undefined) b.appendChild(h("div", { class: "muted", text: "No state recorded for this step." }));
  else if (!before.has) { b.appendChild(h("div", { class: "muted", text: "Initial state:" })); b.appendChild(jsonBlock(s.output)); }
  else b.appendChild(diffTable(valueDiff(before.value, s.output, "", [], 200), before.from >= 0 ? "before (" + spanAt(ix, before.from).name + ")" : "before (input)", "after"));
  return b;
}

/** Most characters the Raw tab shows (Copy takes every span of a trace up to COPY_ALL spans). */
var RAW_LIMIT = 3000000, COPY_ALL = 50000;
function renderRaw(host) {
  clear(host);
  var ix = A.ix, pt = ix.pt, core = ix.core;
  var input = h("input", { id: "rawfilter", placeholder: "Show only spans whose JSON contains…", type: "search" });
  input.style.width = "340px";
  var info = h("span", { class: "info" }), shownText = "";
  var copy = h("button", { class: "btn", text: "Copy", onclick: function () {
    if (ix.n > COPY_ALL || input.value.trim()) { copyText(shownText, copy); return; }
    loadAll(pt).then(function () { copyText(jsonText(traceJson(all()), 2), copy); });
  } });
  host.appendChild(h("div", { class: "toolbar" }, h("span", { class: "searchbox" }, input), copy, info));
  var pre = h("pre", { class: "raw", id: "rawtrace" });
  host.appendChild(h("div", { class: "scroll" }, pre));
  var timer = 0, gen = 0;
  function all() { var out = []; for (var i = 0; i < ix.n; i++) out.push(fullSpan(pt, i)); return out; }
  function traceJson(spans) {
    return { format: "loom-trace/1", traceId: core.traceId, name: core.name, startTime: core.startTime, spans: spans,
      redactions: core.redactions, meta: core.meta };
  }
  /** The trace as indented JSON, span by span, up to RAW_LIMIT characters; chunks load as needed. */
  async function draw() {
    var my = ++gen, q = input.value.trim().toLowerCase(), parts = [], size = 0, matched = 0, cut = false;
    info.textContent = "loading…";
    for (var c = 0; c < pt.core.chunks && my === gen; c++) {
      await loadChunk(pt, c);
      var end = Math.min(ix.n, (c + 1) * pt.core.chunk);
      for (var i = c * pt.core.chunk; i < end; i++) {
        var s = fullSpan(pt, i);
        if (q && jsonText(s).toLowerCase().indexOf(q) < 0) continue;
        matched++;
        if (cut) continue;
        var t = jsonText(s, 2).replace(/^/gm, "    ");
        parts.push(t);
        size += t.length;
        if (size > RAW_LIMIT) cut = true;
      }
      if (cut && !q) break;
    }
    if (my !== gen) return;
    var head = jsonText(traceJson([]), 2).replace('"spans": []', '"spans": [\n' + parts.join(",\n") + (cut ? ",\n    …" : "") + "\n  ]");
    shownText = head;
    info.textContent = (cut ? "first " + plural(parts.length, "span") + " of " + (q ? fmtInt(matched) + " matching" : fmtInt(ix.n)) : plural(parts.length, "span")) +
      " · " + fmtCompact(head.length) + " chars · times to the microsecond" + (cut || ix.n > COPY_ALL ? " · Copy takes what is shown" : "");
    pre.textContent = head;
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(draw, 200); });
  draw();
}
`;

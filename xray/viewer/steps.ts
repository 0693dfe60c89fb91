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
    var end = Math.min(list.length, shown + PAGE);
    for (; shown < end; shown++) cards.appendChild(stepCard(list[shown]));
    more.textContent = "Show " + Math.min(PAGE, list.length - shown) + " more of " + fmtInt(list.length - shown);
    more.classList.toggle("hidden", shown >= list.length);
  }
  more.addEventListener("click", page);
  page();
}
function stepCard(i) {
  var ix = A.ix, s = ix.spans[i], before = stateBefore(i), idx = attr(s, ATTR.stepIndex);
  var b = h("div", { class: "box" });
  var title = h("h3", null, h("span", { class: "kb k-step", text: typeof idx === "number" ? "#" + idx : "step" }), spanLink(i),
    h("span", { class: "status " + s.status, text: s.status }), h("span", { class: "muted", text: fmtMs(s.duration) }));
  var ek = attr(s, ATTR.exitKind);
  if (ek) title.appendChild(h("span", { class: "muted", text: "exit: " + ek + " @ " + shortLocation(String(attr(s, ATTR.exitLocation) || "?")) }));
  b.appendChild(title);
  if (s.error) b.appendChild(h("div", { class: "err-t mono", text: s.error.type + ": " + s.error.message }));
  if (s.output === undefined) b.appendChild(h("div", { class: "muted", text: "No state recorded for this step." }));
  else if (!before.has) { b.appendChild(h("div", { class: "muted", text: "Initial state:" })); b.appendChild(jsonBlock(s.output)); }
  else b.appendChild(diffTable(valueDiff(before.value, s.output, "", [], 200), before.from >= 0 ? "before (" + ix.spans[before.from].name + ")" : "before (input)", "after"));
  return b;
}

function renderRaw(host) {
  clear(host);
  var trace = A.ix.trace, LIMIT = 3000000;
  var input = h("input", { id: "rawfilter", placeholder: "Show only spans whose JSON contains…", type: "search" });
  input.style.width = "340px";
  var info = h("span", { class: "info" });
  var copy = h("button", { class: "btn", text: "Copy", onclick: function () { copyText(jsonText(current(), 2), copy); } });
  host.appendChild(h("div", { class: "toolbar" }, h("span", { class: "searchbox" }, input), copy, info));
  var pre = h("pre", { class: "raw", id: "rawtrace" });
  host.appendChild(h("div", { class: "scroll" }, pre));
  var timer = 0;
  function current() {
    var q = input.value.trim().toLowerCase();
    if (!q) return trace;
    var spans = trace.spans.filter(function (s) { return jsonText(s).toLowerCase().indexOf(q) >= 0; });
    return Object.assign({}, trace, { spans: spans });
  }
  function draw() {
    var v = current(), text = jsonText(v, 2);
    info.textContent = plural(v.spans.length, "span") + " · " + fmtCompact(text.length) + " chars" + (text.length > LIMIT ? " (first " + fmtCompact(LIMIT) + " shown; Copy takes all)" : "");
    pre.textContent = text.length > LIMIT ? text.slice(0, LIMIT) + "\n…" : text;
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(draw, 200); });
  draw();
}
`;

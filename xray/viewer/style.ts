/**
 * The viewer's stylesheet, inlined into every HTML file (no web fonts, no external sheets).
 *
 * @module
 */

/** CSS for the offline trace viewer. */
export const VIEWER_CSS: string = String.raw`
:root {
  --bg: #f6f7f9; --panel: #ffffff; --panel2: #f1f3f6; --border: #dde1e7; --border2: #e9ecf0;
  --text: #1d2330; --muted: #677084; --faint: #9aa2b1; --accent: #2563eb; --accent-bg: #e8effd;
  --sel: #dbe7ff; --hover: #f0f4fb; --match: #fff4c2;
  --ok: #15803d; --err: #dc2626; --err-bg: #fdecec; --warn: #b45309; --unset: #7c8594;
  --k-run: #64748b; --k-step: #2563eb; --k-llm: #9333ea; --k-tool: #0d9488; --k-branch: #d97706;
  --k-error: #dc2626; --k-event: #65a30d;
  --add: #e6f6ea; --add-t: #166534; --del: #fdecec; --del-t: #991b1b; --chg: #fff6db;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif;
  --row: 24px;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --panel: #161a21; --panel2: #1c212a; --border: #2a313c; --border2: #222833;
    --text: #e3e7ee; --muted: #98a2b3; --faint: #697386; --accent: #60a5fa; --accent-bg: #1a2a44;
    --sel: #1f3357; --hover: #1b2230; --match: #3b3413;
    --ok: #4ade80; --err: #f87171; --err-bg: #3a1c1f; --warn: #fbbf24; --unset: #8b95a5;
    --k-run: #94a3b8; --k-step: #60a5fa; --k-llm: #c084fc; --k-tool: #2dd4bf; --k-branch: #fbbf24;
    --k-error: #f87171; --k-event: #a3e635;
    --add: #15301f; --add-t: #86efac; --del: #3a1c1f; --del-t: #fca5a5; --chg: #33300f;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 13px/1.45 var(--sans); background: var(--bg); color: var(--text); display: flex;
  flex-direction: column; overflow: hidden; }
button, input, select { font: inherit; color: inherit; }
button { cursor: pointer; }
.mono { font-family: var(--mono); font-size: 12px; }
.muted { color: var(--muted); }
.faint { color: var(--faint); }
.err-t { color: var(--err); }
.ok-t { color: var(--ok); }
.hidden { display: none !important; }

/* header */
header.top { display: flex; align-items: center; gap: 14px; padding: 10px 16px; background: var(--panel);
  border-bottom: 1px solid var(--border); }
header.top h1 { font-size: 15px; margin: 0; font-weight: 650; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; max-width: 40vw; }
header.top .sub { color: var(--muted); font-size: 12px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
header.top .grow { flex: 1; }
.searchbox { position: relative; }
.searchbox input { width: 340px; padding: 6px 10px; border: 1px solid var(--border); border-radius: 6px;
  background: var(--panel2); outline: none; }
.searchbox input:focus { border-color: var(--accent); background: var(--panel); }
.searchbox .count { position: absolute; right: 9px; top: 7px; font-size: 11px; color: var(--muted); }

/* totals */
.cards { display: flex; gap: 8px; padding: 10px 16px; background: var(--panel); border-bottom: 1px solid var(--border);
  overflow-x: auto; }
.card { flex: 1 1 0; max-width: 220px; min-width: 104px; padding: 6px 12px 7px; border: 1px solid var(--border2); border-radius: 8px;
  background: var(--panel2); }
.card .l { font-size: 10.5px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.card .v { font-size: 18px; font-weight: 650; white-space: nowrap; font-variant-numeric: tabular-nums;
  overflow: hidden; text-overflow: ellipsis; }
.card .s { font-size: 11px; color: var(--muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.loading { padding: 40px 20px; text-align: center; color: var(--muted); }
.card.bad { border-color: var(--err); background: var(--err-bg); }
.card.bad .v { color: var(--err); }
.card.click { cursor: pointer; }

/* tabs */
nav.tabs { display: flex; gap: 2px; padding: 0 12px; background: var(--panel); border-bottom: 1px solid var(--border); }
nav.tabs button { border: 0; background: none; padding: 9px 12px 8px; border-bottom: 2px solid transparent;
  color: var(--muted); font-weight: 550; }
nav.tabs button:hover { color: var(--text); }
nav.tabs button.on { color: var(--accent); border-bottom-color: var(--accent); }
nav.tabs .badge { display: inline-block; min-width: 18px; padding: 0 5px; margin-left: 5px; border-radius: 9px;
  font-size: 11px; background: var(--panel2); color: var(--muted); text-align: center; }
nav.tabs .badge.bad { background: var(--err); color: #fff; }

/* layout */
.body { flex: 1; display: flex; min-height: 0; }
main { flex: 1; min-width: 0; display: flex; flex-direction: column; min-height: 0; }
.view { flex: 1; min-height: 0; display: flex; flex-direction: column; }
.scroll { overflow: auto; flex: 1; min-height: 0; }
.pad { padding: 14px 16px; }
aside.detail { width: 440px; min-width: 320px; border-left: 1px solid var(--border); background: var(--panel);
  overflow: auto; }
.empty { padding: 40px 20px; text-align: center; color: var(--faint); }

/* toolbar (filters) */
.toolbar { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; padding: 7px 12px;
  border-bottom: 1px solid var(--border); background: var(--panel); }
.toolbar .sep { width: 1px; height: 18px; background: var(--border); margin: 0 4px; }
.chip { display: inline-flex; align-items: center; gap: 5px; padding: 2px 9px; border: 1px solid var(--border);
  border-radius: 12px; background: var(--panel); font-size: 12px; color: var(--muted); user-select: none; }
.chip.on { color: var(--text); background: var(--accent-bg); border-color: var(--accent); }
.chip .dot { width: 8px; height: 8px; border-radius: 50%; }
.btn { padding: 3px 10px; border: 1px solid var(--border); border-radius: 6px; background: var(--panel);
  font-size: 12px; }
.btn:hover { background: var(--hover); }
.btn.on { background: var(--accent-bg); border-color: var(--accent); color: var(--accent); }
.toolbar .info { margin-left: auto; color: var(--muted); font-size: 12px; }

/* virtual list */
.vlist { position: relative; overflow: auto; flex: 1; min-height: 0; outline: none; }
.vlist .spacer { position: relative; }
.vrow { position: absolute; left: 0; right: 0; height: var(--row); display: grid; align-items: center;
  border-bottom: 1px solid var(--border2); white-space: nowrap; cursor: default; }
.vrow:hover { background: var(--hover); }
.vrow.sel { background: var(--sel); }
.vrow.match { background: var(--match); }
.vrow.sel.match { background: var(--sel); }
.vrow.ctx { opacity: .55; }
.vrow.errrow .name { color: var(--err); }
.vhead { display: grid; align-items: center; height: 26px; border-bottom: 1px solid var(--border);
  background: var(--panel2); font-size: 11px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); white-space: nowrap; }
.vhead > div, .vrow > div { padding: 0 8px; overflow: hidden; text-overflow: ellipsis; }
.num { text-align: right; font-variant-numeric: tabular-nums; font-family: var(--mono); font-size: 12px; }
.tree-grid { grid-template-columns: minmax(260px, 1fr) 84px 84px 78px 70px 26%; }
.tl-grid { grid-template-columns: 320px 1fr; }
.vhead .axis { padding: 0; height: 100%; background: none; text-transform: none; letter-spacing: 0; }
.namecell { display: flex; align-items: center; gap: 5px; min-width: 0; }
.namecell .name { overflow: hidden; text-overflow: ellipsis; }
.tog { width: 16px; flex: none; text-align: center; color: var(--muted); font-size: 10px; cursor: pointer; }
.kb { flex: none; font-size: 10px; font-weight: 650; letter-spacing: .03em; padding: 0 5px; border-radius: 4px;
  color: #fff; line-height: 16px; text-transform: uppercase; }
.k-run { background: var(--k-run); } .k-step { background: var(--k-step); } .k-llm { background: var(--k-llm); }
.k-tool { background: var(--k-tool); } .k-branch { background: var(--k-branch); }
.k-error { background: var(--k-error); } .k-event { background: var(--k-event); }
.tag { flex: none; font-size: 11px; padding: 0 6px; border-radius: 8px; background: var(--panel2);
  border: 1px solid var(--border2); color: var(--muted); line-height: 16px; }
.errdot { flex: none; width: 7px; height: 7px; border-radius: 50%; background: var(--err); }
.sdot-ok { flex: none; width: 7px; height: 7px; border-radius: 50%; background: var(--ok); }
.opendot { flex: none; width: 7px; height: 7px; border-radius: 50%; border: 1.5px solid var(--unset); }

/* bars */
.track { position: relative; height: 100%; }
.bar { position: absolute; top: 6px; height: 12px; border-radius: 2px; min-width: 2px; }
.bar.err { outline: 1.5px solid var(--err); outline-offset: 0; }
.bar.open { background-image: repeating-linear-gradient(45deg, transparent 0 4px, rgba(255,255,255,.45) 4px 7px); }
.bar-label { position: absolute; top: 4px; font-size: 11px; color: var(--muted); font-family: var(--mono); }
.bar-label.inbar { color: #fff; text-shadow: 0 0 2px rgba(0, 0, 0, .5); }
.b-run { background: var(--k-run); } .b-step { background: var(--k-step); } .b-llm { background: var(--k-llm); }
.b-tool { background: var(--k-tool); } .b-branch { background: var(--k-branch); }
.b-error { background: var(--k-error); } .b-event { background: var(--k-event); }
.axis { position: relative; height: 26px; border-bottom: 1px solid var(--border); background: var(--panel2);
  font-size: 11px; color: var(--muted); font-family: var(--mono); overflow: hidden; }
.axis .tick { position: absolute; top: 0; bottom: 0; border-left: 1px solid var(--border); padding: 6px 0 0 4px; }
.gridlines { position: absolute; inset: 0; pointer-events: none; }
.gridlines div { position: absolute; top: 0; bottom: 0; border-left: 1px dashed var(--border2); }
.brush { position: absolute; top: 0; bottom: 0; background: rgba(37, 99, 235, .12);
  border-left: 1px solid var(--accent); border-right: 1px solid var(--accent); pointer-events: none; }

/* overview */
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.box { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: 12px 14px;
  margin-bottom: 12px; min-width: 0; overflow-x: auto; }
.box h3 { margin: 0 0 8px; font-size: 13px; font-weight: 650; display: flex; align-items: baseline; gap: 8px; }
.box h3 .muted { font-weight: 400; font-size: 12px; }
.path { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.pchip { display: inline-flex; gap: 6px; align-items: center; border: 1px solid var(--border); border-radius: 6px;
  padding: 2px 8px; background: var(--panel2); cursor: pointer; font-family: var(--mono); font-size: 12px; }
.pchip.err { border-color: var(--err); }
.pchip:hover { border-color: var(--accent); }
.arrow { color: var(--faint); }
table.t { width: 100%; border-collapse: collapse; font-size: 12px; }
table.t th { text-align: left; font-weight: 550; color: var(--muted); font-size: 11px; text-transform: uppercase;
  letter-spacing: .03em; padding: 4px 6px; border-bottom: 1px solid var(--border); white-space: nowrap; }
table.t td { padding: 4px 6px; border-bottom: 1px solid var(--border2); vertical-align: top; }
table.t td.num, table.t th.num { text-align: right; }
table.t tr.click { cursor: pointer; }
table.t tr.click:hover td { background: var(--hover); }
table.t td.wrap { white-space: normal; word-break: break-word; }
.hbar { position: relative; height: 8px; background: var(--panel2); border-radius: 4px; min-width: 60px; }
.hbar > div { position: absolute; top: 0; bottom: 0; left: 0; border-radius: 4px; }
.hbar > div.self { background: var(--accent); }
.hbar > div.total { background: var(--accent); opacity: .28; }
.legend { display: flex; gap: 12px; font-size: 11px; color: var(--muted); align-items: center; }
.legend i { display: inline-block; width: 10px; height: 8px; border-radius: 2px; margin-right: 4px; }
.never { color: var(--warn); font-weight: 600; }
.w35 { width: 35%; } .w60 { width: 60%; }
.legend i.self-i { background: var(--accent); } .legend i.total-i { background: var(--accent); opacity: .28; }

.cpstrip { display: flex; height: 18px; border-radius: 4px; overflow: hidden; margin: 2px 0 10px; background: var(--panel2); }
.cpstrip > div { height: 100%; min-width: 1px; border-right: 1px solid var(--panel); cursor: pointer; }
.cpstrip > div:hover { filter: brightness(1.15); }
/* errors */
.errcard { border: 1px solid var(--err); border-left-width: 4px; border-radius: 6px; padding: 10px 12px;
  background: var(--err-bg); margin-bottom: 10px; }
.errcard.handled { border-color: var(--warn); background: var(--panel); }
.errcard.handled .et { color: var(--warn); }
.errcard .et { font-weight: 650; color: var(--err); }
.errcard .em { font-family: var(--mono); font-size: 12px; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
.errcard .via { font-size: 12px; color: var(--muted); }
.label { display: inline-block; font-size: 10.5px; font-weight: 650; text-transform: uppercase; letter-spacing: .05em;
  padding: 1px 6px; border-radius: 4px; background: var(--err); color: #fff; margin-right: 6px; }
pre.stack { font-family: var(--mono); font-size: 11.5px; white-space: pre-wrap; word-break: break-word;
  background: var(--panel); border: 1px solid var(--border2); border-radius: 4px; padding: 6px 8px; margin: 6px 0 0;
  max-height: 220px; overflow: auto; }
.link { color: var(--accent); cursor: pointer; }
.link:hover { text-decoration: underline; }

/* detail */
.dsec { padding: 10px 14px; border-bottom: 1px solid var(--border2); }
.dsec h4 { margin: 0 0 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
  display: flex; align-items: center; gap: 6px; }
.dsec h4 .btn { margin-left: auto; text-transform: none; letter-spacing: 0; padding: 1px 8px; font-size: 11px; }
.dtitle { display: flex; align-items: center; gap: 8px; font-size: 15px; font-weight: 650; word-break: break-word; }
.crumbs { font-size: 12px; color: var(--muted); margin-top: 4px; word-break: break-word; }
.kv { display: grid; grid-template-columns: fit-content(48%) 1fr; gap: 3px 10px; font-size: 12px; }
.kv > div:nth-child(odd) { color: var(--muted); overflow-wrap: anywhere; min-width: 80px; }
.kv > div:nth-child(even) { font-family: var(--mono); word-break: break-word; }
.status { font-size: 11px; font-weight: 650; padding: 1px 7px; border-radius: 9px; text-transform: uppercase; }
.status.ok { background: var(--add); color: var(--ok); }
.status.error { background: var(--err); color: #fff; }
.status.unset { background: var(--panel2); color: var(--unset); }

/* json */
.json { font-family: var(--mono); font-size: 12px; line-height: 1.5; word-break: break-word; }
.json details { margin-left: 0; }
.json details > div { margin-left: 16px; border-left: 1px solid var(--border2); padding-left: 6px; }
.json summary { cursor: pointer; list-style: none; }
.json summary::-webkit-details-marker { display: none; }
.json summary::before { content: "\25B8"; display: inline-block; width: 12px; color: var(--faint); }
.json details[open] > summary::before { content: "\25BE"; }
.json .k { color: var(--k-step); }
.json .s { color: var(--ok); white-space: pre-wrap; }
.json .n { color: var(--k-llm); }
.json .b { color: var(--k-branch); }
.json .z { color: var(--faint); }
.json .p { color: var(--faint); }
.json .leaf { padding-left: 12px; }
.more { font-size: 11px; }
.chat .msg { border: 1px solid var(--border2); border-radius: 6px; padding: 6px 9px; margin-bottom: 6px; background: var(--panel2); }
.chat .role { font-size: 10.5px; font-weight: 650; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.chat .content { white-space: pre-wrap; word-break: break-word; }
.viewtoggle { display: inline-flex; gap: 0; margin-left: auto; }
.viewtoggle .btn { border-radius: 0; margin-left: -1px; }
.viewtoggle .btn:first-child { border-radius: 6px 0 0 6px; }
.viewtoggle .btn:last-child { border-radius: 0 6px 6px 0; }
.viewtoggle .btn.on { background: var(--accent-bg); border-color: var(--accent); }

/* diffs */
table.t.diff { table-layout: fixed; }
table.diff th:first-child { width: 34%; }
table.diff th.narrow { width: 92px; }
table.diff td { font-family: var(--mono); font-size: 11.5px; word-break: break-word; white-space: pre-wrap; }
tr.d-add td.v2 { background: var(--add); color: var(--add-t); }
tr.d-del td.v1 { background: var(--del); color: var(--del-t); }
tr.d-chg td.v1 { background: var(--del); color: var(--del-t); }
tr.d-chg td.v2 { background: var(--add); color: var(--add-t); }
.cmp-grid { grid-template-columns: 54px 1fr 1fr; }
.cmp-cell { display: flex; align-items: center; gap: 6px; min-width: 0; }
.vrow.changed { background: var(--chg); }
.vrow.onlyone { background: var(--del); }
.delta-up { color: var(--err); } .delta-down { color: var(--ok); }

/* graph */
.graphwrap { position: relative; flex: 1; min-height: 0; overflow: hidden; background: var(--bg); cursor: grab; }
.graphwrap svg { width: 100%; height: 100%; display: block; }
.graphwrap .gnode rect { fill: var(--panel); stroke: var(--border); stroke-width: 1; }
.graphwrap .gnode.sel rect { stroke: var(--accent); stroke-width: 2; }
.graphwrap .gnode.err rect { stroke: var(--err); stroke-width: 1.5; }
.graphwrap .gnode { cursor: pointer; }
.graphwrap .gnode text { font: 12px var(--sans); fill: var(--text); }
.graphwrap .gnode text.sub { font-size: 10.5px; fill: var(--muted); }
.graphwrap .gnode text.cnt { font: 600 11px var(--mono); fill: var(--text); }
.graphwrap .gnode rect.kbar { stroke: none; }
.graphwrap .gnode rect.kbar-run { fill: var(--k-run); } .graphwrap .gnode rect.kbar-step { fill: var(--k-step); }
.graphwrap .gnode rect.kbar-llm { fill: var(--k-llm); } .graphwrap .gnode rect.kbar-tool { fill: var(--k-tool); }
.graphwrap .gnode rect.kbar-branch { fill: var(--k-branch); } .graphwrap .gnode rect.kbar-error { fill: var(--k-error); }
.graphwrap .gnode rect.kbar-event { fill: var(--k-event); }
.graphwrap path.edge { fill: none; stroke: var(--faint); stroke-width: 1.2; }
.graphwrap path.exit-edge { fill: none; stroke: var(--faint); stroke-width: 1; stroke-dasharray: 4 3; }
.graphwrap .gexit rect { fill: var(--panel); stroke: var(--ok); }
.graphwrap .gexit.never rect { fill: none; stroke: var(--faint); stroke-dasharray: 4 3; }
.graphwrap .gexit text { font: 11px var(--mono); fill: var(--text); }
.graphwrap .gexit.never text { fill: var(--faint); }
.graph-legend { position: absolute; left: 12px; bottom: 10px; background: var(--panel); border: 1px solid var(--border);
  border-radius: 6px; padding: 6px 10px; }

/* profile */
table.t th.sortable { cursor: pointer; user-select: none; }
table.t th.sortable:hover { color: var(--text); }
table.t th.sorted { color: var(--accent); }
table.profile td .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 360px; }
.w20 { width: 20%; }
.sub-h { margin: 10px 0 2px; font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }

/* flame graph */
.flamewrap { flex: 1; min-height: 0; background: var(--panel); padding: 0 8px; }
.flamewrap svg { display: block; }
.flame-legend { padding: 6px 12px; border-bottom: 1px solid var(--border2); background: var(--panel); flex-wrap: wrap; }
.flame-crumbs { font-size: 12px; margin: 0 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 45%; }
.flame-hover { padding: 5px 12px; border-top: 1px solid var(--border); background: var(--panel); font-size: 12px;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fl { cursor: pointer; }
.fl rect { stroke: var(--panel); stroke-width: 0.5; }
.fl rect.b-run { fill: var(--k-run); } .fl rect.b-step { fill: var(--k-step); } .fl rect.b-llm { fill: var(--k-llm); }
.fl rect.b-tool { fill: var(--k-tool); } .fl rect.b-branch { fill: var(--k-branch); }
.fl rect.b-error { fill: var(--k-error); } .fl rect.b-event { fill: var(--k-event); }
.fl rect.b-all { fill: var(--faint); }
.fl rect.ferr { stroke: var(--err); stroke-width: 1.5; }
.legend i.ferr-i { background: none; border: 1.5px solid var(--err); }
.fl text { font: 11px var(--sans); fill: #fff; pointer-events: none; }
.fl:hover rect { filter: brightness(1.15); }
.fl.anc rect { opacity: .45; }
.fl.anc text { fill: var(--text); }
.fl.focus rect { opacity: .8; }
.fl.dim rect { opacity: .18; }
.fl.dim text { fill: var(--muted); }
.fl.hit rect { stroke: var(--text); stroke-width: 1.5; }

/* runs over time */
.strip { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: 8px 12px 10px; margin-top: 10px;
  overflow-x: auto; }
.strip-head { display: flex; gap: 10px; align-items: baseline; margin-bottom: 4px; }
.strip-title { font-weight: 650; }
.strip svg { display: block; background: var(--panel2); border-radius: 3px; }
.strip .smax { fill: var(--accent); opacity: .45; }
.strip .smean { fill: var(--accent); }
.strip .sbin { cursor: pointer; }
.strip .sbin:hover .smax { opacity: .8; }
.strip line.sline { stroke: var(--muted); stroke-width: 1; stroke-dasharray: 3 2; pointer-events: none; }
.strip line.sline.crash, .strip line.sline.fail { stroke: var(--err); stroke-width: 1.5; stroke-dasharray: none; }
.strip line.sline.wake, .strip line.sline.resume { stroke: var(--ok); }
#strip-tokens .smax, #strip-tokens .smean { fill: var(--k-llm); }
#strip-cost .smax, #strip-cost .smean { fill: var(--k-branch); }
.strip-legend { margin-top: 6px; }
.strip-axis { display: flex; justify-content: space-between; font-size: 11px; margin: 4px 13px 0; }
.plane-steps { position: relative; height: 46px; margin: 4px 0 8px; background: var(--panel2); border-radius: 3px; }
.plane { height: 46px; background: var(--panel); }
.plane .pband, .plane-steps .pband { top: 25px; height: 17px; line-height: 17px; }
.plane .pmark, .plane-steps .pmark { top: 2px; }
.plane .pgap, .plane-steps .pgap { top: 30px; }
.plane-name { font-size: 11px; }
.plane-track { position: relative; height: 100%; overflow: hidden; }
.pband { position: absolute; top: 5px; height: 20px; border-radius: 4px; font-size: 11px; line-height: 20px; color: #fff;
  padding: 0 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; text-transform: none; letter-spacing: 0;
  cursor: pointer; min-width: 3px; }
.pband.p0 { background: #3b6fd8; } .pband.p1 { background: #7c4dcc; } .pband.p2 { background: #0f8a7e; } .pband.p3 { background: #b26a12; }
.pband.end-crashed { box-shadow: inset -3px 0 0 var(--err); }
.pband span { padding-left: 10px; }
.pgap { position: absolute; top: 12px; height: 6px; border-top: 1px dashed var(--err); border-bottom: 1px dashed var(--err);
  background: repeating-linear-gradient(45deg, transparent 0 3px, rgba(220, 38, 38, .18) 3px 6px); }
.pmark { position: absolute; top: 4px; transform: translateX(-50%); font-size: 13px; line-height: 20px; min-width: 16px; height: 22px;
  text-align: center; border-radius: 4px; background: var(--panel); border: 1px solid var(--border); color: var(--muted);
  cursor: pointer; text-transform: none; letter-spacing: 0; font-weight: 700; z-index: 1; }
.legend .pmark { position: static; transform: none; display: inline-block; margin-right: 4px; height: 18px; line-height: 16px; font-size: 11px; }
.pmark.crash, .pmark.fail { color: #fff; background: var(--err); border-color: var(--err); }
.pmark.resume, .pmark.wake { color: var(--ok); border-color: var(--ok); }
.pmark.lease-takeover { color: var(--warn); border-color: var(--warn); }
.pmark.start { color: var(--accent); border-color: var(--accent); }
td.ended.end-crashed, td.ended.end-failed { color: var(--err); font-weight: 600; }

/* raw */
pre.raw { margin: 0; padding: 12px 16px; font-family: var(--mono); font-size: 12px; white-space: pre-wrap; word-break: break-word; }
`;

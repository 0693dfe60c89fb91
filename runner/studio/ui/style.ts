/**
 * The studio's stylesheet (`studio.css`): a calm, readable layout that fits 1280×800, visible
 * keyboard focus, status colours that also carry a word (never colour alone).
 *
 * @module
 */

/** CSS of every studio page. */
export const STUDIO_CSS: string = String.raw`
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #5f6b7a; --line: #dde2e8;
  --accent: #2457c5; --accent-ink: #fff; --ok: #1f7a45; --bad: #b3261e; --warn: #8a5a00;
  --wait: #6b3fb0; --run: #1d63b8; --soft: #eef1f5; --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink); }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; }
h1 { font-size: 20px; margin: 0; font-weight: 600; }
h2 { font-size: 15px; margin: 0 0 8px; font-weight: 600; }
.top { display: flex; align-items: center; gap: 16px; padding: 10px 24px; background: #1d2330; color: #e8ecf2; }
.top a { color: #fff; font-weight: 600; }
.top .brand { font-size: 15px; letter-spacing: .2px; }
.top .where { color: #aab4c3; font-size: 12.5px; margin-left: auto; font-family: var(--mono); }
.top .live { font-size: 12px; color: #aab4c3; }
.top .live::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: #7d8796; margin-right: 6px; vertical-align: 1px; }
.top .live.on::before { background: #3ccf7a; }
main { max-width: 1400px; margin: 0 auto; padding: 16px 24px 48px; }
.banner { padding: 10px 14px; border-radius: 6px; margin-bottom: 12px; border: 1px solid; }
.banner.warn { background: #fff7e0; border-color: #f0d48a; color: #5c4300; }
.banner.error { background: #fdecea; border-color: #f1b5b0; color: var(--bad); }
.banner.ok { background: #e8f6ee; border-color: #a9dcbd; color: var(--ok); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 14px; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; }
.spacer { flex: 1; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
button, .button { font: inherit; border: 1px solid var(--line); background: var(--panel); color: var(--ink); padding: 5px 12px; border-radius: 6px; cursor: pointer; }
button:hover:not(:disabled) { border-color: #b6c0cc; background: var(--soft); }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-ink); }
button.primary:hover:not(:disabled) { background: #1c47a3; }
button.danger { color: var(--bad); border-color: #e6b3ae; }
button:disabled { opacity: .5; cursor: default; }
button.link { border: 0; background: none; color: var(--accent); padding: 0 2px; }
input, select, textarea { font: inherit; border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; background: #fff; color: var(--ink); }
textarea { font-family: var(--mono); font-size: 12.5px; width: 100%; min-height: 140px; resize: vertical; }
textarea.invalid, input.invalid { border-color: var(--bad); background: #fffafa; }
label { display: inline-flex; flex-direction: column; gap: 2px; font-size: 12.5px; color: var(--muted); }
label > input, label > select, label > textarea { color: var(--ink); font-size: 14px; }
.field-error { color: var(--bad); font-size: 12.5px; min-height: 1.2em; }
.filters { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 10px; }
.chip { border-radius: 999px; padding: 3px 11px; font-size: 13px; }
.chip[aria-pressed="true"] { background: var(--ink); color: #fff; border-color: var(--ink); }
.chip .n { color: inherit; opacity: .7; margin-left: 4px; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .3px; background: #fafbfc; position: sticky; top: 0; }
tbody tr:hover { background: #f9fafc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flash { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: #fff3c4; } to { background: transparent; } }
td.id a, #run-id { word-break: break-all; }
tr.child td.id { padding-left: 28px; }
tr.child.d2 td.id { padding-left: 48px; }
tr.child.d3 td.id { padding-left: 68px; }
.toggle { width: 22px; height: 22px; padding: 0; line-height: 1; font-size: 11px; margin-right: 4px; }
.badge { display: inline-block; border-radius: 4px; padding: 1px 7px; font-size: 12px; font-weight: 600; border: 1px solid; white-space: nowrap; }
.badge.completed { color: var(--ok); border-color: #a9dcbd; background: #eefaf3; }
.badge.failed { color: var(--bad); border-color: #f1b5b0; background: #fdf0ef; }
.badge.waiting { color: var(--wait); border-color: #d4c2f0; background: #f6f1fd; }
.badge.running { color: var(--run); border-color: #b3cdf0; background: #eef5fd; }
.badge.paused { color: var(--warn); border-color: #ecd39a; background: #fdf8ea; }
.badge.queued { color: var(--muted); border-color: var(--line); background: var(--soft); }
.badge.cancelled { color: #444; border-color: #ccc; background: #f1f1f1; }
.badge.crashed, .badge.takeover { color: var(--bad); border-color: #f1b5b0; background: #fdf0ef; }
.badge.resumed { color: var(--run); border-color: #b3cdf0; background: #eef5fd; }
.badge.started, .badge.worker { color: var(--muted); border-color: var(--line); background: var(--soft); }
.reason { color: var(--wait); }
.err { color: var(--bad); }
.pager { display: flex; align-items: center; gap: 10px; margin: 10px 0; }
input.narrow { width: 90px; }
.pager .where { font-variant-numeric: tabular-nums; color: var(--muted); }
.header-line { display: flex; flex-wrap: wrap; align-items: baseline; gap: 10px 14px; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px 16px; margin: 12px 0 0; }
dl.facts dt { color: var(--muted); font-size: 12px; }
dl.facts dd { margin: 0; word-break: break-word; }
dl.facts .wide { grid-column: 1 / -1; }
td.num, th.num, td button, .badge, time { white-space: nowrap; }
.run-top { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px; align-items: start; }
.run-top > #steer:empty { display: none; }
.run-top:has(> #steer:empty) { grid-template-columns: 1fr; }
.chip.zero { color: var(--muted); }
.errbox { margin-top: 10px; padding: 8px 12px; background: #fdf0ef; border: 1px solid #f1b5b0; border-radius: 6px; color: var(--bad); }
.waitbox { margin-top: 10px; padding: 8px 12px; background: #f6f1fd; border: 1px solid #d4c2f0; border-radius: 6px; color: var(--wait); }
.steer { display: grid; gap: 12px; }
.steer form { display: grid; gap: 8px; }
.steer textarea { min-height: 90px; }
.steer .row { align-items: flex-end; }
.gate { border-left: 4px solid var(--wait); padding-left: 12px; display: grid; gap: 6px; }
.trace-frame { width: 100%; height: 560px; border: 1px solid var(--line); border-radius: 6px; background: #fff; display: block; }
.tl { position: relative; height: 14px; background: var(--soft); border-radius: 3px; min-width: 160px; }
.tl span { position: absolute; top: 0; bottom: 0; border-radius: 3px; background: #8fb0e6; }
.tl span.crashed, .tl span.takeover { background: #e38b84; }
.tl span.completed { background: #79c79b; }
.diff { margin: 0; padding: 0; list-style: none; font-family: var(--mono); font-size: 12.5px; }
.diff li { padding: 1px 0; word-break: break-word; }
.diff .op { display: inline-block; width: 14px; font-weight: 700; }
.diff .add .op { color: var(--ok); }
.diff .remove .op { color: var(--bad); }
.diff .replace .op { color: var(--warn); }
.diff .before { color: var(--bad); text-decoration: line-through; }
.diff .after { color: var(--ok); }
details > summary { cursor: pointer; color: var(--accent); }
details.json pre { max-height: 280px; overflow: auto; background: var(--soft); padding: 6px 8px; border-radius: 4px; margin-top: 4px; }
.section-head { display: flex; align-items: baseline; gap: 10px; margin-bottom: 8px; }
.section-head h2 { margin: 0; }
.tabs { display: flex; gap: 4px; border-bottom: 1px solid var(--line); margin-bottom: 10px; }
.tabs button { border: 0; border-bottom: 2px solid transparent; border-radius: 0; background: none; padding: 6px 10px; color: var(--muted); }
.tabs button[aria-selected="true"] { color: var(--ink); border-bottom-color: var(--accent); font-weight: 600; }
dialog { border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; width: min(760px, 92vw); box-shadow: 0 12px 40px rgba(0,0,0,.18); }
dialog::backdrop { background: rgba(20, 26, 38, .35); }
dialog form { display: grid; gap: 10px; }
dialog h2, dialog p { margin: 0; }
dialog textarea { min-height: 300px; }
.scroll { max-height: 460px; overflow: auto; }
.empty { color: var(--muted); padding: 10px 0; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
tr.differs td { background: #fff8e6; }
#cmp-trace { height: 720px; }
#cmp-form input { width: 300px; }
#cmp-table th[scope=row] { width: 160px; text-transform: none; font-size: 13px; letter-spacing: 0; }
.top nav { display: flex; gap: 14px; }
.top nav a { color: #c9d2de; font-weight: 400; }
.top nav a[aria-current=page] { color: #fff; font-weight: 600; }
label.block { display: flex; }
@media (max-width: 1000px) { .grid2, .run-top { grid-template-columns: 1fr; } }
`;

/**
 * Loom Studio's pages: the HTML shells and the static assets (script, style) they load.
 *
 * Every page is a complete document with no inline script or style, so the studio's strict CSP
 * (`default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src
 * 'self'`) holds; the script (`studio.js`) builds the page from the JSON API with DOM calls
 * only, so run names, states and errors stay text. All URLs start with the base path read from
 * `<meta name="loom-studio-base">`, so the pages work at `/` and mounted under a prefix.
 *
 * @module
 */

import { COMPARE_JS } from "./compare_page.ts";
import { CORE_JS } from "./core.ts";
import { RUN_JS } from "./run_page.ts";
import { RUNS_JS } from "./runs_page.ts";
import { STEER_JS } from "./steer.ts";
import { STUDIO_CSS } from "./style.ts";

/** The kinds of page the studio serves. */
export type StudioPageKind = "runs" | "run" | "compare";

/** Options of {@linkcode studioPage}. */
export interface StudioPageOptions {
  /** The studio's base path ("" at the root, "/studio" when mounted); every URL starts with it. */
  basePath: string;
  /** The run the page shows (run page; run a of the compare page). */
  runId?: string;
  /** The document title; defaults to one naming the page. */
  title?: string;
}

/** A static file the studio serves at `{base}/assets/<name>`. */
export interface StudioAsset {
  /** Its content type. */
  type: string;
  /** Its text. */
  body: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const DEFAULT_TITLES: Record<StudioPageKind, string> = {
  runs: "Runs",
  run: "Run",
  compare: "Compare runs",
};

/**
 * Returns the complete HTML document of a studio page: a shell whose script fills it in.
 *
 * @param kind Which page: the runs list, one run, or the comparison of two runs.
 * @param options The base path (required), the run id and the title.
 * @returns The HTML text, with every option escaped.
 */
export function studioPage(kind: StudioPageKind, options: StudioPageOptions): string {
  const base = escapeHtml(options.basePath.replace(/\/+$/, ""));
  const runId = options.runId ?? "";
  const title = options.title ??
    (kind === "run" && runId ? `Run ${runId}` : DEFAULT_TITLES[kind]);
  const current = (k: StudioPageKind) => kind === k ? ' aria-current="page"' : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<meta name="loom-studio-base" content="${base}">
<meta name="loom-studio-page" content="${kind}">
<meta name="loom-studio-run" content="${escapeHtml(runId)}">
<title>${escapeHtml(title)} · Loom Studio</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/assets/studio.css">
<script src="${base}/assets/studio.js" defer></script>
</head>
<body data-page="${kind}">
<header class="top">
<a class="brand" href="${base}/">Loom Studio</a>
<nav aria-label="Pages"><a href="${base}/"${current("runs")}>Runs</a><a href="${base}/compare"${
    current("compare")
  }>Compare</a></nav>
<span class="where" id="where"></span>
<span class="live" id="live" role="status">connecting…</span>
</header>
<main>
<div id="info-banner"></div>
<div id="notices" aria-live="polite"></div>
<div id="main"><p class="muted">Loading…</p></div>
</main>
</body>
</html>
`;
}

const BOOT_JS = String.raw`
async function boot() {
  await loadInfo();
  startLive();
  if (PAGE === "runs") runsPage();
  else if (PAGE === "run") runPage();
  else if (PAGE === "compare") comparePage();
}
boot().catch(function (e) { notice("error", e.message); });
`;

/** The page script: every part inside one strict-mode function, so nothing leaks into globals. */
const STUDIO_JS = `(function () {
"use strict";
${CORE_JS}
${RUNS_JS}
${RUN_JS}
${STEER_JS}
${COMPARE_JS}
${BOOT_JS}
})();
`;

/** The assets the pages load, keyed by file name (served at `{base}/assets/<name>`). */
export const STUDIO_ASSETS: Record<string, StudioAsset> = {
  "studio.css": { type: "text/css; charset=utf-8", body: STUDIO_CSS },
  "studio.js": { type: "text/javascript; charset=utf-8", body: STUDIO_JS },
};

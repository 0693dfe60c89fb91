/**
 * Loom Studio's pages: the HTML shells and the static assets (script, style) they load.
 *
 * Every page is a complete document with no inline script or style, so the studio's strict CSP
 * (`script-src 'self'; style-src 'self'`) holds; the script builds the page from the JSON API.
 *
 * @module
 */

/** The kinds of page the studio serves. */
export type StudioPageKind = "runs" | "run" | "compare";

/** Options of {@linkcode studioPage}. */
export interface StudioPageOptions {
  /** The studio's base path ("" at the root, "/studio" when mounted); every URL starts with it. */
  basePath: string;
  /** The run the page shows (run and compare pages). */
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

/** Returns the complete HTML document of a studio page. */
export function studioPage(kind: StudioPageKind, options: StudioPageOptions): string {
  const base = escapeHtml(options.basePath);
  const title = escapeHtml(options.title ?? (options.runId ? `Run ${options.runId}` : "Runs"));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="loom-studio-base" content="${base}">
<meta name="loom-studio-page" content="${kind}">
<meta name="loom-studio-run" content="${escapeHtml(options.runId ?? "")}">
<title>${title} · Loom Studio</title>
<link rel="stylesheet" href="${base}/assets/studio.css">
<script src="${base}/assets/studio.js" defer></script>
</head>
<body>
<header class="top"><a href="${base}/">Loom Studio</a></header>
<main id="main"><p>Loading…</p></main>
</body>
</html>
`;
}

/** The assets the pages load, keyed by file name. */
export const STUDIO_ASSETS: Record<string, StudioAsset> = {
  "studio.css": {
    type: "text/css; charset=utf-8",
    body: "body{font-family:system-ui,sans-serif;margin:0}\n",
  },
  "studio.js": {
    type: "text/javascript; charset=utf-8",
    body: `"use strict";\ndocument.getElementById("main").textContent = "Loom Studio";\n`,
  },
};

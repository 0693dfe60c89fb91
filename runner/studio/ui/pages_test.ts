import assert from "node:assert/strict";
import { STUDIO_ASSETS, studioPage } from "./pages.ts";

Deno.test("studio pages: no inline script or style, every option escaped, assets under the base", () => {
  const page = studioPage("run", { basePath: '/st"udio', runId: '<img src=x onerror="alert(1)">' });
  for (const kind of ["runs", "run", "compare"] as const) {
    const plain = studioPage(kind, { basePath: "/studio", runId: "r1" });
    assert.doesNotMatch(plain, /<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:/i);
  }
  assert.doesNotMatch(page, /<img/);
  assert.match(page, /content="&#60;img src=x onerror=&#34;alert\(1\)&#34;&#62;"/);
  assert.match(page, /<script src="\/st&#34;udio\/assets\/studio\.js" defer><\/script>/);
  assert.match(page, /<link rel="stylesheet" href="\/st&#34;udio\/assets\/studio\.css">/);
  for (const kind of ["runs", "run", "compare"] as const) {
    assert.match(
      studioPage(kind, { basePath: "" }),
      new RegExp(`name="loom-studio-page" content="${kind}"`),
    );
  }
  // A trailing slash on the base path does not double the slashes of asset URLs.
  assert.match(
    studioPage("runs", { basePath: "/studio/" }),
    /href="\/studio\/assets\/studio\.css"/,
  );
});

Deno.test("studio script: parses, and never hands data to an HTML parser", () => {
  const js = STUDIO_ASSETS["studio.js"];
  assert.match(js.type, /^text\/javascript/);
  new Function(js.body); // a syntax error throws here
  assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  // Every POST goes through post(), which sends the studio header.
  assert.equal(js.body.match(/method: "POST"/g)?.length, 1);
  assert.match(js.body, /"x-loom-studio": "1"/);
  assert.match(js.body, /credentials: "same-origin"/);
  // No URL outside the page: every fetch/EventSource URL is built by url() from the base path.
  assert.doesNotMatch(js.body, /https?:\/\//);
  assert.match(STUDIO_ASSETS["studio.css"].type, /^text\/css/);
  assert.doesNotMatch(STUDIO_ASSETS["studio.css"].body, /url\(|@import|https?:/);
});

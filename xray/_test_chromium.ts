// Headless Chromium for the browser tests (xray's viewer, runner's Loom Studio): Debian's
// `/usr/bin/chromium` (or `LOOM_CHROMIUM`) driven by playwright-core. Not published.
import { type Browser, chromium } from "npm:playwright-core@1";

const CHROMIUM = Deno.env.get("LOOM_CHROMIUM") ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Launches headless Chromium. Fails (never skips) when it is missing: a page nobody opened in a
 * browser is untested.
 */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set LOOM_CHROMIUM`,
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

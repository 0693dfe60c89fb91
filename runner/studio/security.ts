/**
 * The studio's guards: the headers every answer carries (a strict Content-Security-Policy on
 * HTML, no sniffing, no referrer), the token rule (the one `loom-runner serve` always had: a
 * bearer header, or `?token=` once in a browser, which sets an HttpOnly SameSite=Strict cookie),
 * the check a state-changing request must pass (a custom header, plus the token or a same-origin
 * `Origin`), and a request body reader that stops at the size limit.
 *
 * @module
 */
import { checkRequestToken, isLoopback } from "@loom/xray/serve";

/** The Content-Security-Policy of every studio HTML page: nothing from outside the page. */
export const STUDIO_CSP: string = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'self'";

/**
 * The CSP of the xray trace pages the studio frames: xray's page is one self-contained file with
 * inline script and style, so those are allowed; nothing else is (no network, no outside URL).
 */
export const TRACE_CSP: string = "default-src 'none'; script-src 'unsafe-inline'; " +
  "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'self'";

/** The header every state-changing request carries (a form on another site cannot set it). */
export const STUDIO_HEADER = "x-loom-studio";

/** Largest request body, bytes: a fork's edited state fits, a flood does not. */
export const MAX_BODY_BYTES = 64 * 1024;

const TOKEN_COOKIE = "loom_studio_token";

/** Headers of every answer; `csp` is set for HTML. */
export function baseHeaders(contentType: string, csp?: string): Headers {
  const h = new Headers();
  h.set("content-type", contentType);
  h.set("cache-control", "no-store");
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "no-referrer");
  if (csp) {
    h.set("content-security-policy", csp);
    h.set("x-frame-options", "SAMEORIGIN");
  }
  return h;
}

/** A JSON answer. */
export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: baseHeaders("application/json; charset=UTF-8"),
  });
}

/** A JSON error answer: `{ error: "one sentence" }`. */
export function jsonError(status: number, error: string): Response {
  return json({ error }, status);
}

/** An HTML answer with the given CSP (the studio's by default). */
export function html(body: string, status = 200, csp = STUDIO_CSP): Response {
  return new Response(body, { status, headers: baseHeaders("text/html; charset=UTF-8", csp) });
}

/**
 * Checks a request against the token. Returns the 401 answer when it fails, else the
 * `set-cookie` value to add (when the token came as `?token=`), else `undefined`.
 */
export function checkToken(
  request: Request,
  url: URL,
  token: string,
  cookiePath: string,
): { refused: Response } | { cookie?: string } {
  const check = checkRequestToken(request, url, token, { name: TOKEN_COOKIE, path: cookiePath });
  if (!check.accepted) {
    const refused = jsonError(
      401,
      "a valid token is required (Authorization: Bearer <token>, or ?token= once in a browser)",
    );
    refused.headers.set("www-authenticate", 'Bearer realm="loom studio"');
    return { refused };
  }
  return { cookie: check.setCookie };
}

/**
 * Why a state-changing request is refused (403), or `undefined` when it may proceed: it must
 * carry `x-loom-studio: 1`, and either the token was checked already (`tokenChecked`) or its
 * `Origin` is the server's own.
 */
export function refuseWrite(request: Request, url: URL, tokenChecked: boolean): string | undefined {
  if (request.headers.get(STUDIO_HEADER) !== "1") {
    return `a state-changing request needs the header ${STUDIO_HEADER}: 1`;
  }
  if (tokenChecked) return undefined;
  const origin = request.headers.get("origin");
  if (origin === null) return "a state-changing request needs an Origin header (or the token)";
  const own = [url.origin, hostOrigin(request, url)];
  if (!own.includes(origin)) return `the origin ${origin} is not this server's`;
  return undefined;
}

/**
 * Why a request is refused (403) when no token is set, or `undefined`: its `Host` must name this
 * machine (`localhost`, `127.x.x.x`, `[::1]`). Without this, a page on another site whose name
 * was made to resolve to 127.0.0.1 (DNS rebinding) would be "same origin" with the studio.
 */
export function refuseHost(request: Request, url: URL): string | undefined {
  const host = request.headers.get("host") ?? url.host;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return "the Host header is not a host name";
  }
  if (isLoopback(hostname)) return undefined;
  return `the studio answers only requests for this machine (Host ${hostname} is not a loopback ` +
    "name); set a token to serve it under another name";
}

/** The origin the browser used, from the Host header (a proxy may rewrite the request URL). */
function hostOrigin(request: Request, url: URL): string | undefined {
  const host = request.headers.get("host");
  return host ? `${url.protocol}//${host}` : undefined;
}

/** A request body over the limit. */
export class BodyTooLargeError extends Error {
  /** Creates the error naming the limit. */
  constructor(limit: number) {
    super(`the request body is larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * Reads a request body as text, stopping (and cancelling the stream) as soon as it is known to be
 * larger than `limit`: from `Content-Length` before reading anything, else while streaming.
 *
 * @throws {BodyTooLargeError} When the body is larger than `limit`.
 */
export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(limit);
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

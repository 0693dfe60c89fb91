/**
 * The studio's POST routes (steering), guarded in this order: the custom header and the token or
 * a same-origin `Origin` (403, also when the studio is read-only), the body size (413, before
 * more is read), a JSON object (400), a known run (404); then `steer.ts` does the action.
 *
 * @module
 */
import type { RunRecord } from "../store/store.ts";
import type { StudioContext } from "./handler.ts";
import type { StudioRoute } from "./routes.ts";
import { BodyTooLargeError, jsonError, readBody, refuseWrite } from "./security.ts";
import { steer } from "./steer.ts";

/** What a POST needs beyond the shared context. */
export interface PostContext extends StudioContext {
  /** Whether the token was required (and so checked) for this request. */
  tokenChecked: boolean;
  /** Largest request body, bytes. */
  maxBodyBytes: number;
  /** Starts advancing a run with the embedded worker's agents. */
  advance(run: RunRecord): void;
}

/** The request body as a JSON object, or the answer refusing it. */
async function jsonBody(
  request: Request,
  maxBodyBytes: number,
): Promise<Record<string, unknown> | Response> {
  let text: string;
  try {
    text = await readBody(request, maxBodyBytes);
  } catch (e) {
    if (e instanceof BodyTooLargeError) return jsonError(413, e.message);
    throw e;
  }
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return jsonError(400, "the request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return jsonError(400, "the request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** Answers a steering POST. */
export async function answerPost(
  ctx: PostContext,
  request: Request,
  url: URL,
  route: Extract<StudioRoute, { kind: "steer" }>,
): Promise<Response> {
  const refusal = ctx.readOnly
    ? "this studio is read-only"
    : refuseWrite(request, url, ctx.tokenChecked);
  if (refusal) {
    await request.body?.cancel().catch(() => {});
    return jsonError(403, refusal);
  }
  const body = await jsonBody(request, ctx.maxBodyBytes);
  if (body instanceof Response) return body;
  const run = await ctx.store.getRun(route.runId);
  if (!run) return jsonError(404, `no run "${route.runId}" in this store`);
  const { store, agents, advance } = ctx;
  const answer = await steer({ store, agents, advance }, route.action, run, body);
  ctx.events.kick();
  return answer;
}

// A streaming loop on @loom/tailcalls: `tailstream` turns a paged HTTP API into one stream of
// items. Each step fetches one page, yields its items, and ends with `return recur(nextPage)`.
// The consumer takes only what it needs and breaks: thanks to back-pressure only the pages it
// reached were ever requested, and the interrupted step's `finally` still ran.
//
// The API is a real HTTP server on 127.0.0.1 started by this script (100 items, 10 per page).
// Run: deno run -A examples/streaming_loop.ts [--take 25] [--json]
import { parseArgs } from "node:util";
import { recur, tailstream } from "@loom/tailcalls";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { take: { type: "string", default: "25" }, json: { type: "boolean", default: false } },
});
const take = Number(flags.take);
if (!Number.isInteger(take) || take < 0) {
  console.error(`--take must be a whole number of items, got "${flags.take}"`);
  Deno.exit(2);
}
const say = (line: string) => flags.json || console.log(line);

// --- the paged API ----------------------------------------------------------------------------

const TOTAL = 100;
const PAGE_SIZE = 10;
const requested: number[] = [];
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  const page = Number(new URL(request.url).searchParams.get("page") ?? "1");
  requested.push(page);
  const first = (page - 1) * PAGE_SIZE;
  const items = Array.from(
    { length: Math.max(0, Math.min(PAGE_SIZE, TOTAL - first)) },
    (_, i) => ({ id: first + i + 1, title: `issue #${first + i + 1}` }),
  );
  const next = first + PAGE_SIZE < TOTAL ? page + 1 : null;
  return Response.json({ items, next });
});
const base = `http://127.0.0.1:${server.addr.port}/items`;

// --- the streaming loop -----------------------------------------------------------------------

interface Item {
  id: number;
  title: string;
}

let stepsClosed = 0;
/** One step = one page: yield its items, then bounce to the next page or finish. */
const allItems = tailstream(async function* fetchPages(page: number) {
  try {
    const response = await fetch(`${base}?page=${page}`);
    if (!response.ok) throw new Error(`page ${page}: HTTP ${response.status}`);
    const body: { items: Item[]; next: number | null } = await response.json();
    yield* body.items;
    return body.next === null ? "end of list" : recur(body.next);
  } finally {
    stepsClosed++; // runs on normal completion and when the consumer breaks mid-page
  }
});

say("Loom demo: a streaming loop on @loom/tailcalls (tailstream over a paged HTTP API)");
say(`  API: ${base} serves ${TOTAL} items, ${PAGE_SIZE} per page; the consumer wants ${take}`);
say("");

const taken: Item[] = [];
if (take > 0) {
  for await (const item of allItems(1)) {
    taken.push(item);
    if (taken.length % PAGE_SIZE === 1) say(`  got #${item.id} (page ${requested.at(-1)} fetched)`);
    if (taken.length === take) break; // stop early: the running step is closed, no more pages
  }
}
await server.shutdown();

if (flags.json) {
  console.log(JSON.stringify({ taken: taken.length, pagesRequested: requested, stepsClosed }));
} else {
  say("");
  say(`took ${taken.length} items: #${taken[0]?.id ?? "-"} .. #${taken.at(-1)?.id ?? "-"}`);
  say(
    `pages requested: ${requested.join(", ") || "none"} (of ${TOTAL / PAGE_SIZE}); ` +
      `the stream never ran ahead of the consumer`,
  );
  say(`steps closed: ${stepsClosed} (the interrupted step's finally ran too)`);
}

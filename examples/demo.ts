/**
 * The Loom demo (`deno task demo`): start a durable agent run in a child process, SIGKILL it in
 * the middle, resume it here, then explain it and write its HTML trace. Everything lives in an
 * embedded SQLite file (`loom-demo.sqlite` in the current directory, or the path given as the
 * first argument).
 */
import { explainRun, formatExplain, openStore, resumeRun } from "@loom/runner";
import { traceRun } from "@loom/runner/trace";
import { writeHtml } from "@loom/xray";
import agent from "./research_agent.ts";

const db = Deno.args[0] ?? "loom-demo.sqlite";
const effects = `${db}.effects.log`;
const tracePath = db.replace(/\.sqlite$/, "") + "-trace.html";
const runId = `demo-${Date.now().toString(36)}`;
const cli = new URL("../runner/cli.ts", import.meta.url).pathname;
const agentPath = new URL("./research_agent.ts", import.meta.url).pathname;
const say = (s: string) => console.log(s);

say(`Loom demo: run ${runId} in ${db}\n`);
say("1. Start the research agent in a child process (6 slow tool calls, one per step)...");
await Deno.writeTextFile(effects, "");
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", cli, "run", agentPath, "--run-id", runId, "--db", db, "--quiet"],
  env: { LOOM_DEMO_EFFECTS: effects },
  stdout: "null",
  stderr: "null",
}).spawn();

const store = openStore(db, { create: true });
// Wait until the child has committed 3 steps, then kill it without warning.
for (let committed = 0; committed < 3;) {
  await new Promise((r) => setTimeout(r, 50));
  committed = (await store.getRun(runId)) ? (await store.stepStats(runId)).count : 0;
}
child.kill("SIGKILL");
await child.status;
say(`2. SIGKILLed it after ${(await store.stepStats(runId)).count} committed steps.`);

say("3. Resume here: the run continues from its last committed checkpoint.");
Deno.env.set("LOOM_DEMO_EFFECTS", effects); // this process logs its real tool runs too
const result = await resumeRun(agent, { store, runId });
const summary = (result.result as { summary?: string } | undefined)?.summary;
say(`   -> ${result.status} after ${result.steps} steps: ${summary}\n`);

const fetches = (await Deno.readTextFile(effects)).trim().split("\n");
const distinct = new Set(fetches.map((l) => l.split(" ")[0])).size;
say(
  `4. The tool really ran ${fetches.length} times for ${distinct} distinct calls` +
    (fetches.length === distinct
      ? " (no finished call was repeated)."
      : " (one call was cut by the kill between its side effect and its record: the documented window)."),
);

say("\n5. What happened, from the database alone (`deno task runner explain ...`):\n");
say(formatExplain(await explainRun(store, runId)));
await writeHtml(await traceRun(store, runId), tracePath);
store.close();
say(`\n6. Trace written to ${tracePath}: open it in a browser (works offline).`);
say(`   Try: deno task runner history --run-id ${runId} --db ${db}`);

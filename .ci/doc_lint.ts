/**
 * `deno doc --lint` on every export of every workspace member, each entry point on its own (as
 * JSR documents it), so a type an entry's API names but does not export is caught
 * (`private-type-ref`). Part of `deno task check`. Prints the failing entries; exit 1 if any.
 *
 * @module
 */
const root = new URL("../", import.meta.url);
const { workspace } = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
  workspace: string[];
};

const entries: string[] = [];
for (const member of workspace) {
  const config = JSON.parse(await Deno.readTextFile(new URL(`${member}/deno.json`, root)));
  const exports: Record<string, string> = typeof config.exports === "string"
    ? { ".": config.exports }
    : config.exports ?? {};
  for (const file of Object.values(exports)) entries.push(`${member}/${file.replace(/^\.\//, "")}`);
}

const results = await Promise.all(entries.map(async (entry) => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", entry],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { entry, ok: out.success, errors: new TextDecoder().decode(out.stderr) };
}));

const failed = results.filter((r) => !r.ok);
for (const r of failed) console.error(`deno doc --lint ${r.entry}:\n${r.errors}`);
console.log(`deno doc --lint: ${results.length - failed.length} of ${results.length} entry points clean`);
Deno.exit(failed.length === 0 ? 0 : 1);

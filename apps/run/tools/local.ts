/**
 * The local tools: `read_file`, `list_files`, `search` and `run_tests`, all confined to the
 * workspace, with capped outputs. loom-run's own run database (`loom-run.sqlite*`, and the
 * `--db` file when it lies in the workspace) is not a workspace file: never listed, searched or
 * read. Names that a listing could misread are shown quoted (`quotePath`).
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { childEnv } from "./child_env.ts";
import { capOutput, stringArg, type Tool, ToolError } from "./types.ts";
import { Workspace } from "./workspace.ts";

/** Options of the local tools. */
export interface LocalToolOptions {
  /** The workspace directory. */
  workspace: string;
  /** `run_tests` command as an argument vector. */
  testCommand: string[];
  /** `run_tests` timeout in ms. */
  testTimeoutMs: number;
  /** Files the tools must not show (the run database); their `-wal`/`-shm`/`-journal` too. */
  hiddenFiles?: string[];
}

/** Directories never listed or searched: version control and dependency caches. */
const SKIPPED_DIRS = new Set([".git", "node_modules", ".hg", ".svn", "__pycache__", ".loom-tmp"]);
const MAX_LIST = 500;
const MAX_MATCHES = 200;
const MAX_SEARCH_FILE = 1_000_000;
/** loom-run's default database and its companions, wherever they are. */
const RUN_DB_NAME = /^loom-run\.sqlite(-wal|-shm|-journal)?$/;

/** Which files are loom-run's own state rather than the workspace's. */
class Hidden {
  readonly #paths = new Set<string>();

  constructor(files: string[]) {
    for (const file of files) {
      const absolute = resolve(file);
      const forms = [absolute];
      try {
        // The workspace root is a real path, so compare with the database's real folder too.
        forms.push(join(Deno.realPathSync(dirname(absolute)), basename(absolute)));
      } catch {
        // the folder does not exist (yet): the plain form is enough
      }
      for (const form of forms) {
        for (const suffix of ["", "-wal", "-shm", "-journal"]) this.#paths.add(form + suffix);
      }
    }
  }

  has(path: string): boolean {
    return RUN_DB_NAME.test(basename(path)) || this.#paths.has(path);
  }
}

/** Builds the four local tools for a workspace. */
export function localTools(options: LocalToolOptions): Tool[] {
  const ws = new Workspace(options.workspace);
  const hidden = new Hidden(options.hiddenFiles ?? []);
  return [
    {
      name: "read_file",
      source: "local",
      description:
        "Read a text file of the workspace. Lines are numbered. Optional 1-based line range.",
      parameters: {
        type: "object",
        properties: {
          path: { type: "string", description: "path relative to the workspace" },
          start_line: { type: "integer" },
          end_line: { type: "integer" },
        },
        required: ["path"],
      },
      run: (args) => readFile(ws, hidden, args),
    },
    {
      name: "list_files",
      source: "local",
      description:
        'List the files under a workspace directory, recursively (skips .git and node_modules). A name with a newline, other control character or ":" is shown as a JSON string ("a\\nb.txt"); pass it back as shown or unquoted.',
      parameters: {
        type: "object",
        properties: {
          path: { type: "string", description: "directory relative to the workspace, default ." },
        },
      },
      run: (args) => listFiles(ws, hidden, stringArg(args, "path", ".")),
    },
    {
      name: "search",
      source: "local",
      description:
        "Search the workspace's text files for a string (case-insensitive); prints file:line: text.",
      parameters: {
        type: "object",
        properties: {
          query: { type: "string" },
          path: { type: "string", description: "directory or file to search, default ." },
        },
        required: ["query"],
      },
      run: (args) => search(ws, hidden, stringArg(args, "query"), stringArg(args, "path", ".")),
    },
    {
      name: "run_tests",
      source: "local",
      description: `Run the project's tests (${
        options.testCommand.join(" ")
      }) and return the exit code and output.`,
      parameters: { type: "object", properties: {} },
      run: (_args, { signal, warn }) => runTests(ws, options, signal, warn),
    },
  ];
}

/** Refuses loom-run's own database files as if they were not in the workspace. */
function refuseHidden(hidden: Hidden, real: string, path: string): void {
  if (hidden.has(real)) {
    throw new ToolError(`'${path}' is loom-run's run database, not a workspace file`);
  }
}

async function readFile(
  ws: Workspace,
  hidden: Hidden,
  args: Record<string, unknown>,
): Promise<string> {
  const path = stringArg(args, "path");
  const real = await ws.resolve(path);
  refuseHidden(hidden, real, path);
  const info = await Deno.stat(real);
  if (info.isDirectory) throw new ToolError(`'${path}' is a directory; use list_files`);
  const bytes = await Deno.readFile(real);
  if (bytes.subarray(0, 8000).includes(0)) throw new ToolError(`'${path}' is a binary file`);
  const lines = new TextDecoder().decode(bytes).split("\n");
  if (lines.at(-1) === "") lines.pop();
  const start = Math.max(1, Number(args.start_line ?? 1) || 1);
  const end = Math.min(lines.length, Number(args.end_line ?? lines.length) || lines.length);
  const numbered = lines.slice(start - 1, end).map((line, i) =>
    `${String(start + i).padStart(4)}  ${line}`
  );
  return capOutput(`${ws.display(real)} (${lines.length} lines)\n${numbered.join("\n")}`);
}

/**
 * Walks a directory without following symlinks (a symlink is listed, never entered), so a link
 * pointing out of the workspace cannot widen what the tools see.
 */
async function* walk(
  ws: Workspace,
  hidden: Hidden,
  dir: string,
): AsyncGenerator<{ path: string; isFile: boolean; isSymlink: boolean }> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  // Code-unit order, not locale order: the listing must be the same on every machine.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (SKIPPED_DIRS.has(entry.name)) continue;
      yield* walk(ws, hidden, path);
    } else if (!hidden.has(path)) {
      yield { path, isFile: entry.isFile, isSymlink: entry.isSymlink };
    }
  }
}

async function listFiles(ws: Workspace, hidden: Hidden, path: string): Promise<string> {
  const root = await ws.resolve(path);
  if (!(await Deno.stat(root)).isDirectory) throw new ToolError(`'${path}' is not a directory`);
  const lines: string[] = [];
  let total = 0;
  for await (const entry of walk(ws, hidden, root)) {
    total++;
    if (lines.length < MAX_LIST) {
      lines.push(ws.display(entry.path) + (entry.isSymlink ? " (symlink)" : ""));
    }
  }
  if (total > MAX_LIST) lines.push(`[... ${total - MAX_LIST} more files]`);
  return capOutput(lines.length ? lines.join("\n") : "(no files)");
}

async function search(
  ws: Workspace,
  hidden: Hidden,
  query: string,
  path: string,
): Promise<string> {
  if (query.trim() === "") throw new ToolError("the search query is empty");
  const root = await ws.resolve(path);
  refuseHidden(hidden, root, path);
  const needle = query.toLowerCase();
  const files = (await Deno.stat(root)).isDirectory ? walk(ws, hidden, root) : (async function* () {
    yield { path: root, isFile: true, isSymlink: false };
  })();
  const hits: string[] = [];
  let total = 0;
  for await (const file of files) {
    if (!file.isFile) continue; // symlinks are not followed
    const info = await Deno.stat(file.path);
    if (info.size > MAX_SEARCH_FILE) continue;
    const bytes = await Deno.readFile(file.path);
    if (bytes.subarray(0, 8000).includes(0)) continue;
    const lines = new TextDecoder().decode(bytes).split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].toLowerCase().includes(needle)) continue;
      total++;
      if (hits.length < MAX_MATCHES) {
        hits.push(`${ws.display(file.path)}:${i + 1}: ${lines[i].trim().slice(0, 200)}`);
      }
    }
  }
  if (total > MAX_MATCHES) hits.push(`[... ${total - MAX_MATCHES} more matches]`);
  return capOutput(hits.length ? hits.join("\n") : `no match for '${query}'`);
}

async function runTests(
  ws: Workspace,
  options: LocalToolOptions,
  signal: AbortSignal,
  warn?: (message: string) => void,
): Promise<string> {
  const [cmd, ...args] = options.testCommand;
  const timeout = AbortSignal.timeout(options.testTimeoutMs);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, {
      args,
      cwd: ws.root,
      env: { ...childEnv(), NO_COLOR: "1" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.any([signal, timeout]),
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ToolError(`the test command '${cmd}' was not found`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new ToolError(`running '${cmd}' is not permitted (add it to --allow-run)`);
    }
    throw error;
  }
  if (signal.aborted) throw signal.reason;
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  // deno's output has ANSI colours even with NO_COLOR in some paths; the LLM needs plain text.
  const plain = text.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
  // A timeout is a failure of the tool (shown as ✗), with what the command printed so far.
  if (timeout.aborted) {
    throw new ToolError(capOutput(`timed out after ${options.testTimeoutMs} ms\n${plain}`));
  }
  // Keep the tail: test runners print the failures and summary last.
  const capped = plain.length > 12_000
    ? `[... ${plain.length - 12_000} characters cut]\n${plain.slice(-12_000)}`
    : plain;
  const note = output.success ? undefined : permissionNote(ws, options.testCommand, plain);
  if (note) warn?.(note);
  return `${note ? `note: ${note}\n` : ""}exit code ${output.code}${
    output.success ? " (passed)" : " (failed)"
  }\n${capped}`;
}

/**
 * When failures come from missing Deno permissions (`NotCapable: Requires read access ...`),
 * says so and which test command would grant them: a bare `deno test` runs with none, so a
 * repository whose tests need `-A` otherwise reports every such test as failed.
 */
function permissionNote(ws: Workspace, command: string[], output: string): string | undefined {
  const kinds = new Set<string>();
  let count = 0;
  for (const m of output.matchAll(/(?:NotCapable|PermissionDenied): Requires (\w+) access/g)) {
    kinds.add(m[1]);
    count++;
  }
  if (count === 0) return undefined;
  const flags = [...kinds].sort().map((k) => `--allow-${k}`).join(" ");
  const task = hasDenoTestTask(ws) ? ' or the workspace\'s own "deno task test"' : "";
  return `${count} test error(s) say a permission is missing (${[...kinds].sort().join(", ")}): '${
    command.join(" ")
  }' runs the tests without them; if they need them, set --test-command (LOOM_RUN_TEST_COMMAND) to e.g. "deno test ${flags}"${task}`;
}

/** True when the workspace's deno.json(c) defines a `test` task. */
function hasDenoTestTask(ws: Workspace): boolean {
  for (const name of ["deno.json", "deno.jsonc"]) {
    try {
      const text = Deno.readTextFileSync(join(ws.root, name));
      // A task named "test" is all we look for; jsonc comments make a full parse unreliable.
      if (/"tasks"\s*:\s*\{[^}]*"test"\s*:/.test(text)) return true;
    } catch {
      // no such file or not readable
    }
  }
  return false;
}

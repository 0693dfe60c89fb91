/**
 * The spellings of inline code that got past the allowlist (issue 15), one table per form, each
 * also tried behind wrappers; and argv that must stay allowed. Every program is listed in the
 * allowlist, so a refusal can only come from the inline-code rule.
 */
import assert from "node:assert/strict";
import { Allowlist } from "./allowlist.ts";

const PROGRAMS = [
  "python3",
  "perl",
  "node",
  "nodejs",
  "ruby",
  "php",
  "bash",
  "sh",
  "env",
  "find",
  "awk",
  "deno",
  "pwsh",
  "xargs",
  "timeout",
  "nice",
  "nohup",
  "stdbuf",
  "sudo",
  "setsid",
  "flock",
  "su",
  "watch",
  "busybox",
  "svcctl",
];
const ALL = new Allowlist(PROGRAMS.map((p) => [p]));

/** Asserts that every argv is refused with a reason matching `reason`. */
function refused(table: string[][], reason: RegExp): void {
  for (const argv of table) {
    const d = ALL.check(argv);
    assert.ok(!d.allowed, `allowed: ${JSON.stringify(argv)}`);
    assert.match(d.reason, reason, JSON.stringify(argv));
  }
}

/** The same argv behind each kind of wrapper. */
function wrapped(argv: string[]): string[][] {
  return [
    ["env", "A=1", ...argv],
    ["env", "-i", ...argv],
    ["xargs", "-0", ...argv],
    ["timeout", "-s", "KILL", "5", ...argv],
    ["nice", "-n", "5", ...argv],
    ["nohup", ...argv],
    ["stdbuf", "-oL", ...argv],
    ["sudo", "-u", "nobody", "--", ...argv],
    ["setsid", "-f", ...argv],
    ["busybox", ...argv],
    ["timeout", "5", "nice", "env", ...argv], // a chain of wrappers
  ];
}

Deno.test('code flags glued to their value: python3 "-c…", perl "-e…"/"-E…", ruby, php, node -p…', () => {
  const table = [
    ["python3", "-cimport os; os.system('id')"],
    ["python3.12", "-cprint(1)"],
    ["perl", "-esystem('id')"],
    ["perl", "-Esay 1"],
    ["perl", "-MPOSIX;system('id')"],
    ["ruby", "-eputs 1"],
    ["php", "-rsystem('id');"],
    ["node", "-pprocess.pid"],
    ["sh", "-cid"],
  ];
  refused(table, /runs inline code/);
  refused(table.flatMap(wrapped), /runs inline code/);
});

Deno.test("long options with =: node --eval=…, --print=…, --import=data:…", () => {
  const table = [
    ["node", "--eval=require('child_process').execSync('id')"],
    ["node", "--print=1"],
    ["nodejs", "--eval", "1"],
    ["node", "--import=data:text/javascript,console.log(1)", "x.js"],
    ["deno", "run", "data:text/javascript,Deno.exit(0)"],
    ["deno", "eval", "1"],
    ["pwsh", "-Command", "id"],
    ["pwsh", "-enc", "aQBkAA=="],
    ["pwsh", "-c", "id"],
  ];
  refused(table, /runs inline code/);
  refused(table.flatMap(wrapped), /runs inline code/);
});

Deno.test("flags before the code flag, and clusters: python3 -I -c …, -Ic, -I -Sc, bash -ec, perl -le", () => {
  const table = [
    ["python3", "-I", "-c", "import os"],
    ["python3", "-Ic", "import os"],
    ["python3", "-I", "-S", "-Bc", "import os"],
    ["python3", "-W", "ignore", "-c", "x"],
    ["bash", "-e", "-o", "pipefail", "-c", "id"],
    ["bash", "-ec", "id"],
    ["perl", "-l", "-e", "print"],
    ["perl", "-le", "print"],
    ["perl", "-0e", "print"],
    ["ruby", "-w", "-e", "1"],
  ];
  refused(table, /runs inline code/);
  refused(table.flatMap(wrapped), /runs inline code/);
});

Deno.test("env -S and --split-string, in every spelling and behind wrappers", () => {
  const table = [
    ["env", "-S", "sh -c id"],
    ["env", "-Ssh -c id"],
    ["env", "-iS", "sh -c id"],
    ["env", "-0S", "sh -c id"],
    ["env", "--split-string=sh -c id"],
    ["env", "--split-string", "sh -c id"],
    ["env", "-S", "sh\\_-c\\_id"], // env's own escapes cannot hide it: -S itself is refused
    ["timeout", "5", "env", "-S", "perl -e 1"],
    ["nice", "env", "--split-string=bash -c id"],
  ];
  refused(table, /splits a string into a command line/);
});

Deno.test("find -exec, -execdir, -ok and -okdir start programs the allowlist cannot see", () => {
  const table = [
    ["find", ".", "-exec", "sh", "-c", "id", ";"],
    ["find", ".", "-name", "*.log", "-exec", "rm", "{}", "+"],
    ["find", "/", "-execdir", "id", ";"],
    ["find", ".", "-ok", "id", ";"],
    ["find", ".", "-okdir", "id", ";"],
    ["timeout", "5", "find", ".", "-exec", "id", ";"],
    ["xargs", "find", "-execdir", "id", ";"],
  ];
  refused(table, /find -(exec|execdir|ok|okdir) starts another program/);
});

Deno.test("the other wrappers: inline code behind xargs, timeout, nice, nohup, stdbuf, sudo, setsid, busybox", () => {
  refused(wrapped(["sh", "-c", "id"]), /sh -c runs inline code/);
  refused(wrapped(["python3", "-c", "x"]), /python3 -c runs inline code/);
  refused(wrapped(["awk", 'BEGIN{system("id")}']), /awk PROGRAM runs an inline program/);
  // Programs that hand a command line to a shell are refused themselves.
  refused([
    ["su", "-c", "id"],
    ["su", "-lc", "id"],
    ["sudo", "-s", "id"],
    ["sudo", "-iu", "root", "id"],
    ["flock", "/tmp/l", "-c", "id"],
    ["watch", "id"],
    ["timeout", "5", "su", "root", "--command=id"],
  ], /hands a command line to a shell/);
});

Deno.test("argv that runs no inline code stays allowed", () => {
  for (
    const argv of [
      ["svcctl", "status", "api"],
      ["svcctl", "-c", "x"], // not an interpreter: its -c is its own business
      ["python3", "-Wdefault", "script.py"],
      ["python3", "-m", "http.server"],
      ["perl", "-I/usr/lib/perl", "script.pl"],
      ["find", ".", "-name", "*.log", "-print"],
      ["awk", "-f", "prog.awk", "data.txt"],
      ["env", "FOO=1", "svcctl", "status"],
      ["timeout", "5", "svcctl", "status", "api"],
      ["sudo", "-u", "admin", "svcctl", "status"],
      ["watch", "-x", "svcctl", "status"],
      ["bash", "script.sh"],
      ["node", "server.js"],
    ]
  ) {
    assert.deepEqual(ALL.check(argv), { allowed: true }, JSON.stringify(argv));
  }
});

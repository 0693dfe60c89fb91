// The project's test: run with `deno run math_check.js`.
import { add, mul } from "./src/math.js";

let failed = 0;
function check(name, actual, expected) {
  if (actual === expected) {
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: expected ${expected}, got ${actual}`);
  }
}
check("mul(2, 3)", mul(2, 3), 6);
check("add(2, 3)", add(2, 3), 5);
console.log(`checks ok: ${2 - failed}, checks failing: ${failed}`);
if (failed > 0) Deno.exit(1);

// Prints a fresh lease owner id, to see what host part a process gets under given permissions,
// then (given an owner id) what this process can say about that owner's liveness.
import { newOwnerId, ownerLiveness } from "../engine/lease.ts";

console.log(newOwnerId());
if (Deno.args[0]) console.log(JSON.stringify(ownerLiveness(Deno.args[0])));

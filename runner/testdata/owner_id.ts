// Prints a fresh lease owner id, to see what host part a process gets under given permissions.
import { newOwnerId } from "../engine/lease.ts";

console.log(newOwnerId());

/**
 * Anchors of the audit chain in the runner's database. After each audit entry is committed, its
 * position and hash (the chain head: count + hash) are written as a run event of the runner's
 * store, through its public `addEvent`. The audit file alone cannot change them: cutting the
 * newest entries leaves an anchor pointing past the end, and rewriting an entry (even with the
 * key, re-chaining everything after it) leaves anchors whose hash no longer matches.
 *
 * @module
 */
import type { Store } from "@loom/runner";

/** The run id under which anchors are stored (an event log of its own, not a run). */
export const ANCHOR_RUN_ID = "loom-ops:audit";

/** The event kind of an anchor. */
export const ANCHOR_EVENT = "ops.audit-head";

/** The head of the chain after one entry. */
export interface AuditHead {
  /** Entries in the chain (the seq of the newest one). */
  count: number;
  /** The newest entry's hash. */
  hash: string;
  /** Fingerprint of the key that signed it. */
  keyId: string;
}

/** Where the chain head is recorded and read back. */
export interface AuditAnchor {
  /** Records the head after an entry was committed. */
  record(head: AuditHead): void | Promise<void>;
  /** Every recorded head, oldest first. */
  heads(): Promise<AuditHead[]>;
}

const PAGE = 1000;

/** Anchors kept as events in the runner's store. */
export function storeAnchor(store: Store): AuditAnchor {
  return {
    record(head) {
      return store.addEvent(
        ANCHOR_RUN_ID,
        ANCHOR_EVENT,
        `audit entry ${head.count}`,
        JSON.stringify(head),
      );
    },
    async heads() {
      const out: AuditHead[] = [];
      for (let offset = 0;; offset += PAGE) {
        const events = await store.listEvents(ANCHOR_RUN_ID, { limit: PAGE, offset });
        for (const e of events) {
          if (e.kind !== ANCHOR_EVENT || !e.data) continue;
          const h = JSON.parse(e.data) as AuditHead;
          if (Number.isInteger(h.count) && typeof h.hash === "string") out.push(h);
        }
        if (events.length < PAGE) return out;
      }
    },
  };
}

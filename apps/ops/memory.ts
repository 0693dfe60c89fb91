/**
 * Workspace memory: one note per finished run (incident, what was done, outcome), stored in an
 * SQLite FTS5 table and searched with bm25 ranking so the planner can be shown similar past
 * incidents. (`node:sqlite` in Deno ships FTS5; `memory_test.ts` checks it.)
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { immediate } from "./ops_db.ts";

/** One note. */
export interface MemoryNote {
  /** The run it came from. */
  runId: string;
  /** ISO time it was written. */
  created: string;
  /** The incident text (or runbook name). */
  incident: string;
  /** What was done (step commands). */
  actions: string;
  /** How it ended. */
  outcome: string;
}

/** A search hit. */
export interface MemoryHit extends MemoryNote {
  /** bm25 score (lower is better). */
  score: number;
}

/** Turns free text into an FTS5 query: each word quoted (no query syntax), OR-ed. */
export function ftsQuery(text: string): string | undefined {
  const words = (text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []).filter((w) => w.length > 1);
  if (words.length === 0) return undefined;
  return [...new Set(words)].map((w) => `"${w}"`).join(" OR ");
}

/** Notes from past runs, searchable by text. */
export class Memory {
  readonly #db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Stores a note once per run id; returns false if the run already has one. */
  note(note: Omit<MemoryNote, "created">): boolean {
    return immediate(this.#db, () => {
      const exists = this.#db.prepare("SELECT 1 FROM ops_memory WHERE run_id = ?").get(note.runId);
      if (exists) return false;
      this.#db.prepare(
        "INSERT INTO ops_memory (run_id, created, incident, actions, outcome) VALUES (?, ?, ?, ?, ?)",
      ).run(note.runId, new Date().toISOString(), note.incident, note.actions, note.outcome);
      return true;
    });
  }

  /** The best matches for `text`, best first. */
  search(text: string, limit = 5): MemoryHit[] {
    const q = ftsQuery(text);
    if (!q) return [];
    return this.#db.prepare(
      `SELECT run_id, created, incident, actions, outcome, bm25(ops_memory) AS score
       FROM ops_memory WHERE ops_memory MATCH ? ORDER BY score LIMIT ?`,
    ).all(q, limit).map((r) => ({
      runId: String(r.run_id),
      created: String(r.created),
      incident: String(r.incident),
      actions: String(r.actions),
      outcome: String(r.outcome),
      score: Number(r.score),
    }));
  }
}

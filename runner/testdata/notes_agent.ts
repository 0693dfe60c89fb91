// A state that grows, the shape of a chat: every step appends one note (`size` characters, some
// of them non-ASCII) and bumps a counter, with an immutable update that shares the earlier notes.
// Delta checkpoints, the v2 migration fixture and the crash tests use it. Result: the note count.
import { defineAgent, recur } from "@loom/runner";

/** One note: deterministic text for step `i`. */
export function note(i: number, size: number): { i: number; text: string } {
  const unit = `note ${i} · ünïcödé ✓ `;
  return { i, text: unit.repeat(Math.ceil(size / unit.length)).slice(0, size) };
}

export default defineAgent({
  name: "notes",
  initialState: (input: { n: number; size?: number }) => ({
    n: input.n,
    size: input.size ?? 200,
    count: 0,
    notes: [] as { i: number; text: string }[],
  }),
  step(state) {
    if (state.count >= state.n) return state.count;
    return recur({
      ...state,
      count: state.count + 1,
      notes: [...state.notes, note(state.count, state.size)],
    });
  },
});

/** The JSON text of the checkpoint after each step of a notes run (index = step). */
export function expectedNotes(input: { n: number; size?: number }): string[] {
  const size = input.size ?? 200;
  const out: string[] = [];
  const notes: { i: number; text: string }[] = [];
  for (let i = 0; i < input.n; i++) {
    notes.push(note(i, size));
    out.push(JSON.stringify({ n: input.n, size, count: i + 1, notes }));
  }
  return out;
}

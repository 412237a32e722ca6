/**
 * The index and content rules of a correct blocking-query client (Consul docs, "Blocking
 * Queries", "Implementation Details"; docs/architecture.md §3).
 */

/** What to do after a blocking query returned `returned` while we held `previous`. */
export interface IndexStep {
  /** The index to send with the next query. */
  next: number;
  /** The index went backwards (snapshot restore, server change): take the answer as a resync. */
  reset: boolean;
}

/**
 * Computes the next index. An index that goes backwards is reset to 0 so the next query returns
 * at once with the current state; an index ≤ 0 is clamped to 1 so we never loop on `index=0`.
 */
export function nextIndex(previous: number, returned: number): IndexStep {
  const clamped = clampIndex(returned);
  if (clamped < previous) return { next: 0, reset: true };
  return { next: clamped, reset: false };
}

/** A returned index as it may be sent back: a missing, zero or negative one becomes 1. */
function clampIndex(returned: number): number {
  return Number.isFinite(returned) && returned > 0 ? returned : 1;
}

/** An answer as the watch remembers it: its index (0 when unknown) and a hash of its body. */
export interface SeenAnswer {
  index: number;
  hash: string;
}

/**
 * How an answer relates to the one before: the first; the index moved; nothing new; the index
 * went backwards; the body changed at the same index; the first answer after failed reads.
 */
export type AnswerKind =
  "first" | "moved" | "unchanged" | "index-backwards" | "content-changed" | "reconnected";

/** What the watch does with one answer. */
export interface AnswerStep {
  kind: AnswerKind;
  /** Hand the answer to the consumer (it compares content with its own diff). */
  deliver: boolean;
  /** Nothing derived from earlier answers can be trusted: the consumer re-reads it all, now. */
  resync: boolean;
  /** The index to send with the next query (0: answer at once). */
  next: number;
  /** What to remember of this answer. */
  seen: SeenAnswer;
}

/** The read an answer came from. */
export interface ReadContext {
  /** The index the read sent (0: it did not block). */
  sent: number;
  /** Reads failed since the last answer. */
  recovering: boolean;
}

/**
 * Classifies an answer by index and content (docs/architecture.md §3: a return does not mean a
 * change, and an unchanged index does not mean no change).
 *
 * - An index that goes backwards, or a body that changed at the same index, asks for a resync
 *   and, after a blocking read, resets the index to 0; after such a reset the true index is
 *   unknown, so the next answer is judged by content alone. The first answer after failed reads
 *   asks for a resync too, since anything may have happened meanwhile.
 * - A blocking read that returns nothing new is confirmed at once by a read that does not block:
 *   Consul 1.8 answers a query parked across `consul snapshot restore` with the old index and
 *   the old body, and only a fresh read shows the restored (lower) index.
 */
export function stepAnswer(
  previous: SeenAnswer | undefined,
  answer: SeenAnswer,
  read: ReadContext,
): AnswerStep {
  const step = nextIndex(previous?.index ?? 0, answer.index);
  const index = clampIndex(answer.index);
  const hash = answer.hash;
  // After a blocking read, start over with a read that does not block; the answer of such a
  // read is the current state, and its index can be trusted.
  const fresh = read.sent === 0;
  const reset = (kind: AnswerKind): AnswerStep => ({
    kind,
    deliver: true,
    resync: true,
    next: fresh ? index : 0,
    seen: { index: fresh ? index : 0, hash },
  });
  if (previous === undefined) {
    return { kind: "first", deliver: true, resync: false, next: index, seen: { index, hash } };
  }
  if (step.reset) return reset("index-backwards");
  const sameIndex = previous.index === 0 || previous.index === index;
  if (previous.index !== 0 && sameIndex && hash !== previous.hash) return reset("content-changed");
  const seen = { index, hash };
  if (read.recovering) {
    return { kind: "reconnected", deliver: true, resync: true, next: index, seen };
  }
  if (sameIndex && hash === previous.hash) {
    const next = read.sent > 0 ? 0 : index;
    return { kind: "unchanged", deliver: false, resync: false, next, seen };
  }
  return { kind: "moved", deliver: true, resync: false, next: index, seen };
}

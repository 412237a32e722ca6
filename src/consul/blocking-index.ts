/**
 * The index rules of a correct blocking-query client (Consul docs, "Blocking Queries",
 * "Implementation Details"; design.md §3).
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
  const clamped = Number.isFinite(returned) && returned > 0 ? returned : 1;
  if (clamped < previous) return { next: 0, reset: true };
  return { next: clamped, reset: false };
}

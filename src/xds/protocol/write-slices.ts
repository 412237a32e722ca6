/** Default number of streams written per turn of the event loop. */
export const DEFAULT_WRITE_SLICE = 64;
/**
 * Default size of the first slice after a quiet spell: small, so the first streams' bytes leave
 * right after the change is encoded instead of after a full slice of writes is queued.
 */
export const DEFAULT_FIRST_SLICE = 8;

/**
 * Wakes streams in slices (docs/architecture.md §5): a change marks every stream subscribed to
 * it, and their writes run `sliceSize` streams per turn of the event loop, so the first streams'
 * bytes leave while the last are still being queued, and requests and other work interleave
 * instead of waiting for one loop over every stream. The first slice after a quiet spell is
 * smaller, so the first bytes leave sooner. A stream woken twice before its turn is written once.
 */
export class WriteSlices {
  private readonly queue = new Set<() => void>();
  private scheduled = false;
  /** Whether the coming slice follows another one (a full slice) or a quiet spell (a first one). */
  private following = false;

  constructor(
    private readonly sliceSize = DEFAULT_WRITE_SLICE,
    private readonly firstSliceSize = DEFAULT_FIRST_SLICE,
  ) {}

  /** Queues `write` (a stream's flush; the same function for the same stream) for a coming slice. */
  wake(write: () => void): void {
    this.queue.add(write);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    const size = this.following ? this.sliceSize : this.firstSliceSize;
    let written = 0;
    try {
      for (const write of this.queue) {
        this.queue.delete(write);
        write();
        if (++written >= size) break;
      }
    } finally {
      this.following = this.queue.size > 0;
      if (this.following) setImmediate(this.run);
      else this.scheduled = false;
    }
  };
}

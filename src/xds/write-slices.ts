/** Default number of streams written per turn of the event loop. */
export const DEFAULT_WRITE_SLICE = 64;

/**
 * Wakes streams in slices (docs/architecture.md §5): a change marks every stream subscribed to
 * it, and their writes run `sliceSize` streams per turn of the event loop, so the first streams'
 * bytes leave while the last are still being queued, and requests and other work interleave
 * instead of waiting for one loop over every stream. A stream woken twice before its turn is
 * written once.
 */
export class WriteSlices {
  private readonly queue = new Set<() => void>();
  private scheduled = false;

  constructor(private readonly sliceSize = DEFAULT_WRITE_SLICE) {}

  /** Queues `write` (a stream's flush; the same function for the same stream) for a coming slice. */
  wake(write: () => void): void {
    this.queue.add(write);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    let written = 0;
    try {
      for (const write of this.queue) {
        this.queue.delete(write);
        write();
        if (++written >= this.sliceSize) break;
      }
    } finally {
      if (this.queue.size > 0) setImmediate(this.run);
      else this.scheduled = false;
    }
  };
}

import type { CacheChanges } from "./xds-cache.ts";

/**
 * What every view of the cache shares (a node view here, a worker's mirror of one): the change
 * listeners of the streams holding it, and how many hold it; the last one to let go closes it.
 */
export abstract class HeldView {
  private readonly listeners = new Set<(changes: CacheChanges) => void>();
  private holders = 0;

  subscribe(listener: (changes: CacheChanges) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One more stream holds the view. */
  open(): void {
    this.holders += 1;
  }

  /** A stream no longer holds the view; the last one lets it go ({@link lastClosed}). */
  close(): void {
    this.holders -= 1;
    if (this.holders === 0) this.lastClosed();
  }

  /** Tells every stream holding the view what changed. */
  protected notify(changes: CacheChanges): void {
    for (const listener of this.listeners) listener(changes);
  }

  /** The last stream let the view go. */
  protected abstract lastClosed(): void;
}

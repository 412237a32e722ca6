/**
 * Coalesces bursts of changed names: the first change after a quiet period is emitted at once
 * (leading edge), later ones within `windowMs` are merged into one trailing emission
 * (docs/architecture.md §5), so one change is pushed immediately and a thousand make few pushes.
 */
export class Coalescer {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private quietUntil = 0;

  constructor(
    private readonly windowMs: number,
    private readonly emit: (names: Set<string>) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Adds changed names. */
  push(names: Iterable<string>): void {
    for (const name of names) this.pending.add(name);
    if (this.timer) return;
    const now = this.now();
    if (now >= this.quietUntil) {
      this.flush();
    } else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.quietUntil - now);
    }
  }

  /** Cancels a pending trailing emission. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    if (this.pending.size === 0) return;
    const names = this.pending;
    this.pending = new Set();
    this.quietUntil = this.now() + this.windowMs;
    this.emit(names);
  }
}

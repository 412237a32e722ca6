import type { Counter, LabelValues } from "prom-client";

/**
 * Increments of a labelled counter added up in plain numbers and given to prom-client once per
 * turn of the event loop: a push to 1,000 xDS streams and their 1,000 ACKs cost a few counter
 * updates instead of 2,000 label lookups (docs/architecture.md §5). Counts reach `/metrics` at
 * most one turn late.
 */
export class CounterTally<T extends string> {
  private readonly pending = new Map<string, { labels: LabelValues<T>; count: number }>();
  private scheduled = false;

  constructor(private readonly counter: Counter<T>) {}

  /** Adds one to the series `labels`; `key` names that series (the label values joined). */
  inc(key: string, labels: LabelValues<T>): void {
    const entry = this.pending.get(key);
    if (entry) entry.count += 1;
    else this.pending.set(key, { labels, count: 1 });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush).unref();
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    for (const { labels, count } of this.pending.values()) this.counter.inc(labels, count);
    this.pending.clear();
  };
}

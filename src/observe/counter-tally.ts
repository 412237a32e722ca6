import type { Counter } from "prom-client";

type Level = Map<string, Level | number>;

/**
 * Counts events of a labelled prom-client counter in nested maps of label values (no label
 * string built, nothing hashed per event) and adds them to the counter when {@link
 * CounterTally.flush} runs: the metrics call it before the counter is read (metrics.ts,
 * `beforeXdsCountsRead`), so a scrape sees every count and an xDS update at 1,000 streams, which
 * counts thousands of requests and responses, adds nothing to the counter itself.
 */
export class CounterTally<L extends string> {
  private readonly counts: Level = new Map();

  /** `labelNames`: the counter's labels, in the order {@link CounterTally.inc} takes values. */
  constructor(
    private readonly counter: Counter<L>,
    private readonly labelNames: readonly L[],
  ) {}

  /** Counts one event with these label values (one per label name, in order). */
  inc(first: string, second: string, third?: string): void {
    const last = this.labelNames.length - 1;
    let level = this.counts;
    for (let i = 0; i < last; i++) {
      const value = i === 0 ? first : second;
      let next = level.get(value);
      if (next === undefined) level.set(value, (next = new Map()));
      level = next as Level;
    }
    const value = last === 0 ? first : last === 1 ? second : (third ?? "");
    level.set(value, ((level.get(value) as number | undefined) ?? 0) + 1);
  }

  /** Adds the events counted since the last flush to the counter. */
  flush(): void {
    const add = (level: Level, values: string[]): void => {
      for (const [value, next] of level) {
        if (typeof next === "number") {
          const labels = Object.fromEntries(
            this.labelNames.map((name, i) => [name, [...values, value][i]]),
          ) as Partial<Record<L, string>>;
          this.counter.inc(labels, next);
        } else add(next, [...values, value]);
      }
    };
    add(this.counts, []);
    this.counts.clear();
  }
}

import type { Counter } from "prom-client";

type Level = Map<string, Level | number>;

/**
 * Counts events of a labelled prom-client counter in nested maps of label values (no label
 * string built per event) and adds them to the counter once per turn of the event loop: an xDS
 * update at 1,000 streams counts thousands of requests and responses in a few turns. A scrape
 * reaches the server in a later turn, so it sees every count.
 */
export class CounterTally<L extends string> {
  private readonly counts: Level = new Map();
  private scheduled = false;

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
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
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
  };
}

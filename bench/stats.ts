/** Small statistics for benchmark tables. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** One row of the printed table. */
export interface BenchRow {
  benchmark: string;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  target: string;
}

/** Prints rows as an aligned text table. */
export function printTable(rows: readonly BenchRow[]): void {
  const header = ["benchmark", "samples", "p50 ms", "p99 ms", "max ms", "target"];
  const cells = rows.map((r) => [
    r.benchmark,
    String(r.samples),
    r.p50Ms.toFixed(1),
    r.p99Ms.toFixed(1),
    r.maxMs.toFixed(1),
    r.target,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of cells) console.log(line(row));
}

/** A measured figure and how it compares. */
export interface Figure {
  value: number;
  unit: "ms" | "s" | "MB" | "KB" | "%" | "count";
}

/** A target: its text, and a check of the bridge's value (given the references' values). */
export interface Target {
  text: string;
  met(bridge: number, reference: References): boolean;
}

/** The same figure measured on the go-control-plane reference servers, when there is one. */
export interface References {
  linear?: number;
  snapshot?: number;
  /** The original system, modelled (propagation only). */
  original?: number;
}

/** One row of the table: one figure of the bridge, its target and verdict, its references. */
export interface BenchRow {
  /** Stable identifier (the smoke test checks every one is present). */
  id: string;
  label: string;
  bridge: Figure;
  target?: Target;
  references?: References;
  /** Why a figure could not be measured, or how to read it. */
  note?: string;
}

/** A row as JSON (`--json`): values, ratios and the verdict. */
export interface RowResult {
  id: string;
  label: string;
  unit: Figure["unit"];
  bridge: number;
  target: string;
  verdict: "met" | "MISSED" | "—";
  references: References;
  ratios: References;
  note?: string;
}

/** Evaluates a row: its verdict, and bridge / reference for each reference. */
export function evaluate(row: BenchRow): RowResult {
  const references = row.references ?? {};
  const ratios: References = {};
  for (const key of ["linear", "snapshot", "original"] as const) {
    const reference = references[key];
    if (reference !== undefined) ratios[key] = row.bridge.value / reference;
  }
  const verdict = !row.target
    ? "—"
    : row.target.met(row.bridge.value, references)
      ? "met"
      : "MISSED";
  return {
    id: row.id,
    label: row.label,
    unit: row.bridge.unit,
    bridge: row.bridge.value,
    target: row.target?.text ?? "—",
    verdict,
    references,
    ratios,
    ...(row.note ? { note: row.note } : {}),
  };
}

function formatValue(value: number | undefined, unit: Figure["unit"]): string {
  if (value === undefined) return "—";
  if (!Number.isFinite(value)) return String(value);
  const digits = unit === "count" ? (Number.isInteger(value) ? 0 : 2) : value >= 100 ? 0 : 1;
  return `${value.toFixed(unit === "s" ? 3 : digits)} ${unit === "count" ? "" : unit}`.trim();
}

function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined) return "—";
  if (!Number.isFinite(ratio)) return "n/a";
  // Two significant digits for ratios far below 1 (e.g. against the modelled original).
  return `${ratio < 0.01 ? ratio.toPrecision(2) : ratio.toFixed(2)}×`;
}

/** Prints the rows as one aligned table (Markdown-compatible), then the notes. */
export function printTable(results: readonly RowResult[]): void {
  const header = [
    "figure",
    "bridge",
    "target",
    "verdict",
    "LinearCache",
    "bridge/LC",
    "SnapshotCache",
    "bridge/SC",
  ];
  const cells = results.map((r) => [
    r.label,
    formatValue(r.bridge, r.unit),
    r.target,
    r.verdict,
    r.references.original === undefined
      ? formatValue(r.references.linear, r.unit)
      : `original: ${formatValue(r.references.original, r.unit)}`,
    formatRatio(r.ratios.original ?? r.ratios.linear),
    formatValue(r.references.snapshot, r.unit),
    formatRatio(r.ratios.snapshot),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]): string =>
    `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of cells) console.log(line(row));
  const notes = new Map<string, string>();
  for (const r of results) if (r.note && !notes.has(r.note)) notes.set(r.note, r.label);
  if (notes.size > 0) console.log("");
  for (const [note, label] of notes) console.log(`- ${label}: ${note}`);
}

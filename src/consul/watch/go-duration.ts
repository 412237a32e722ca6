/** Milliseconds per unit of a Go duration string (`time.ParseDuration`). */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;

/**
 * Reads a duration as Consul writes it in JSON: a Go duration string (`"10s"`, `"1m30s"`,
 * `"500ms"`) or a number of nanoseconds. Returns milliseconds, or undefined when it is neither.
 */
export function parseGoDuration(value: unknown): number | undefined {
  if (typeof value === "number")
    return Number.isFinite(value) && value >= 0 ? value / 1e6 : undefined;
  if (typeof value !== "string" || value === "") return undefined;
  if (value === "0") return 0;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(value); match !== null; match = PART.exec(value)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? Number.NaN);
    consumed = PART.lastIndex;
  }
  return consumed === value.length && Number.isFinite(total) ? total : undefined;
}

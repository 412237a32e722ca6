/** Readers of one option's raw value, shared by the configuration groups. */

/** A value as given, and where it came from (`--flag`, an environment name, a file key). */
export interface GivenValue {
  value: string;
  source: string;
}

/** A given value or nothing. */
export type Given = GivenValue | undefined;

/** A whole number from `min` to `max`; otherwise the problem is recorded and `fallback` used. */
export function readInteger(
  given: Given,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  if (!given) return fallback;
  const value = Number(given.value);
  if (!/^\d+$/.test(given.value) || value < min || value > max) {
    problems.push(`${given.source}=${given.value}: expected an integer from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

/** A comma-separated list, items trimmed, empty ones dropped. */
export function readList(given: Given): string[] {
  return (given?.value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

import { readFileSync } from "node:fs";

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

/** The contents of the file an option names; an unreadable file is recorded as a problem. */
export function readGivenFile(file: GivenValue, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file.value);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    problems.push(`${file.source}=${file.value}: cannot read the file (${reason})`);
    return undefined;
  }
}

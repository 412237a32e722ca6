import { closestName } from "./suggest.ts";
import { readGivenFile, type GivenValue } from "./values.ts";

/**
 * Reads a `--config` file: one JSON object whose keys are flag names without the dashes
 * (`{"xds-port": 18000, "services": "api-*"}`). Numbers and booleans stand for their text, a
 * list of strings for its comma-joined form. Every problem (missing file, bad JSON, unknown key,
 * unusable value) is added to `problems` naming the file and the key, an unknown key with the
 * key it likely stands for; the good keys still count.
 */
export function readConfigFile(
  file: GivenValue,
  knownFlags: ReadonlySet<string>,
  problems: string[],
): Map<string, GivenValue> {
  const values = new Map<string, GivenValue>();
  const text = readGivenFile(file, problems)?.toString("utf8");
  if (text === undefined) return values;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`${file.value}: not valid JSON (${(error as Error).message})`);
    return values;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`${file.value}: expected a JSON object of option names to values`);
    return values;
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!knownFlags.has(key)) {
      const closest = closestName(key, knownFlags);
      const hint = closest ? `; did you mean ${JSON.stringify(closest)}?` : "";
      problems.push(
        `${file.value}: unknown key ${JSON.stringify(key)} (keys are the flag names)${hint}`,
      );
      continue;
    }
    const asText = valueText(value);
    if (asText === undefined) {
      problems.push(
        `${file.value}: key ${JSON.stringify(key)}: expected a string, number, boolean or list of strings`,
      );
      continue;
    }
    values.set(key, { value: asText, source: `${file.value}:${key}` });
  }
  return values;
}

function valueText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
    return value.join(",");
  }
  return undefined;
}

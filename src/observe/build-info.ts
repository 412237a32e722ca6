import { readFileSync } from "node:fs";

/**
 * The bridge's version from package.json, found one folder up from this file both in src/ (run
 * with tsx) and in dist/ (the compiled build).
 */
export function bridgeVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
    ) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

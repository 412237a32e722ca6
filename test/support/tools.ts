import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Root of the repository. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

let provided = false;

/** Path of a tool provided by scripts/tools.sh (running it once per process if needed). */
export function toolPath(name: "consul" | "envoy"): string {
  const path = join(repoRoot, ".tools", "bin", name);
  if (!provided && !existsSync(path)) {
    execFileSync("bash", [join(repoRoot, "scripts", "tools.sh")], { stdio: "inherit" });
  }
  provided = true;
  return path;
}

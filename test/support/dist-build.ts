import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { repoRoot } from "./tools.ts";

const run = promisify(execFile);
let built: Promise<void> | undefined;

/**
 * Runs `npm run build` (tsc to dist/, assets copied) once per test process, as users and the
 * Dockerfile do; later calls wait for the same build.
 */
export function ensureBuild(): Promise<void> {
  built ??= run("npm", ["run", "build"], { cwd: repoRoot, timeout: 180_000 }).then(
    () => undefined,
    (error: unknown) => {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      throw new Error(`npm run build failed:\n${stdout}${stderr}`, { cause: error });
    },
  );
  return built;
}

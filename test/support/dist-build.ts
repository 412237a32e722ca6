import { execFile } from "node:child_process";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

const run = promisify(execFile);
/** Written after a successful build; older than any source file means the build is stale. */
const STAMP = join(repoRoot, "dist", ".build-stamp");
/** Held while one test process builds, so test files running in parallel never race on dist/. */
const LOCK = join(repoRoot, ".tools", "dist-build.lock");
const BUILD_TIMEOUT_MS = 180_000;
let built: Promise<void> | undefined;

/**
 * Runs `npm run build` (tsc to dist/, assets copied) as users and the Dockerfile do, unless
 * dist/ is newer than every source; once per test process, one process at a time.
 */
export function ensureBuild(): Promise<void> {
  built ??= locked(async () => {
    if (await isFresh()) return;
    try {
      await run("npm", ["run", "build"], { cwd: repoRoot, timeout: BUILD_TIMEOUT_MS });
    } catch (error) {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      throw new Error(`npm run build failed:\n${stdout}${stderr}`, { cause: error });
    }
    await writeFile(STAMP, new Date().toISOString());
  });
  return built;
}

async function locked(action: () => Promise<void>): Promise<void> {
  await mkdir(join(repoRoot, ".tools"), { recursive: true });
  await waitFor(
    async () => {
      try {
        await mkdir(LOCK);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        // A lock left by a killed run is older than any build can take.
        const held = await stat(LOCK).catch(() => undefined);
        if (held && Date.now() - held.mtimeMs > BUILD_TIMEOUT_MS) {
          await rm(LOCK, { recursive: true, force: true });
        }
        return false;
      }
    },
    { timeoutMs: BUILD_TIMEOUT_MS, intervalMs: 200, description: `the build lock ${LOCK}` },
  );
  try {
    await action();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

async function isFresh(): Promise<boolean> {
  const stamp = await stat(STAMP).catch(() => undefined);
  if (!stamp) return false;
  const inputs = [
    join(repoRoot, "package.json"),
    join(repoRoot, "tsconfig.json"),
    join(repoRoot, "tsconfig.build.json"),
    ...(await readdir(join(repoRoot, "src"), { recursive: true })).map((name) =>
      join(repoRoot, "src", name),
    ),
  ];
  for (const input of inputs) {
    const changed = await stat(input).catch(() => undefined); // gone meanwhile: no matter
    if (changed && changed.mtimeMs > stamp.mtimeMs) return false;
  }
  return true;
}

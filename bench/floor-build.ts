import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../test/support/tools.ts";

const run = promisify(execFile);
const SOURCE = join("bench", "http2-floor-server.ts");
const BUILD_TIMEOUT_MS = 120_000;

/** The floor server compiled to JavaScript, in a folder of this run's own. */
export interface FloorBuild {
  /** The compiled entry point. */
  readonly entry: string;
  /** Removes the folder. */
  remove(): Promise<void>;
}

/**
 * Compiles bench/http2-floor-server.ts and what it imports with tsc into a fresh folder under
 * .tools/ (git-ignored; inside the repository, so node_modules and package.json's module type
 * are found), so the floor runs as plain `node` like the bridge's dist/: no tsx loader thread
 * in its memory. The options are the repository's, given on the command line because tsc
 * ignores tsconfig.json when it is handed a file.
 */
export async function buildFloorServer(): Promise<FloorBuild> {
  await mkdir(join(repoRoot, ".tools"), { recursive: true });
  const dir = await mkdtemp(join(repoRoot, ".tools", "floor-"));
  try {
    await run(
      join(repoRoot, "node_modules", ".bin", "tsc"),
      [
        SOURCE,
        ...["--outDir", dir, "--rootDir", "."],
        ...["--module", "nodenext", "--moduleResolution", "nodenext"],
        ...["--target", "es2022", "--lib", "es2023", "--types", "node"],
        ...["--strict", "--skipLibCheck", "--esModuleInterop", "--verbatimModuleSyntax"],
        ...["--allowImportingTsExtensions", "--rewriteRelativeImportExtensions"],
      ],
      { cwd: repoRoot, timeout: BUILD_TIMEOUT_MS },
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc of ${SOURCE} failed:\n${stdout}${stderr}`, { cause: error });
  }
  return {
    entry: join(dir, SOURCE.replace(/\.ts$/, ".js")),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

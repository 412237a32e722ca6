import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../test/support/tools.ts";

/** The Go module with the reference servers and the load client. */
export const GO_MODULE_DIR = join(repoRoot, "bench", "reference");
/** Where the built Go programs go (git-ignored). */
const GO_BIN = join(repoRoot, ".tools", "go", "bin");

/** Paths of the built Go programs. */
export interface GoPrograms {
  referenceServer: string;
  loadClient: string;
}

/** Raised when `go` is not on PATH: the benchmark cannot measure without its Go programs. */
export class GoMissingError extends Error {
  override readonly name = "GoMissingError";
  constructor(cause: unknown) {
    super(
      "`go` was not found on PATH. The benchmark's reference servers and load client are Go " +
        "programs (bench/reference); install Go ≥ 1.26 and run again.",
      { cause },
    );
  }
}

/** Raised when `go build` fails; carries its output. */
export class GoBuildError extends Error {
  override readonly name = "GoBuildError";
}

/**
 * Go's environment for the build: the user's own module and build caches (caches only, refilled
 * from the Go module proxy when empty, shared by every clone like npm's), the local toolchain,
 * and go.sum as the only source of versions.
 */
export function goEnvironment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: "local",
    GOFLAGS: "-mod=readonly",
  };
}

/**
 * Builds bench/reference/cmd/* into .tools/go/bin (downloads modules through the Go module proxy
 * the first time; later builds are cached and take about a second).
 */
export async function buildGoPrograms(): Promise<GoPrograms> {
  const probe = spawnSync("go", ["version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) throw new GoMissingError(probe.error ?? probe.stderr);
  const build = spawn("go", ["build", "-o", `${GO_BIN}/`, "./cmd/..."], {
    cwd: GO_MODULE_DIR,
    env: goEnvironment(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  build.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  build.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => build.on("exit", resolve));
  if (code !== 0) throw new GoBuildError(`go build in bench/reference failed:\n${output}`);
  return {
    referenceServer: join(GO_BIN, "reference-server"),
    loadClient: join(GO_BIN, "load-client"),
  };
}

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  startBridgeProcess,
  type BridgeProcess,
  type BridgeProcessOptions,
} from "../test/support/bridge-process.ts";
import { repoRoot } from "../test/support/tools.ts";

/**
 * Starts the bridge as production runs it: compiled JavaScript (`node dist/main.js`, built once
 * by bench/run.ts), not the sources under tsx, with the Node.js options of the Docker image (its
 * heap budget), so its CPU and memory are the product's.
 */
export async function startBenchBridge(
  options: Omit<BridgeProcessOptions, "entry">,
): Promise<BridgeProcess> {
  const env = { NODE_OPTIONS: await imageNodeOptions(), ...options.env };
  return startBridgeProcess({ ...options, env, entry: "dist" });
}

/** The `NODE_OPTIONS` the Dockerfile's runtime stage sets (one place says what production runs). */
export async function imageNodeOptions(): Promise<string> {
  const dockerfile = await readFile(join(repoRoot, "Dockerfile"), "utf8");
  const options = /^ENV NODE_OPTIONS=(.+)$/m.exec(dockerfile)?.[1];
  if (options === undefined) throw new Error("the Dockerfile sets no NODE_OPTIONS");
  return options.trim();
}

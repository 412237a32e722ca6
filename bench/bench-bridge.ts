import {
  startBridgeProcess,
  type BridgeProcess,
  type BridgeProcessOptions,
} from "../test/support/bridge-process.ts";

/**
 * Starts the bridge as production runs it: compiled JavaScript (`node dist/main.js`, built once
 * by bench/run.ts), not the sources under tsx, so its CPU and memory are the product's.
 */
export function startBenchBridge(
  options: Omit<BridgeProcessOptions, "entry">,
): Promise<BridgeProcess> {
  return startBridgeProcess({ ...options, entry: "dist" });
}

import { setTimeout as sleep } from "node:timers/promises";
import { startBenchBridge } from "./bench-bridge.ts";
import type { BridgeProcess } from "../test/support/bridge-process.ts";
import { nowMs } from "./load-client.ts";

const READY_POLL_MS = 10;

/**
 * Starts the bridge on the Consul agent at `consulAddress`, timing spawn → `/ready` by polling
 * it every {@link READY_POLL_MS}; `onSpawn` runs as soon as the process exists.
 */
export async function timedStart(
  consulAddress: string,
  onSpawn?: (started: { pid: number; xdsPort: number }) => void,
): Promise<{ bridge: BridgeProcess; readyMs: number }> {
  let ready: Promise<number> | undefined;
  const bridge = await startBenchBridge({
    consulAddress,
    extraArgs: ["--log-level=warn"],
    onSpawn(started) {
      const spawned = nowMs();
      ready = (async () => {
        for (;;) {
          const status = await fetch(`http://127.0.0.1:${started.httpPort}/ready`).then(
            (response) => response.status,
            () => 0,
          );
          if (status === 200) return nowMs() - spawned;
          await sleep(READY_POLL_MS);
        }
      })();
      onSpawn?.(started);
    },
  });
  return { bridge, readyMs: await ready! };
}

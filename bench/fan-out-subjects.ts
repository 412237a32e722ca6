import { startBenchBridge } from "./bench-bridge.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { bridgeCounters, type BridgeCounters } from "./bridge-metrics.ts";
import { registerInstance, registerInstances } from "./consul-catalog.ts";
import type { Instance } from "./instances.ts";
import { startReferenceServer, type ReferenceCache } from "./reference-server.ts";

/** A control plane under measurement, already serving one service with its first endpoints. */
export interface FanOutSubject {
  readonly name: "bridge" | "bridge, checked" | "floor" | ReferenceCache;
  readonly xdsPort: number;
  /** The control plane's process (CPU and memory are read from it). */
  readonly pid: number;
  /** Makes one more endpoint of the service known: registered in Consul, or POSTed. */
  addInstance(instance: Instance): Promise<void>;
  /** The bridge's counters; undefined for the references. */
  counters(): Promise<BridgeCounters | undefined>;
  stop(): Promise<void>;
}

/**
 * Consul with `service` registered (one catalog node per instance; without checks, or with a
 * passing check each when `withChecks`), then the bridge as its own process with its default
 * settings and `xdsWorkers` xDS worker processes (1: xDS from the one process), ready.
 * `nodeArgs` e.g. turn on `--cpu-prof`.
 */
export async function bridgeSubject(
  service: string,
  initial: readonly Instance[],
  nodeArgs: string[] = [],
  withChecks = false,
  xdsWorkers = 1,
): Promise<FanOutSubject> {
  const consul = await startConsul();
  try {
    await registerInstances(consul.address, service, initial, withChecks);
    const bridge = await startBenchBridge({
      consulAddress: consul.address,
      extraArgs: ["--log-level=warn", `--xds-workers=${xdsWorkers}`],
      nodeArgs,
    });
    return {
      name: withChecks ? "bridge, checked" : "bridge",
      xdsPort: bridge.xdsPort,
      pid: bridge.pid,
      addInstance: (instance) => registerInstance(consul.address, service, instance, withChecks),
      counters: () => bridgeCounters(bridge.url),
      async stop() {
        await bridge.stop();
        await consul.stop();
      },
    };
  } catch (error) {
    await consul.stop();
    throw error;
  }
}

/** A go-control-plane reference server fed `service` with its first endpoints. */
export async function referenceSubject(
  binary: string,
  cache: ReferenceCache,
  service: string,
  initial: readonly Instance[],
): Promise<FanOutSubject> {
  const reference = await startReferenceServer(binary, cache);
  try {
    await reference.setInstances(service, initial);
  } catch (error) {
    await reference.stop();
    throw error;
  }
  return {
    name: cache,
    xdsPort: reference.xdsPort,
    pid: reference.pid,
    addInstance: (instance) => reference.addInstance(service, instance),
    counters: () => Promise.resolve(undefined),
    stop: () => reference.stop(),
  };
}

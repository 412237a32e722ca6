import assert from "node:assert/strict";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics, type BridgeMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "./consul-agent.ts";
import { startConsulProxy, type ConsulProxy } from "./consul-proxy.ts";
import { memoryLogger, type MemoryLogger } from "./memory-logger.ts";

/** A Consul agent, a recording proxy in front of it, and the bridge's discovery side on it. */
export interface ProxiedPipeline {
  consul: ConsulAgent;
  /** Every request the bridge made to Consul passes here. */
  proxy: ConsulProxy;
  pipeline: DiscoveryPipeline;
  metrics: BridgeMetrics;
  /** What the pipeline logged, at info and above. */
  logs: MemoryLogger;
  stop(): Promise<void>;
}

/**
 * Starts Consul, runs `seed` against it, then the bridge's discovery side in this process through
 * a recording proxy (xDS on a port of its own) with `flags` added; resolves once the first read
 * of Consul is done.
 */
export async function startProxiedPipeline(
  seed: (consul: ConsulAgent) => Promise<void>,
  flags: string[] = [],
): Promise<ProxiedPipeline> {
  const consul = await startConsul();
  let proxy: ConsulProxy | undefined;
  let pipeline: DiscoveryPipeline | undefined;
  const stop = async (): Promise<void> => {
    await pipeline?.stop();
    await proxy?.close();
    await consul.stop();
  };
  try {
    proxy = await startConsulProxy(consul.address);
    await seed(consul);
    const parsed = parseConfig(
      [
        `--consul-addr=127.0.0.1:${proxy.port}`,
        "--xds-host=127.0.0.1",
        "--xds-port=0",
        "--xds-workers=1",
        ...flags,
      ],
      {},
    );
    assert.ok(!parsed.help);
    const logs = memoryLogger("info");
    const metrics = createMetrics(false);
    pipeline = await startDiscovery(parsed.config, logs.logger, metrics);
    await pipeline.store.whenReady();
    return { consul, proxy, pipeline, metrics, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

import assert from "node:assert/strict";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "./consul-agent.ts";
import { startConsulProxy, type ConsulProxy } from "./consul-proxy.ts";
import { memoryLogger } from "./memory-logger.ts";

/** A Consul agent, a recording proxy in front of it, and the bridge's discovery side on it. */
export interface ProxiedPipeline {
  consul: ConsulAgent;
  /** Every request the bridge made to Consul passes here. */
  proxy: ConsulProxy;
  pipeline: DiscoveryPipeline;
  stop(): Promise<void>;
}

/**
 * Starts Consul, runs `seed` against it, then the bridge's discovery side in this process through
 * a recording proxy (xDS on a port of its own); resolves once the first read of Consul is done.
 */
export async function startProxiedPipeline(
  seed: (consul: ConsulAgent) => Promise<void>,
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
      [`--consul-addr=127.0.0.1:${proxy.port}`, "--xds-host=127.0.0.1", "--xds-port=0"],
      {},
    );
    assert.ok(!parsed.help);
    pipeline = await startDiscovery(
      parsed.config,
      memoryLogger("info").logger,
      createMetrics(false),
    );
    await pipeline.store.whenReady();
    return { consul, proxy, pipeline, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

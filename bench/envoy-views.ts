import { setTimeout as sleep } from "node:timers/promises";
import { gatewayBootstrap } from "../test/support/envoy-gateway-config.ts";
import { startEnvoy, type EnvoyProxy } from "../test/support/envoy-proxy.ts";
import type { ChecksStack } from "./checks-stack.ts";
import { rssBytes } from "./proc-stats.ts";

/** Services the view names (`svc-0` … `svc-9`, all registered at every size). */
const VIEW_SIZE = 10;
/** Clusters of the shipped envoy.yaml's `static_resources` (xds_cluster, zipkin_collector). */
const STATIC_CLUSTERS = 2;
const POLL_MS = 100;
const TIMEOUT_MS = 300_000;

/** One Envoy's memory once it holds every cluster it was sent. */
export interface EnvoyHolding {
  rssBytes: number;
  /** Clusters it got over CDS, each with its assignment (none warming). */
  clusters: number;
}

/** Envoy subscribed to every service against one whose node metadata names 10. */
export interface EnvoyViewsResult {
  full: EnvoyHolding;
  view: EnvoyHolding;
}

/**
 * Two Envoys on the shipped envoy.yaml, one after the other: one with no view (every service)
 * and one whose `consul-services` names {@link VIEW_SIZE} services (docs/envoy.md "Per-node
 * views"); each one's RSS from /proc once it has all its clusters and none is warming.
 */
export async function measureEnvoyViews(stack: ChecksStack): Promise<EnvoyViewsResult> {
  const everything = stack.catalog.services.length;
  const names = Array.from({ length: VIEW_SIZE }, (_, i) => `svc-${i}`);
  return {
    full: await holding(stack, undefined, everything),
    view: await holding(stack, names, VIEW_SIZE),
  };
}

async function holding(
  stack: ChecksStack,
  services: string[] | undefined,
  least: number,
): Promise<EnvoyHolding> {
  const envoy = await startEnvoy({
    xdsPort: stack.bridge.xdsPort,
    bootstrap: (values) => gatewayBootstrap({ ...values, ...(services ? { services } : {}) }),
    waitUntil: "admin",
  });
  try {
    const clusters = await untilSettled(envoy, least);
    return { rssBytes: await rssBytes(envoy.pid), clusters };
  } finally {
    await envoy.stop();
  }
}

/** Waits for ≥ `least` dynamic clusters, none warming; returns how many it has. */
async function untilSettled(envoy: EnvoyProxy, least: number): Promise<number> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (performance.now() < deadline) {
    const active = (await envoy.stat("cluster_manager.active_clusters")) ?? 0;
    const warming = (await envoy.stat("cluster_manager.warming_clusters")) ?? 0;
    const clusters = active - STATIC_CLUSTERS;
    if (clusters >= least && warming === 0) return clusters;
    await sleep(POLL_MS);
  }
  throw new Error(`Envoy did not hold ${least} clusters within ${TIMEOUT_MS} ms`);
}

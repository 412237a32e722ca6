import { setTimeout as sleep } from "node:timers/promises";
import type { BridgeProcess } from "../test/support/bridge-process.ts";
import type { CatalogInstance } from "../test/support/catalog-loader.ts";
import { startConsul, type ConsulAgent } from "../test/support/consul-agent.ts";
import { startConsulProxy, type ConsulProxy } from "../test/support/consul-proxy.ts";
import { startEnvoy, type EnvoyProxy } from "../test/support/envoy-proxy.ts";
import { CheckedCatalog, type CheckStatus } from "./checked-catalog.ts";
import { rssBytes } from "./proc-stats.ts";
import { timedStart } from "./timed-start.ts";

/** Concurrent HTTP connections the agent allows one client address, as production agents do. */
const MAX_CONNS_PER_CLIENT = 16;
/** The one service Envoy subscribes to (over ADS, EDS by name) and whose checks are flipped. */
export const WATCHED_SERVICE = "svc-0";
/** Envoy's admin `/clusters` is polled this often while waiting for a change. */
const ENVOY_POLL_MS = 5;
/** Fetch's idle keep-alive connections (4 s) from loading are closed before the bridge starts. */
const IDLE_CONNECTIONS_MS = 4_500;
const TIMEOUT_MS = 120_000;

/** Envoy's EDS health status for a Consul check status (docs/architecture.md §3). */
export const ENVOY_STATUS: Record<CheckStatus, string> = {
  passing: "HEALTHY",
  critical: "UNHEALTHY",
};

/**
 * Consul limited to {@link MAX_CONNS_PER_CLIENT} connections per client, loaded with a catalog
 * of checked instances; the bridge reading it through a counting proxy; Envoy subscribed to
 * {@link WATCHED_SERVICE}.
 */
export interface ChecksStack {
  readonly consul: ConsulAgent;
  readonly proxy: ConsulProxy;
  readonly bridge: BridgeProcess;
  readonly envoy: EnvoyProxy;
  readonly catalog: CheckedCatalog;
  /** Bridge spawn → `/ready`. */
  readonly readyMs: number;
  /** Bridge RSS once Envoy has the watched service. */
  readonly rssAfterSyncBytes: number;
  stop(): Promise<void>;
}

/** Starts the stack on a catalog of `services` × `perService` checked instances. */
export async function startChecksStack(services: number, perService: number): Promise<ChecksStack> {
  const consul = await startConsul({ httpMaxConnsPerClient: MAX_CONNS_PER_CLIENT });
  const stops: (() => Promise<void>)[] = [() => consul.stop()];
  const stopAll = async () => {
    for (const stop of stops) await stop();
  };
  try {
    const catalog = new CheckedCatalog(consul.address, services, perService);
    await catalog.load();
    await sleep(IDLE_CONNECTIONS_MS);
    const proxy = await startConsulProxy(consul.address);
    stops.unshift(() => proxy.close());
    const { bridge, readyMs } = await timedStart(`127.0.0.1:${proxy.port}`);
    stops.unshift(() => bridge.stop());
    const envoy = await startEnvoy({
      xdsPort: bridge.xdsPort,
      extraServices: [{ name: WATCHED_SERVICE }],
      waitUntil: "admin",
    });
    stops.unshift(() => envoy.stop());
    const watched = catalog.services[0]!;
    await untilEnvoy(envoy, (hosts) => hosts.size === watched.length, "every watched host");
    const rssAfterSyncBytes = await rssBytes(bridge.pid);
    return { consul, proxy, bridge, envoy, catalog, readyMs, rssAfterSyncBytes, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Waits until Envoy shows `instance` of the watched service with its check's current status. */
export function untilEnvoyShows(envoy: EnvoyProxy, instance: CatalogInstance): Promise<void> {
  const want = ENVOY_STATUS[instance.checkStatus as CheckStatus];
  const key = hostKey(instance);
  return untilEnvoy(envoy, (hosts) => hosts.get(key) === want, `${key} ${want}`);
}

/** Hosts of the watched service in Envoy, as `address:port` → EDS health status. */
export async function envoyHosts(envoy: EnvoyProxy): Promise<Map<string, string>> {
  const hosts = await envoy.clusterHosts(WATCHED_SERVICE);
  return new Map(hosts.map((host) => [`${host.address}:${host.port}`, host.healthStatus]));
}

/** `address:port` of an instance, as Envoy lists it. */
export function hostKey(instance: { address: string; port: number }): string {
  return `${instance.address}:${instance.port}`;
}

async function untilEnvoy(
  envoy: EnvoyProxy,
  holds: (hosts: Map<string, string>) => boolean,
  what: string,
): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (holds(await envoyHosts(envoy))) return;
    await sleep(ENVOY_POLL_MS);
  }
  throw new Error(`Envoy did not show ${what} within ${TIMEOUT_MS} ms`);
}

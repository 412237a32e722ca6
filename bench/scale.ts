import { setTimeout as sleep } from "node:timers/promises";
import type { BridgeProcess } from "../test/support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../test/support/consul-agent.ts";
import { bridgeCounters } from "./bridge-metrics.ts";
import { loadServices, registerInstance } from "./consul-catalog.ts";
import type { GoPrograms } from "./go-programs.ts";
import { instanceAddress } from "./instances.ts";
import { nowMs, startLoadClient, type LoadClient } from "./load-client.ts";
import { connectionPeak, peakRssBytes } from "./proc-stats.ts";
import type { BenchRow } from "./table.ts";
import { timedStart } from "./timed-start.ts";

/** Catalog nodes the instances spread over. */
const NODES = 500;
const TIMEOUT_MS = 180_000;
/** How long reads caused by one registration are counted. */
const READ_WINDOW_MS = 1_000;
const MB = 1024 * 1024;

/**
 * `services` × `perService` instances loaded in Consul, then the bridge started: time until
 * `/ready` and until one load-client stream subscribed to every service has them all, the most
 * connections it held to Consul, its peak RSS, and the Consul reads one registration costs. A
 * bridge started on the empty catalog first gives the fixed start-up cost (Node.js, modules).
 */
export async function scaleRows(
  services: number,
  perService: number,
  programs: GoPrograms,
): Promise<BenchRow[]> {
  const consul = await startConsul();
  const stops: (() => Promise<void>)[] = [() => consul.stop()];
  try {
    const baseline = await timedStart(consul.address);
    await baseline.bridge.stop();

    await loadServices(consul.address, catalog(services, perService));
    let client: Promise<LoadClient> | undefined;
    let peak: ReturnType<typeof connectionPeak> | undefined;
    let spawnedAt = 0;
    const { bridge, readyMs } = await timedStart(consul.address, ({ pid, xdsPort }) => {
      spawnedAt = nowMs();
      peak = connectionPeak(pid, consul.httpPort);
      client = startLoadClient(programs.loadClient, {
        xdsPort,
        streams: 1,
        resourcePattern: { pattern: "svc-%d", count: services },
      });
    });
    stops.unshift(() => bridge.stop());
    const all = await client!;
    stops.unshift(() => all.stop());
    if (!(await all.waitAll(perService, TIMEOUT_MS)).ok) throw new Error("client lacks services");
    const [record] = await all.report();
    const hasAll = record!.arrivals.find((a) => a.minEndpoints >= perService)!.atMs - spawnedAt;
    const reads = await readsPerRegistration(consul, bridge, programs, perService);
    const connections = await peak!.stop();
    const rss = await peakRssBytes(bridge.pid);

    const s = `${services} services × ${perService}`;
    return [
      {
        id: "scale.ready",
        label: `scale ${s}: bridge spawn → /ready`,
        bridge: { value: readyMs / 1000, unit: "s" },
        target: { text: "≤ 5 s", met: (value) => value <= 5 },
      },
      {
        id: "scale.client",
        label: `scale ${s}: bridge spawn → a client has every service`,
        bridge: { value: hasAll / 1000, unit: "s" },
      },
      {
        id: "scale.baseline",
        label: "scale: bridge spawn → /ready, empty catalog (fixed cost)",
        bridge: { value: baseline.readyMs / 1000, unit: "s" },
      },
      {
        id: "scale.connections",
        label: `scale ${s}: peak connections to Consul`,
        bridge: { value: connections, unit: "count" },
        target: { text: "≤ 8", met: (value) => value <= 8 },
      },
      {
        id: "scale.rss",
        label: `scale ${s}: peak RSS`,
        bridge: { value: rss / MB, unit: "MB" },
      },
      {
        id: "scale.reads",
        label: `scale ${s}: Consul service reads for one registration`,
        bridge: { value: reads, unit: "count" },
        target: { text: "≤ 1", met: (value) => value <= 1 },
      },
    ];
  } finally {
    for (const stop of stops) await stop();
  }
}

/** Service `svc-S` has `perService` instances on distinct nodes of {@link NODES}. */
function catalog(services: number, perService: number) {
  return Array.from({ length: services }, (_, s) => ({
    service: `svc-${s}`,
    instances: Array.from({ length: perService }, (_, k) => ({
      address: instanceAddress(((s * perService + k) % NODES) + 1),
      port: 20_000 + (s % 40_000),
    })),
  }));
}

/** Reads the bridge makes within {@link READ_WINDOW_MS} of one registration in `svc-0`. */
async function readsPerRegistration(
  consul: ConsulAgent,
  bridge: BridgeProcess,
  programs: GoPrograms,
  perService: number,
): Promise<number> {
  const watcher = await startLoadClient(programs.loadClient, {
    xdsPort: bridge.xdsPort,
    streams: 1,
    resources: ["svc-0"],
  });
  try {
    if (!(await watcher.waitAll(perService, TIMEOUT_MS)).ok) throw new Error("svc-0 not served");
    const before = await bridgeCounters(bridge.url);
    await registerInstance(consul.address, "svc-0", { address: "10.255.0.1", port: 8080 });
    if (!(await watcher.waitAll(perService + 1, TIMEOUT_MS)).ok)
      throw new Error("registration not served");
    await sleep(READ_WINDOW_MS);
    return (await bridgeCounters(bridge.url)).serviceReads - before.serviceReads;
  } finally {
    await watcher.stop();
  }
}

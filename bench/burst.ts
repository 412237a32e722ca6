import { startBenchBridge } from "./bench-bridge.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy } from "../test/support/envoy-proxy.ts";
import { loadServices } from "./consul-catalog.ts";
import type { GoPrograms } from "./go-programs.ts";
import { instances } from "./instances.ts";
import { nowMs, startLoadClient } from "./load-client.ts";
import { mean } from "./stats.ts";
import type { BenchRow } from "./table.ts";

const SERVICE = "myservice";
const TIMEOUT_MS = 60_000;
const BURST_TARGET_MS = 2_000;
const PUSHES_TARGET = 20;

/**
 * `registrations` instances of `myservice` registered at once (catalog transactions of 64,
 * all in flight together, so Consul holds them within a fraction of a second and the row
 * measures the bridge, not Consul's write rate) while Envoy
 * and `streams` load-client streams watch it: time until Envoy lists them all, and how many
 * responses each stream got for the whole burst (coalescing at work).
 */
export async function burstRows(
  registrations: number,
  streams: number,
  programs: GoPrograms,
): Promise<BenchRow[]> {
  const consul = await startConsul();
  const stops: (() => Promise<void>)[] = [() => consul.stop()];
  try {
    const bridge = await startBenchBridge({
      consulAddress: consul.address,
      extraArgs: ["--log-level=warn"],
    });
    stops.unshift(() => bridge.stop());
    const envoy = await startEnvoy({ xdsPort: bridge.xdsPort });
    stops.unshift(() => envoy.stop());
    const client = await startLoadClient(programs.loadClient, {
      xdsPort: bridge.xdsPort,
      streams,
      resources: [SERVICE],
    });
    stops.unshift(() => client.stop());
    if (!(await client.waitAll(0, TIMEOUT_MS)).ok) throw new Error("streams got no assignment");

    const started = nowMs();
    const registered = loadServices(consul.address, [
      { service: SERVICE, instances: instances(registrations) },
    ]).then(() => nowMs() - started);
    await untilHosts(envoy, registrations);
    const envoyMs = nowMs() - started;
    const registeredMs = await registered;
    if (!(await client.waitAll(registrations, TIMEOUT_MS)).ok)
      throw new Error("streams did not get every registration");
    const pushes = (await client.report()).map(
      (record) => record.arrivals.filter((a) => a.atMs >= started).length,
    );
    const n = `${registrations} registrations`;
    return [
      {
        id: "burst.envoy",
        label: `burst: ${n} at once → all in Envoy`,
        bridge: { value: envoyMs, unit: "ms" },
        target: { text: `≤ ${BURST_TARGET_MS} ms`, met: (value) => value <= BURST_TARGET_MS },
      },
      {
        id: "burst.consul",
        label: `burst: ${n} at once → Consul accepted all`,
        bridge: { value: registeredMs, unit: "ms" },
        note: "how long Consul itself took; a floor for the row above",
      },
      {
        id: "burst.pushes.max",
        label: `burst: ${n}, responses per stream, max (${streams} streams)`,
        bridge: { value: Math.max(...pushes), unit: "count" },
        target: { text: `≤ ${PUSHES_TARGET}`, met: (value) => value <= PUSHES_TARGET },
      },
      {
        id: "burst.pushes.mean",
        label: `burst: ${n}, responses per stream, mean (${streams} streams)`,
        bridge: { value: mean(pushes), unit: "count" },
      },
    ];
  } finally {
    for (const stop of stops) await stop();
  }
}

async function untilHosts(envoy: EnvoyProxy, count: number): Promise<void> {
  const deadline = nowMs() + TIMEOUT_MS;
  while (nowMs() < deadline) {
    if ((await envoy.clusterHosts(SERVICE)).length >= count) return;
  }
  throw new Error(`Envoy did not list ${count} hosts within ${TIMEOUT_MS} ms`);
}

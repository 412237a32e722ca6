import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { metricSum } from "../../bench/bridge-metrics.ts";
import { connectionPeak, connectionsTo } from "../../bench/proc-stats.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { loadCatalog, registerCatalog, type CatalogInstance } from "../support/catalog-loader.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream, type XdsTestStream } from "../support/xds-client.ts";

/** 2,000 services in the suite; 5,000 with BRIDGE_LONG_TESTS=1. */
const SERVICES = process.env.BRIDGE_LONG_TESTS === "1" ? 5_000 : 2_000;
/** Consul's per-client connection limit; the test's own requests share the address. */
const CONN_LIMIT = 16;
/** The loader's parallel requests: with the bridge's 6 it stays under {@link CONN_LIMIT}. */
const LOADER_CONCURRENCY = 4;
const CHURN = 200;
const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/** Instance of service `svc-S`, on one of 200 nodes, port 20000 + S (+ `shift` when churned). */
function instance(s: number, shift = 0): CatalogInstance {
  const n = s % 200;
  return {
    service: `svc-${s}`,
    node: `scale-${n}`,
    address: `10.1.${n}.1`,
    port: 20_000 + s + shift,
  };
}

async function metrics(bridge: BridgeProcess): Promise<string> {
  return (await fetch(`${bridge.url}/metrics`)).text();
}

/** Waits for an EDS response of `service` on `ads` holding exactly `ports`. */
async function assignmentPorts(ads: XdsTestStream, service: string): Promise<number[]> {
  for (;;) {
    const response = await ads.next(20_000);
    const assignment = response.assignments.find((a) => a.cluster_name === service);
    if (!assignment) continue;
    return assignment.endpoints.flatMap((l) =>
      l.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value),
    );
  }
}

describe(`${SERVICES} catalog services on an agent allowing ${CONN_LIMIT} connections per client`, () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let peak: { stop(): Promise<number> } | undefined;
  let readyMs = 0;

  before(async () => {
    consul = await startConsul({ hcl: [`limits { http_max_conns_per_client = ${CONN_LIMIT} }`] });
    const all = Array.from({ length: SERVICES }, (_, s) => instance(s));
    await loadCatalog(consul.address, all, LOADER_CONCURRENCY);
    let spawnedAt = 0;
    bridge = await startBridgeProcess({
      consulAddress: consul.address,
      extraArgs: ["--log-level=warn"],
      onSpawn: ({ pid }) => {
        spawnedAt = performance.now();
        peak = connectionPeak(pid, consul.httpPort, 10);
      },
    });
    readyMs = performance.now() - spawnedAt;
  });
  after(async () => {
    await peak?.stop();
    await bridge?.stop();
    await consul?.stop();
  });

  test("every service is served over xDS, churn is read per change within a fixed connection budget", async () => {
    const ads = openXdsStream(bridge.xdsPort);
    const closers = [() => ads.close()];
    try {
      ads.send({ node: { id: "scale" }, type_url: CDS, resource_names: [] });
      const clusters = await ads.next(20_000);
      assert.equal(clusters.type_url, CDS);
      assert.equal(clusters.names.filter((n) => n.startsWith("svc-")).length, SERVICES);
      const sample = [0, 1, 777, SERVICES - 1].map((s) => `svc-${s}`);
      ads.send({ type_url: CLA, resource_names: sample });
      const first = await ads.next(20_000);
      for (const name of sample) {
        const ports = first.assignments
          .find((a) => a.cluster_name === name)
          ?.endpoints.flatMap((l) =>
            l.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value),
          );
        assert.deepEqual(ports, [20_000 + Number(name.slice(4))], `${name} served`);
      }
      const state = (await (await fetch(`${bridge.url}/debug/state`)).json()) as {
        services: { name: string }[];
      };
      assert.equal(state.services.filter((s) => s.name.startsWith("svc-")).length, SERVICES);

      // Churn: CHURN services re-registered on new ports, LOADER_CONCURRENCY at a time.
      const before = await metrics(bridge);
      const churned = Array.from({ length: CHURN }, (_, k) => instance((k * 7) % SERVICES, 30_000));
      const churnStarted = performance.now();
      await registerCatalog(consul.address, churned, LOADER_CONCURRENCY);
      await waitFor(
        async () => {
          const s = (await (await fetch(`${bridge.url}/debug/state`)).json()) as {
            services: { name: string; endpoints: { port: number }[] }[];
          };
          const byName = new Map(s.services.map((x) => [x.name, x.endpoints.length]));
          return churned.every((c) => byName.get(c.service) === 2);
        },
        { timeoutMs: 30_000, description: "every churned registration in the store" },
      );
      const churnMs = performance.now() - churnStarted;
      const during = await metrics(bridge);
      const churnReads =
        (metricSum(during, "bridge_consul_service_reads_total") ?? 0) -
        (metricSum(before, "bridge_consul_service_reads_total") ?? 0);
      const churnProbes =
        (metricSum(during, "bridge_consul_service_probes_total") ?? 0) -
        (metricSum(before, "bridge_consul_service_probes_total") ?? 0);

      // One more registration, of one service, still arrives; its reads are counted.
      const target = `svc-${SERVICES - 3}`;
      const watch = openXdsStream(bridge.xdsPort);
      closers.push(() => watch.close());
      watch.send({ node: { id: "scale-one" }, type_url: CLA, resource_names: [target] });
      assert.deepEqual(await assignmentPorts(watch, target), [20_000 + SERVICES - 3]);
      const one = await metrics(bridge);
      await registerCatalog(consul.address, [instance(SERVICES - 3, 1)], 1);
      const ports = await assignmentPorts(watch, target);
      assert.deepEqual(ports.sort(), [20_000 + SERVICES - 3, 20_000 + SERVICES - 2]);
      const afterOne = await metrics(bridge);
      const oneReads =
        (metricSum(afterOne, "bridge_consul_service_reads_total") ?? 0) -
        (metricSum(one, "bridge_consul_service_reads_total") ?? 0);
      const oneProbes =
        (metricSum(afterOne, "bridge_consul_service_probes_total") ?? 0) -
        (metricSum(one, "bridge_consul_service_probes_total") ?? 0);

      const connections = await peak!.stop();
      peak = undefined;
      const errors = metricSum(afterOne, "bridge_consul_errors_total") ?? 0;
      console.log(
        `scale ${SERVICES} services: ready ${(readyMs / 1000).toFixed(2)} s after spawn; ` +
          `peak ${connections} connections to Consul (now ${await connectionsTo(bridge.pid, consul.httpPort)}); ` +
          `${CHURN} registrations in ${(churnMs / 1000).toFixed(2)} s cost ${churnReads} reads ` +
          `(${(churnReads / CHURN).toFixed(2)} per registration) and ${churnProbes} index probes; ` +
          `one registration: ${oneReads} reads, ${oneProbes} probes; Consul errors ${errors}`,
      );
      assert.equal(errors, 0, "no Consul request failed or was dropped");
      assert.ok(connections <= 6, `at most 6 connections to Consul (saw ${connections})`);
      assert.ok(oneReads <= 1, `one registration costs at most one read (saw ${oneReads})`);
      assert.ok(
        churnReads <= CHURN * 1.5,
        `churn reads bounded by the changes (saw ${churnReads})`,
      );
    } finally {
      for (const close of closers) close();
    }
  });
});

import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics, type BridgeMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream } from "../support/xds-client.ts";

const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

describe("--dns-services: DNS names served over EDS next to the catalog", () => {
  let consul: ConsulAgent;
  const register = (id: string, service: string, address: string, port: number) =>
    consul.api("PUT", "/v1/catalog/register", {
      Node: `node-${id}`,
      Address: address,
      Service: { ID: id, Service: service, Port: port },
    });

  before(async () => {
    consul = await startConsul({ datacenter: "dc7" });
    await register("extsrc-1", "extsrc", "127.0.0.2", 7001);
    await register("both-1", "both", "127.0.0.3", 7100);
  });
  after(() => consul?.stop());

  async function pipeline(
    flags: string[],
    t: TestContext,
  ): Promise<{ running: DiscoveryPipeline; metrics: BridgeMetrics }> {
    const parsed = parseConfig(
      [
        "--xds-host=127.0.0.1",
        "--xds-port=0",
        // xDS from this process: the tests read the pipeline in process.
        "--xds-workers=1",
        "--consul-wait=2",
        `--dns-server=127.0.0.1:${consul.dnsPort}`,
        "--dns-min-ttl=1",
        "--dns-max-ttl=2",
        ...flags,
      ],
      { CONSUL_HTTP_ADDR: consul.address },
    );
    assert.ok(!parsed.help);
    const metrics = createMetrics(false);
    const running = await startDiscovery(parsed.config, memoryLogger().logger, metrics);
    t.after(() => running.stop());
    await running.store.whenReady();
    return { running, metrics };
  }

  /** `ADDRESS:PORT` of every endpoint per assignment, as one ADS request for `names` answers. */
  async function served(
    running: DiscoveryPipeline,
    names: string[],
  ): Promise<Record<string, string>> {
    const ads = openXdsStream(running.xds.port);
    try {
      ads.send({ node: { id: "dns-test" }, type_url: EDS, resource_names: names });
      const response = await ads.next(5_000);
      return Object.fromEntries(
        response.assignments.map((a) => [
          a.cluster_name,
          a.endpoints
            .flatMap((l) => l.lb_endpoints)
            .map((e) => {
              const socket = e.endpoint.address.socket_address;
              return `${socket.address}:${socket.port_value}`;
            })
            .sort()
            .join(),
        ]),
      );
    } finally {
      ads.close();
    }
  }

  test("a DNS-only name is served from SRV, follows re-resolution, and a catalog name is preferred", async (t) => {
    const { running, metrics } = await pipeline(
      [
        "--dns-services=ext=extsrc.service.consul,both=extsrc.service.consul,gone=nothing.service.consul",
      ],
      t,
    );
    await waitFor(
      async () => (await served(running, ["ext"])).ext === "127.0.0.2:7001" || undefined,
      { description: "ext served from Consul's DNS" },
    );
    const endpoint = running.store.get("ext")?.endpoints[0];
    assert.deepEqual(endpoint?.locality, { region: "dc7", zone: "" }, "the local datacenter");
    assert.equal(endpoint?.health, "healthy");

    await register("extsrc-2", "extsrc", "127.0.0.4", 7002);
    await waitFor(
      async () =>
        (await served(running, ["ext"])).ext === "127.0.0.2:7001,127.0.0.4:7002" || undefined,
      { description: "a new extsrc instance after re-resolution" },
    );
    assert.deepEqual(await served(running, ["both"]), { both: "127.0.0.3:7100" });

    await waitFor(
      async () =>
        ((await metrics.dnsErrors.get()).values.find((v) => v.labels.service === "gone")?.value ??
          0) >= 1,
      { description: "an empty answer counted" },
    );
    assert.equal(running.store.get("gone"), undefined, "an empty answer serves nothing");
  });

  test("--dns-merge=merge serves the catalog's and the DNS endpoints of a name in both", async (t) => {
    await register("extsrc-2", "extsrc", "127.0.0.4", 7002);
    const { running } = await pipeline(
      ["--dns-services=both=extsrc.service.consul", "--dns-merge=merge"],
      t,
    );
    await waitFor(
      async () =>
        (await served(running, ["both"])).both === "127.0.0.2:7001,127.0.0.3:7100,127.0.0.4:7002" ||
        undefined,
      { description: "both sources in one assignment" },
    );
  });
});

import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { startDiscovery, type DiscoveryPipeline } from "../../src/bridge.ts";
import { parseConfig } from "../../src/config/config.ts";
import { createMetrics } from "../../src/observe/metrics.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { openXdsStream } from "../support/xds-client.ts";

const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

describe("the --services export filter applies to EDS; Consul's own service is not exported", () => {
  let consul: ConsulAgent;

  before(async () => {
    consul = await startConsul();
    for (const [id, name, port] of [
      ["api-1", "api-orders", 7001],
      ["web-1", "web", 7002],
    ] as const) {
      await consul.api("PUT", "/v1/catalog/register", {
        Node: "external",
        Address: "127.0.0.5",
        Service: { ID: id, Service: name, Address: "127.0.0.5", Port: port },
      });
    }
  });
  after(() => consul?.stop());

  async function pipeline(flags: string[], t: TestContext): Promise<DiscoveryPipeline> {
    const parsed = parseConfig(
      ["--xds-host=127.0.0.1", "--xds-port=0", "--xds-workers=1", "--consul-wait=2", ...flags],
      {
        CONSUL_HTTP_ADDR: consul.address,
      },
    );
    assert.ok(!parsed.help);
    const running = await startDiscovery(
      parsed.config,
      memoryLogger().logger,
      createMetrics(false),
    );
    t.after(() => running.stop());
    await running.store.whenReady();
    return running;
  }

  /** Endpoint counts per assignment name, as ADS answers a request for `names`. */
  async function assignments(
    running: DiscoveryPipeline,
    names: string[],
  ): Promise<Record<string, number>> {
    const ads = openXdsStream(running.xds.port);
    try {
      ads.send({ node: { id: "filter-test" }, type_url: EDS, resource_names: names });
      const response = await ads.next(5_000);
      return Object.fromEntries(
        response.assignments.map((a) => [
          a.cluster_name,
          a.endpoints.reduce((n, l) => n + l.lb_endpoints.length, 0),
        ]),
      );
    } finally {
      ads.close();
    }
  }

  test("by default every service but consul has endpoints over EDS", async (t) => {
    const running = await pipeline([], t);
    assert.ok(running.store.get("consul"), "the bridge does see consul in the catalog");
    assert.deepEqual(await assignments(running, ["api-orders", "web", "consul"]), {
      "api-orders": 1,
      web: 1,
      consul: 0,
    });
  });

  test("--services api-* leaves other services' assignments empty", async (t) => {
    const running = await pipeline(["--services=api-*"], t);
    assert.deepEqual(await assignments(running, ["api-orders", "web"]), {
      "api-orders": 1,
      web: 0,
    });
  });

  test("consul is exported only when named exactly", async (t) => {
    const running = await pipeline(["--services=consul,web"], t);
    assert.deepEqual(await assignments(running, ["consul", "web"]), { consul: 1, web: 1 });
  });
});

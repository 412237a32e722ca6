import { isDeepStrictEqual } from "node:util";
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import type { EnvoyProxy } from "../support/envoy-proxy.ts";
import {
  startGatewayBridge,
  startGatewayEnvoy,
  type GatewayBridge,
} from "../support/gateway-stack.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";

const INSTANCES = ["v1-a", "v1-b", "v2-a", "v2-b"];

/**
 * Subset routing end to end: Consul, the bridge process with a gateway port, Envoy on the
 * shipped envoy.yaml. Two versions of `shop` (meta version=v1 / v2) with `envoy-subset-keys:
 * version` and `envoy-subset-header: x-version`: the header picks a version, no header any.
 */
describe("a request header picks a version of a service through Envoy's subset load balancer", () => {
  let consul: ConsulAgent;
  let bridge: GatewayBridge;
  let envoy: EnvoyProxy;
  const servers: Server[] = [];

  /** Who answers `count` requests to shop, each on a new connection. */
  const answers = async (count: number, headers: Record<string, string> = {}) => {
    const seen: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const response = await envoy.request("/", { host: "shop", ...headers });
      assert.equal(response.status, 200, response.body);
      seen.push(response.body);
    }
    return new Set(seen);
  };

  before(async () => {
    consul = await startConsul();
    bridge = await startGatewayBridge({ consulAddress: consul.address });
    for (const name of INSTANCES) {
      const { server, port } = await nameServer(name);
      servers.push(server);
      await consul.api("PUT", "/v1/agent/service/register", {
        ID: `shop-${name}`,
        Name: "shop",
        Address: "127.0.0.1",
        Port: port,
        Tags: name.startsWith("v2") ? ["canary"] : [],
        Meta: {
          version: name.slice(0, 2),
          "envoy-subset-keys": "version",
          "envoy-subset-header": "x-version",
        },
      });
    }
    const zoned = await nameServer("zoned");
    servers.push(zoned.server);
    await consul.api("PUT", "/v1/agent/service/register", {
      ID: "zoned-1",
      Name: "zoned",
      Address: "127.0.0.1",
      Port: zoned.port,
      Meta: { "envoy-locality-lb": "zone-aware" },
    });
    envoy = await startGatewayEnvoy(bridge);
    await waitFor(
      async () => {
        // Throws with what Envoy and the bridge hold, so a timeout says which side lagged.
        const hosts = await envoy.clusterHosts("shop");
        if (hosts.length === INSTANCES.length && hosts.every((h) => h.healthStatus === "HEALTHY"))
          return true;
        const state = (await (await fetch(`${bridge.url}/debug/state`)).json()) as {
          services: { name: string; endpoints: unknown[] }[];
        };
        const held = state.services.find((service) => service.name === "shop");
        throw new Error(
          `Envoy: ${JSON.stringify(hosts.map((h) => `${h.port} ${h.healthStatus}`))}; ` +
            `bridge: ${held?.endpoints.length ?? "no"} endpoints of shop`,
        );
      },
      { description: "shop's four instances healthy in Envoy" },
    );
    await waitFor(async () => (await envoy.request("/", { host: "shop" })).status === 200, {
      description: "shop routed through the gateway",
    });
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await consul?.stop();
    for (const server of servers) server.close();
  });

  test("x-version: v2 reaches only the v2 instances, x-version: v1 only the v1 ones", async () => {
    assert.deepEqual([...(await answers(24, { "x-version": "v2" }))].sort(), ["v2-a", "v2-b"]);
    assert.deepEqual([...(await answers(24, { "x-version": "v1" }))].sort(), ["v1-a", "v1-b"]);
  });

  test("no header, or a version nobody runs, reaches any instance", async () => {
    assert.deepEqual([...(await answers(40))].sort(), INSTANCES);
    const unknown = await answers(40, { "x-version": "v9" });
    assert.ok(unknown.size >= 3, `any instance answers: ${[...unknown].join(", ")}`);
  });

  test("a zone-aware cluster and the default locality-weighted ones are accepted and answer", async () => {
    await waitFor(async () => (await envoy.request("/", { host: "zoned" })).body === "zoned", {
      description: "zoned answering through the gateway",
    });
    const text = await envoy.admin("/config_dump");
    assert.match(text, /"zone_aware_lb_config"/);
    assert.match(text, /"locality_weighted_lb_config"/);
  });

  test("Envoy holds each instance's tags and meta as envoy.lb metadata and rejected nothing", async () => {
    const config = JSON.parse(await envoy.admin("/config_dump?include_eds")) as unknown;
    const text = JSON.stringify(config);
    // Envoy prints a Struct's keys in no fixed order: compare the metadata as objects.
    const lbMetadata: unknown[] = [];
    JSON.stringify(config, (key, value: unknown) => {
      if (key === "envoy.lb") lbMetadata.push(value);
      return value;
    });
    assert.ok(
      lbMetadata.some((value) => isDeepStrictEqual(value, { version: "v2", canary: true })),
      `a v2 endpoint carries {version: v2, canary: true}: ${JSON.stringify(lbMetadata)}`,
    );
    assert.match(text, /"subset_selectors":\[\{"keys":\["version"\]\}\]/);
    const rejected = await envoy.stats("update_rejected$");
    for (const [name, value] of Object.entries(rejected)) assert.equal(value, 0, name);
  });
});

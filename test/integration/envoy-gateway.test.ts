import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import type { DiscoveryServer } from "../../src/xds/server/discovery-server.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { gatewayBootstrap } from "../support/envoy-gateway-config.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { freePort } from "../support/free-port.ts";
import { endpoint } from "../support/model-fixtures.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";
import { startLoopbackDiscoveryServer } from "../support/xds-server-fixture.ts";

describe("Envoy with the shipped envoy.yaml, a bootstrap that names only the bridge", () => {
  const store = new EndpointStore();
  let cache: ResourceCache;
  let xds: DiscoveryServer;
  let envoy: EnvoyProxy;
  const backends: Server[] = [];
  const service = async (
    name: string,
    meta: Record<string, string> = {},
  ): Promise<ServiceEndpoints> => {
    const { server, port } = await nameServer(name);
    backends.push(server);
    return {
      service: name,
      endpoints: [endpoint("127.0.0.1", { id: `node/${name}`, port, meta })],
    };
  };
  /** Every per-service setting at once: Envoy must accept the cluster and the route. */
  const TUNED = {
    "envoy-connect-timeout": "750ms",
    "envoy-lb-policy": "maglev",
    "envoy-outlier-detection": "on",
    "envoy-max-connections": "50",
    "envoy-max-pending-requests": "60",
    "envoy-max-requests": "70",
    "envoy-max-retries": "5",
    "envoy-route-prefix": "/tuned",
    "envoy-route-timeout": "20s",
    "envoy-retries": "2",
    "envoy-retry-on": "5xx,reset,connect-failure",
    "envoy-per-try-timeout": "5s",
  };

  before(async () => {
    store.apply([
      await service("web"),
      await service("tuned", TUNED),
      await service("h2", { "envoy-protocol": "http2", "envoy-lb-policy": "least_request" }),
      await service("rings", { "envoy-protocol": "grpc", "envoy-lb-policy": "ring_hash" }),
    ]);
    store.markReady();
    const gatewayPort = await freePort();
    cache = new ResourceCache(store, loadXdsProtos(), 20, {
      clusterGraceMs: 500,
      // --gateway-default-service "": no default service, an unknown Host gets the explaining 404.
      gateway: { host: "127.0.0.1", port: gatewayPort, defaultService: undefined },
    });
    xds = await startLoopbackDiscoveryServer(cache);
    envoy = await startEnvoy({
      xdsPort: xds.port,
      bootstrap: (values) => gatewayBootstrap(values),
      listenerPort: gatewayPort,
    });
  });

  after(async () => {
    await envoy?.stop();
    await xds?.close();
    cache?.close();
    for (const server of backends) server.close();
  });

  const through = (host: string) => envoy.request("/", { host });

  test("routes by Host to a service, on NAME and NAME.service.consul with any port", async () => {
    for (const host of ["web", "web:10000", "web.service.consul", "web.service.consul:80"]) {
      const response = await through(host);
      assert.deepEqual([response.status, response.body], [200, "web"], host);
    }
  });

  test("with no default service, an unknown Host gets a 404 saying which Host and what to do", async () => {
    for (const host of ["nobody", "nobody:10000", "localhost"]) {
      const response = await through(host);
      assert.deepEqual(
        [response.status, response.headers["content-type"], response.body],
        [
          404,
          "text/plain",
          `no service "${host}" in Consul; address a service with Host: NAME or NAME.service.consul\n`,
        ],
        host,
      );
    }
    const known = await envoy.request("/other", { host: "tuned" });
    assert.deepEqual(
      [known.status, known.body],
      [404, ""],
      "a known Host off its route prefix is not told its service is missing",
    );
  });

  test("applies a service's meta: its route prefix reaches it, other paths get 404", async () => {
    const tuned = await envoy.request("/tuned/x", { host: "tuned" });
    assert.deepEqual([tuned.status, tuned.body], [200, "tuned"]);
    assert.equal((await envoy.request("/other", { host: "tuned" })).status, 404);
    const cluster = await envoy.clusterStats("tuned");
    assert.equal(cluster.update_rejected ?? 0, 0);
  });

  test("a service registered after Envoy started gets traffic, then 404 after its grace", async () => {
    store.apply([await service("late")]);
    await waitFor(async () => (await through("late")).body === "late", {
      description: "late reachable through the gateway",
    });
    store.apply([], ["late"]);
    await waitFor(async () => (await through("late")).status === 404, {
      description: "late's host gone after the grace period",
    });
  });

  test("writes a JSON access-log line per request and rejects no update", async () => {
    await through("web");
    const line = await waitFor(
      () =>
        envoy
          .output()
          .split("\n")
          .find((text) => text.includes('"authority":"web"')),
      { description: "access-log line" },
    );
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.equal(entry.cluster, "web");
    assert.equal(entry.method, "GET");
    assert.ok(entry.request_id, "a request id was generated");
    const rejected = await envoy.stats("update_rejected$");
    for (const name of [
      "cluster_manager.cds",
      "listener_manager.lds",
      "cluster.h2",
      "cluster.rings",
    ])
      assert.ok(`${name}.update_rejected` in rejected, `${name} in ${JSON.stringify(rejected)}`);
    for (const [name, value] of Object.entries(rejected)) assert.equal(value, 0, name);
  });
});

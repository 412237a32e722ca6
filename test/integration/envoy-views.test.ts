import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import type { DiscoveryServer } from "../../src/xds/server/discovery-server.ts";
import { gatewayBootstrap } from "../support/envoy-gateway-config.ts";
import { startEnvoy, type EnvoyProxy } from "../support/envoy-proxy.ts";
import { freePort } from "../support/free-port.ts";
import { endpoint } from "../support/model-fixtures.ts";
import { nameServer } from "../support/name-server.ts";
import { waitFor } from "../support/wait-for.ts";
import { startLoopbackDiscoveryServer } from "../support/xds-server-fixture.ts";

const ADMIN = "type.googleapis.com/envoy.admin.v3.";
/** Services in the catalog besides the two the Envoy asks for. */
const OTHERS = 20;

describe("a real Envoy whose node metadata asks for two services out of many", () => {
  const store = new EndpointStore();
  let cache: ResourceCache;
  let xds: DiscoveryServer;
  let envoy: EnvoyProxy;
  const backends: Server[] = [];
  const service = async (name: string): Promise<ServiceEndpoints> => {
    const { server, port } = await nameServer(name);
    backends.push(server);
    return { service: name, endpoints: [endpoint("127.0.0.1", { id: `node/${name}`, port })] };
  };

  before(async () => {
    const others = Array.from({ length: OTHERS }, (_, i) =>
      service(`other-${String(i).padStart(2, "0")}`),
    );
    store.apply(await Promise.all([service("web"), service("api"), ...others]));
    store.markReady();
    const gatewayPort = await freePort();
    cache = new ResourceCache(store, loadXdsProtos(), 20, {
      clusterGraceMs: 500,
      gateway: { host: "127.0.0.1", port: gatewayPort },
    });
    xds = await startLoopbackDiscoveryServer(cache);
    envoy = await startEnvoy({
      xdsPort: xds.port,
      bootstrap: (values) => gatewayBootstrap({ ...values, services: ["web", "api"] }),
      listenerPort: gatewayPort,
    });
    await waitFor(async () => (await envoy.request("/", { host: "web" })).body === "web", {
      description: "web reachable through the gateway",
    });
  });

  after(async () => {
    await envoy?.stop();
    await xds?.close();
    cache?.close();
    for (const server of backends) server.close();
  });

  /** Names of the clusters Envoy got over CDS, and of its route configuration's hosts. */
  const dynamic = async () => {
    const dump = JSON.parse(await envoy.admin("/config_dump")) as {
      configs: {
        "@type": string;
        static_clusters?: { cluster: { name: string } }[];
        dynamic_active_clusters?: { cluster: { name: string } }[];
        dynamic_route_configs?: { route_config: { virtual_hosts: { name: string }[] } }[];
      }[];
    };
    const clusters = dump.configs.find((c) => c["@type"] === `${ADMIN}ClustersConfigDump`)!;
    const routes = dump.configs.find((c) => c["@type"] === `${ADMIN}RoutesConfigDump`)!;
    return {
      static: (clusters.static_clusters ?? []).map((c) => c.cluster.name),
      clusters: (clusters.dynamic_active_clusters ?? []).map((c) => c.cluster.name).sort(),
      hosts: routes.dynamic_route_configs?.[0]?.route_config.virtual_hosts.map((h) => h.name),
    };
  };

  test("holds exactly the two clusters it asked for (plus its static ones)", async () => {
    const { static: statics, clusters, hosts } = await dynamic();
    assert.deepEqual(clusters, ["api", "web"]);
    assert.deepEqual(hosts, ["api", "web", "*"]);
    const listed = JSON.parse(await envoy.admin("/clusters?format=json")) as {
      cluster_statuses: { name: string }[];
    };
    const names = listed.cluster_statuses.map((c) => c.name).filter((n) => !statics.includes(n));
    assert.deepEqual(names.sort(), ["api", "web"]);
  });

  test("routes by Host to the two services; another service's Host is unknown to it", async () => {
    for (const name of ["web", "api"]) {
      const response = await envoy.request("/", { host: `${name}.service.consul` });
      assert.deepEqual([response.status, response.body], [200, name]);
    }
    assert.equal((await envoy.request("/", { host: "other-00" })).status, 404);
  });

  test("a service registered outside its view changes nothing in it", async () => {
    const counters = async () => ({
      cds: await envoy.stat("cluster_manager.cds.update_success"),
      rds: await envoy.stat("http.consul_gateway.rds.consul-services.update_success"),
    });
    const before = await counters();
    assert.ok(before.cds !== undefined && before.cds > 0, "CDS counted");
    store.apply([await service("outsider"), await service("other-00")]);
    store.apply([], ["other-01"]);
    // Long enough for the coalescing window and any push to reach Envoy.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.deepEqual(await counters(), before, "no update reached Envoy");
    assert.deepEqual((await dynamic()).clusters, ["api", "web"]);

    // A change to a service of the view still does.
    const api = await service("api");
    const maglev = api.endpoints.map((e) => ({ ...e, meta: { "envoy-lb-policy": "maglev" } }));
    store.apply([{ service: "api", endpoints: maglev }]);
    await waitFor(async () => (await counters()).cds! > before.cds!, {
      description: "api's new cluster reached Envoy",
    });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import {
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
  UNKNOWN_HOST_ROUTE,
} from "../../src/xds/resources/route-configuration.ts";
import { decodeResource } from "../support/decode-resource.ts";
import { endpoint } from "../support/model-fixtures.ts";

const svc = (name: string): ServiceEndpoints => ({
  service: name,
  endpoints: [endpoint("10.0.0.1")],
});

interface DecodedHost {
  name: string;
  domains: string[];
  routes: { name: string; route?: { cluster: string }; direct_response?: { status: number } }[];
}

/** The route configuration's virtual hosts, and its catch-all host (domain `*`). */
function hosts(cache: ResourceCache): { all: DecodedHost[]; catchAll: DecodedHost | undefined } {
  const resource = cache.get(RDS, "consul-services")!;
  const decoded = decodeResource("routeConfiguration", resource.any.value) as {
    virtual_hosts?: DecodedHost[];
  };
  const all = decoded.virtual_hosts ?? [];
  return { all, catchAll: all.find((host) => host.domains.includes("*")) };
}

function setup(defaultService: string | undefined, ...services: ServiceEndpoints[]) {
  const store = new EndpointStore();
  store.apply(services);
  const gateway = { host: "0.0.0.0", port: 10000, defaultService };
  const cache = new ResourceCache(store, loadXdsProtos(), 0, { clusterGraceMs: 0, gateway });
  const told: string[][] = [];
  cache.subscribe((changes) => told.push([...(changes.get(RDS) ?? [])]));
  return { store, cache, told };
}

describe("the gateway's catch-all host in the served route configuration", () => {
  it("routes an unknown Host to the default service once it is in Consul, and back to the 404 when it leaves", () => {
    const { store, cache, told } = setup("myservice", svc("web"));
    assert.equal(hosts(cache).catchAll?.routes[0]?.name, UNKNOWN_HOST_ROUTE);
    assert.equal(hosts(cache).catchAll?.routes[0]?.direct_response?.status, 404);

    store.apply([svc("myservice")]);
    assert.deepEqual(told.at(-1), ["consul-services"], "the route configuration is pushed again");
    assert.deepEqual(hosts(cache).catchAll?.routes[0]?.route, { cluster: "myservice" });
    assert.deepEqual(
      hosts(cache).all.map((host) => host.name),
      ["myservice", "web", "*"],
      "the service keeps its own host; the catch-all comes last",
    );

    store.apply([], ["myservice"]);
    assert.equal(hosts(cache).catchAll?.routes[0]?.name, UNKNOWN_HOST_ROUTE);
  });

  it("answers the 404 when turned off, even with the shim's service in Consul", () => {
    const { cache } = setup(undefined, svc("myservice"));
    assert.equal(hosts(cache).catchAll?.routes[0]?.name, UNKNOWN_HOST_ROUTE);
  });

  it("does not route to a default service the filter does not export (consul)", () => {
    const { cache } = setup("consul", svc("consul"), svc("web"));
    assert.equal(hosts(cache).catchAll?.routes[0]?.name, UNKNOWN_HOST_ROUTE);
  });

  it("is absent without a gateway", () => {
    const store = new EndpointStore();
    store.apply([svc("myservice")]);
    const cache = new ResourceCache(store, loadXdsProtos(), 0, {});
    assert.equal(hosts(cache).catchAll, undefined);
  });
});

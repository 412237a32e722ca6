import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import type { Endpoint, ServiceEndpoints } from "../../src/model/endpoint.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { parseServiceFilter } from "../../src/model/service-filter.ts";
import type { MetaProblem } from "../../src/model/service-settings.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ResourceCache, type ResourceCacheOptions } from "../../src/xds/cache/resource-cache.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { LISTENER_TYPE_URL as LDS } from "../../src/xds/resources/listener.ts";
import { ROUTE_CONFIGURATION_TYPE_URL as RDS } from "../../src/xds/resources/route-configuration.ts";
import { type ResourceTypeUrl } from "../../src/xds/resources/resource-types.ts";
import { decodeResource } from "../support/decode-resource.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { endpoint } from "../support/model-fixtures.ts";

const GRACE_MS = 60_000;

function svc(name: string, ...endpoints: Endpoint[]): ServiceEndpoints {
  return { service: name, endpoints: endpoints.length > 0 ? endpoints : [endpoint("10.0.0.1")] };
}

/** A cache with a zero coalescing window; `told` records each notice as type → sorted names. */
function setup(options: ResourceCacheOptions = {}, ...services: ServiceEndpoints[]) {
  const store = new EndpointStore();
  store.apply(services);
  const cache = new ResourceCache(store, loadXdsProtos(), 0, {
    clusterGraceMs: GRACE_MS,
    ...options,
  });
  const told: Partial<Record<ResourceTypeUrl, string[]>>[] = [];
  cache.subscribe((changes) =>
    told.push(Object.fromEntries([...changes].map(([type, names]) => [type, [...names].sort()]))),
  );
  return { store, cache, told };
}

const virtualHosts = (cache: ResourceCache): string[] => {
  const resource = cache.get(RDS, "consul-services")!;
  const decoded = decodeResource("routeConfiguration", resource.any.value) as {
    virtual_hosts?: { name: string }[];
  };
  return (decoded.virtual_hosts ?? []).map((host) => host.name);
};

describe("ResourceCache routing resources", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  it("has a cluster and a virtual host for every service but consul", () => {
    const { cache } = setup({}, svc("web"), svc("api"), svc("consul"));
    assert.deepEqual(cache.names(CDS), ["api", "web"]);
    assert.equal(cache.get(CDS, "consul"), undefined);
    const web = decodeResource("cluster", cache.get(CDS, "web")!.any.value);
    assert.equal(web.name, "web");
    assert.equal(web.type, "EDS");
    assert.deepEqual(virtualHosts(cache), ["api", "web"]);
    assert.deepEqual(cache.names(RDS), ["consul-services"]);
    assert.equal(cache.get(RDS, "other-routes"), undefined);
  });

  it("serves nothing of a service the filter leaves out, not even its endpoints", () => {
    const { filter } = parseServiceFilter("api-*,tag:public");
    const { cache } = setup(
      { filter },
      svc("api-users"),
      svc("tagged", endpoint("10.0.0.2", { tags: ["public"] })),
      svc("hidden", endpoint("10.0.0.3")),
    );
    assert.deepEqual(cache.names(CDS), ["api-users", "tagged"]);
    assert.equal(cache.get(CDS, "hidden"), undefined);
    const assignment = cache.get(EDS, "hidden")!;
    assert.equal(assignment.exists, false);
    assert.equal(
      decodeResource("clusterLoadAssignment", assignment.any.value).endpoints,
      undefined,
    );
    assert.deepEqual(virtualHosts(cache), ["api-users", "tagged"]);
  });

  it("re-encodes only the assignment when only endpoints change", () => {
    const { store, cache, told } = setup({}, svc("web"));
    const cluster = cache.get(CDS, "web");
    cache.get(RDS, "consul-services");
    const before = cache.encodingsByType();
    store.apply([svc("web", endpoint("10.0.0.1"), endpoint("10.0.0.2"))]);
    assert.deepEqual(told, [{ [EDS]: ["web"] }]);
    assert.equal(cache.get(CDS, "web"), cluster);
    cache.get(RDS, "consul-services");
    cache.get(EDS, "web");
    const after = cache.encodingsByType();
    assert.deepEqual(
      [after[CDS], after[RDS], after[EDS]],
      [before[CDS], before[RDS], before[EDS] + 1],
    );
  });

  it("gives a new cluster version and tells CDS, RDS and LDS when settings change", () => {
    const { store, cache, told } = setup({}, svc("web"));
    const before = cache.get(CDS, "web")!;
    assert.ok(cache.get(LDS, "web"), "a client asked for the API listener web");
    store.apply([svc("web", endpoint("10.0.0.1", { meta: { "envoy-lb-policy": "maglev" } }))]);
    assert.deepEqual(told, [
      { [EDS]: ["web"], [CDS]: ["web"], [RDS]: ["consul-services"], [LDS]: ["web"] },
    ]);
    const after = cache.get(CDS, "web")!;
    assert.notEqual(after.version, before.version);
    assert.equal(decodeResource("cluster", after.any.value).lb_policy, "MAGLEV");
  });

  it("keeps a departed service's cluster and host, empty, for the grace period", () => {
    const { store, cache, told } = setup({}, svc("web"), svc("api"));
    const cluster = cache.get(CDS, "web")!;
    store.apply([], ["web"]);
    assert.deepEqual(told, [{ [EDS]: ["web"] }]);
    assert.equal(cache.get(CDS, "web")!.version, cluster.version);
    assert.equal(cache.get(EDS, "web")!.exists, false);
    assert.deepEqual(virtualHosts(cache), ["api", "web"]);
    mock.timers.tick(GRACE_MS - 1);
    assert.deepEqual(cache.names(CDS), ["api", "web"]);
    mock.timers.tick(1);
    // No client asked for an API listener web: nothing to tell about listeners.
    assert.deepEqual(told[1], { [CDS]: ["web"], [RDS]: ["consul-services"] });
    assert.deepEqual(cache.names(CDS), ["api"]);
    assert.equal(cache.get(CDS, "web"), undefined);
    assert.deepEqual(virtualHosts(cache), ["api"]);
  });

  it("keeps the cluster unchanged when a service comes back within the grace period", () => {
    const { store, cache, told } = setup({}, svc("web"));
    const cluster = cache.get(CDS, "web")!;
    store.apply([], ["web"]);
    store.apply([svc("web")]);
    mock.timers.tick(GRACE_MS);
    assert.equal(cache.get(CDS, "web"), cluster);
    assert.ok(told.every((notice) => !(CDS in notice)));
    assert.equal(cache.get(EDS, "web")!.exists, true);
  });

  it("removes a departed service at once with a zero grace period", () => {
    const { store, cache, told } = setup({ clusterGraceMs: 0 }, svc("web"));
    store.apply([], ["web"]);
    assert.deepEqual(told[0]![CDS], ["web"]);
    assert.equal(cache.get(CDS, "web"), undefined);
  });

  it("keeps a service's settings while it has no instances", () => {
    const meta = { "envoy-protocol": "http2" };
    const { store, cache, told } = setup({}, svc("web", endpoint("10.0.0.1", { meta })));
    const cluster = cache.get(CDS, "web")!;
    store.apply([{ service: "web", endpoints: [] }]);
    assert.deepEqual(told, [{ [EDS]: ["web"] }]);
    assert.equal(cache.get(CDS, "web"), cluster);
  });

  it("uses the default for a bad meta value, logging and reporting it once", () => {
    const logs = memoryLogger();
    const reported: [string, MetaProblem][] = [];
    const bad = endpoint("10.0.0.1", { meta: { "envoy-lb-policy": "fastest" } });
    const { store, cache } = setup(
      {
        logger: logs.logger,
        onInvalidMeta: (service, problem) => reported.push([service, problem]),
      },
      svc("web", bad),
    );
    store.apply([svc("web", bad, endpoint("10.0.0.2"))]);
    assert.equal(
      decodeResource("cluster", cache.get(CDS, "web")!.any.value).lb_policy,
      "ROUND_ROBIN",
    );
    assert.equal(reported.length, 1);
    assert.equal(reported[0]![0], "web");
    assert.equal(reported[0]![1].key, "envoy-lb-policy");
    const lines = logs.lines.filter((line) => /meta value ignored/.test(line.msg));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.value, "fastest");
  });

  it("serves the gateway listener only when a gateway is configured", () => {
    assert.deepEqual(setup({}, svc("web")).cache.names(LDS), []);
    assert.equal(setup({}, svc("web")).cache.get(LDS, "consul-gateway"), undefined);
    const { cache } = setup({ gateway: { host: "0.0.0.0", port: 10000 } }, svc("web"));
    assert.deepEqual(cache.names(LDS), ["consul-gateway"]);
    const listener = decodeResource("listener", cache.get(LDS, "consul-gateway")!.any.value);
    assert.deepEqual(listener.address, {
      socket_address: { address: "0.0.0.0", port_value: 10000 },
    });
  });

  it("serves an API listener for NAME, NAME:PORT and NAME.service.consul, not for others", () => {
    const { cache } = setup({}, svc("greeter"));
    for (const name of ["greeter", "greeter:50051", "greeter.service.consul:443"]) {
      const listener = decodeResource("listener", cache.get(LDS, name)!.any.value);
      assert.equal(listener.name, name);
      assert.ok(listener.api_listener, name);
    }
    assert.equal(cache.get(LDS, "nobody"), undefined);
    assert.equal(cache.get(LDS, "greeter:port"), undefined);
  });

  it("tells a requested API listener name when its service appears, and encodes no other", () => {
    const { store, cache, told } = setup({});
    assert.equal(cache.get(LDS, "late:8080"), undefined);
    store.apply([svc("late")]);
    assert.deepEqual(told.at(-1)![LDS], ["late:8080"], "only the name a client asked for");
    const listenersBefore = cache.encodingsByType()[LDS];
    assert.ok(cache.get(LDS, "late:8080"));
    store.apply([svc("other")]);
    assert.equal(told.at(-1)![LDS], undefined, "no client asked for other's listener");
    assert.equal(cache.encodingsByType()[LDS], listenersBefore + 1);
  });
});

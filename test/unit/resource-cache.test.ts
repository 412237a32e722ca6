import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpoint, service } from "../support/model-fixtures.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ResourceCache, type EncodedResource } from "../../src/xds/cache/resource-cache.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  type ClusterLoadAssignmentObject,
} from "../../src/xds/resources/cluster-load-assignment.ts";

/**
 * A cache over a real store with a zero coalescing window, so every store change reaches the
 * listener synchronously; `told` records what the listener heard.
 */
function cacheWith(...services: ServiceEndpoints[]): {
  store: EndpointStore;
  cache: {
    get(name: string): EncodedResource;
    names(): readonly string[];
    readonly encodings: number;
    readonly ready: boolean;
    whenReady(): Promise<void>;
    subscribe: ResourceCache["subscribe"];
    close(): void;
  };
  told: string[][];
} {
  const store = new EndpointStore();
  store.apply(services);
  const resources = new ResourceCache(store, loadXdsProtos(), 0);
  const told: string[][] = [];
  resources.subscribe((changes) => {
    const names = changes.get(EDS);
    if (names) told.push([...names].sort());
  });
  // The assignment side of the cache: these tests are about EDS.
  const cache = {
    get: (name: string) => resources.get(EDS, name)!,
    names: () => resources.names(EDS),
    get encodings() {
      return resources.encodingsByType()[EDS];
    },
    get ready() {
      return resources.ready;
    },
    whenReady: () => resources.whenReady(),
    subscribe: resources.subscribe.bind(resources),
    close: () => resources.close(),
  };
  return { store, cache, told };
}

function decode(resource: EncodedResource): ClusterLoadAssignmentObject {
  const type = loadXdsProtos().resource(EDS);
  return type.toObject(type.decode(resource.any.value), {
    enums: String,
    defaults: true,
  }) as ClusterLoadAssignmentObject;
}

describe("ResourceCache", () => {
  it("gives an empty assignment with exists=false for a name that does not exist", () => {
    const { cache } = cacheWith(service("web", endpoint("10.0.0.1")));
    const ghost = cache.get("ghost");
    assert.equal(ghost.exists, false);
    assert.equal(ghost.name, "ghost");
    assert.equal(ghost.any.type_url, EDS);
    const decoded = decode(ghost);
    assert.equal(decoded.cluster_name, "ghost");
    assert.deepEqual(decoded.endpoints, []);
  });

  it("encodes an existing service with its endpoints", () => {
    const { cache } = cacheWith(service("web", endpoint("10.0.0.1"), endpoint("10.0.0.2")));
    const web = cache.get("web");
    assert.equal(web.exists, true);
    const addresses = decode(web).endpoints.flatMap((group) =>
      group.lb_endpoints.map((lb) => lb.endpoint.address.socket_address.address),
    );
    assert.deepEqual(addresses, ["10.0.0.1", "10.0.0.2"]);
  });

  it("encodes once per version however many times it is read", () => {
    const { cache } = cacheWith(service("web", endpoint("10.0.0.1")));
    const first = cache.get("web");
    for (let i = 0; i < 100; i += 1) assert.equal(cache.get("web"), first);
    assert.equal(cache.encodings, 1);
  });

  it("tells the listener the changed name and gives a new version after a store change", () => {
    const { store, cache, told } = cacheWith(service("web", endpoint("10.0.0.1")));
    const before = cache.get("web");
    store.apply([service("web", endpoint("10.0.0.1"), endpoint("10.0.0.2"))]);
    assert.deepEqual(told, [["web"]]);
    const after = cache.get("web");
    assert.notEqual(after.version, before.version);
    assert.equal(cache.encodings, 2);
    assert.equal(cache.get("web"), after);
    assert.equal(cache.encodings, 2);
  });

  it("does not notify or re-encode for an unchanged store.apply", () => {
    const { store, cache, told } = cacheWith(service("web", endpoint("10.0.0.1")));
    const before = cache.get("web");
    store.apply([service("web", endpoint("10.0.0.1"))]);
    assert.deepEqual(told, []);
    assert.equal(cache.get("web"), before);
    assert.equal(cache.encodings, 1);
  });

  it("does not re-encode services other than the changed one", () => {
    const { store, cache } = cacheWith(
      service("web", endpoint("10.0.0.1")),
      service("api", endpoint("10.0.0.9")),
    );
    const api = cache.get("api");
    cache.get("web");
    store.apply([service("web", endpoint("10.0.0.2"))]);
    assert.equal(cache.get("api"), api);
  });

  it("turns a deregistered service into an empty assignment and says so", () => {
    const { store, cache, told } = cacheWith(service("web", endpoint("10.0.0.1")));
    const before = cache.get("web");
    store.apply([], ["web"]);
    assert.deepEqual(told, [["web"]]);
    const after = cache.get("web");
    assert.equal(after.exists, false);
    assert.notEqual(after.version, before.version);
    assert.deepEqual(decode(after).endpoints, []);
  });

  it("replaces the placeholder of a name once the service appears", () => {
    const { store, cache, told } = cacheWith();
    const placeholder = cache.get("web");
    store.apply([service("web", endpoint("10.0.0.1"))]);
    assert.deepEqual(told, [["web"]]);
    const real = cache.get("web");
    assert.equal(real.exists, true);
    assert.notEqual(real.version, placeholder.version);
  });

  it("gives equal content the same version in independent caches (replicas, restarts)", () => {
    const one = cacheWith(service("web", endpoint("10.0.0.1"), endpoint("10.0.0.2")));
    const two = cacheWith(service("web", endpoint("10.0.0.2"), endpoint("10.0.0.1")));
    assert.equal(one.cache.get("web").version, two.cache.get("web").version);
  });

  it("lists the store's names and follows its readiness", async () => {
    const { store, cache } = cacheWith(service("web"), service("api"));
    assert.deepEqual([...cache.names()].sort(), ["api", "web"]);
    assert.equal(cache.ready, false);
    const ready = cache.whenReady();
    store.markReady();
    await ready;
    assert.equal(cache.ready, true);
  });

  it("stops telling listeners after close or unsubscribe", () => {
    const { store, cache, told } = cacheWith(service("web", endpoint("10.0.0.1")));
    const heard: string[][] = [];
    const unsubscribe = cache.subscribe((changes) => heard.push([...changes.keys()]));
    unsubscribe();
    store.apply([service("web", endpoint("10.0.0.2"))]);
    assert.deepEqual(heard, []);
    assert.equal(told.length, 1);
    cache.close();
    store.apply([service("web", endpoint("10.0.0.3"))]);
    assert.equal(told.length, 1);
  });
});

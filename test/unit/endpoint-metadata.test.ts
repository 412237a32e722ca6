import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { endpointMetadata, MAX_METADATA_KEYS } from "../../src/model/endpoint-metadata.ts";
import { readServiceSettings } from "../../src/model/service-settings.ts";
import { toClusterLoadAssignment } from "../../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { toRoutes } from "../../src/xds/resources/route-configuration.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { ROUTE_CONFIGURATION_TYPE_URL as RDS } from "../../src/xds/resources/route-configuration.ts";
import { decodeResource, roundTrip } from "../support/decode-resource.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { endpoint, service } from "../support/model-fixtures.ts";

const SUBSET_META = { "envoy-subset-keys": "version", "envoy-subset-header": "x-version" };

describe("endpoint metadata (envoy.lb)", () => {
  it("carries meta as strings sorted by key, then tags as true; meta wins, envoy-* stays out", () => {
    const { values, dropped } = endpointMetadata({
      tags: ["canary", "version", "canary"],
      meta: { version: "v2", team: "pay", "envoy-lb-policy": "maglev" },
    });
    assert.deepEqual(Object.entries(values), [
      ["team", "pay"],
      ["version", "v2"],
      ["canary", true],
    ]);
    assert.equal(dropped, 0);
  });

  it("keeps at most 32 keys, meta first, and drops values over 256 bytes, counting each", () => {
    const meta = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`k${String(i).padStart(2, "0")}`, "x"]),
    );
    meta.big = "é".repeat(129); // 258 bytes
    const tags = ["t1", "t2", "t3", "t4"];
    const { values, dropped } = endpointMetadata({ tags, meta });
    assert.equal(Object.keys(values).length, MAX_METADATA_KEYS);
    assert.equal(values.big, undefined);
    assert.equal(values.t2, true);
    assert.equal(values.t3, undefined);
    assert.equal(dropped, 3);
  });

  it("reaches the assignment as filter metadata under envoy.lb, through protobuf", () => {
    const cla = toClusterLoadAssignment(
      service("web", endpoint("10.0.0.1", { tags: ["canary"], meta: { version: "v2" } })),
      "web",
    );
    const decoded = roundTrip("clusterLoadAssignment", cla) as {
      endpoints: { lb_endpoints: { metadata: unknown }[] }[];
    };
    assert.deepEqual(decoded.endpoints[0]!.lb_endpoints[0]!.metadata, {
      filter_metadata: {
        "envoy.lb": { fields: { version: { string_value: "v2" }, canary: { bool_value: true } } },
      },
    });
    const bare = toClusterLoadAssignment(service("web", endpoint("10.0.0.1")), "web");
    assert.equal(bare.endpoints[0]!.lb_endpoints[0]!.metadata, undefined);
  });
});

describe("subset routes by header", () => {
  it("puts one route per value before the default one, each asking for its subset", () => {
    const settings = readServiceSettings({ ...SUBSET_META, "envoy-route-prefix": "/api" }).settings;
    const routes = toRoutes({ name: "web", settings, subsetValues: ["v1", "v2"] });
    assert.deepEqual(
      routes.map((route) => [route.match, route.route.metadata_match]),
      [
        [
          { prefix: "/api", headers: [{ name: "x-version", string_match: { exact: "v1" } }] },
          { filter_metadata: { "envoy.lb": { fields: { version: { string_value: "v1" } } } } },
        ],
        [
          { prefix: "/api", headers: [{ name: "x-version", string_match: { exact: "v2" } }] },
          { filter_metadata: { "envoy.lb": { fields: { version: { string_value: "v2" } } } } },
        ],
        [{ prefix: "/api" }, undefined],
      ],
    );
    const plain = readServiceSettings({ "envoy-subset-keys": "version" }).settings;
    assert.equal(toRoutes({ name: "web", settings: plain, subsetValues: ["v1"] }).length, 1);
  });

  it("the cache routes the values its instances carry, and follows a new one", async () => {
    const store = new EndpointStore();
    const v = (address: string, version: string) =>
      endpoint(address, { meta: { ...SUBSET_META, version } });
    store.apply([service("web", v("10.0.0.1", "v1"), v("10.0.0.2", "v2"))]);
    const { logger } = memoryLogger();
    const cache = new ResourceCache(store, loadXdsProtos(), 0, { logger });
    const headerValues = (): string[] => {
      const decoded = decodeResource(
        "routeConfiguration",
        cache.get(RDS, "consul-services")!.any.value,
      ) as {
        virtual_hosts: {
          routes: { match: { headers?: { string_match: { exact: string } }[] } }[];
        }[];
      };
      return decoded.virtual_hosts[0]!.routes.map(
        (route) => route.match.headers?.[0]?.string_match.exact ?? "*",
      );
    };
    try {
      assert.deepEqual(headerValues(), ["v1", "v2", "*"]);
      const changed = new Promise((resolve) => cache.subscribe(resolve));
      store.apply([service("web", v("10.0.0.1", "v1"), v("10.0.0.3", "v3"))]);
      await changed;
      assert.deepEqual(headerValues(), ["v1", "v3", "*"]);
    } finally {
      cache.close();
    }
  });

  it("the cache reports an endpoint over the metadata limits once", () => {
    const store = new EndpointStore();
    const meta = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "x"]));
    store.apply([service("web", endpoint("10.0.0.1", { meta }))]);
    const told: [string, number][] = [];
    const { logger, lines } = memoryLogger();
    const cache = new ResourceCache(store, loadXdsProtos(), 0, {
      logger,
      onMetadataDropped: (name, dropped) => told.push([name, dropped]),
    });
    try {
      cache.get(EDS, "web");
      assert.deepEqual(told, [["web", 8]]);
      assert.equal(lines.filter((line) => /metadata over its limits/.test(line.msg)).length, 1);
    } finally {
      cache.close();
    }
  });
});

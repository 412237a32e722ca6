import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import type { ServiceEndpoints } from "../../src/model/endpoint.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { SharedResponses } from "../../src/xds/cache/shared-responses.ts";
import { SOTW_PROTOCOL, type DiscoveryRequest } from "../../src/xds/protocol/sotw-protocol.ts";
import { XdsStream } from "../../src/xds/protocol/xds-stream.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ROUTE_CONFIGURATION_TYPE_URL as RDS } from "../../src/xds/resources/route-configuration.ts";
import { decodeResource } from "../support/decode-resource.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { endpoint, service } from "../support/model-fixtures.ts";

interface Written {
  nonce: string;
  type_url: string;
  resources: { value: Uint8Array }[];
}

/** A gRPC server call the test drives: requests in, written responses decoded. */
class FakeCall extends EventEmitter {
  readonly written: Written[] = [];
  status: { code: number; details: string } | undefined;

  constructor() {
    super();
    this.on("error", (error: { code: number; details: string }) => (this.status ??= error));
  }

  write(bytes: Buffer, done: () => void): boolean {
    this.written.push(loadXdsProtos().discoveryResponse.decode(bytes) as unknown as Written);
    done();
    return true;
  }

  end(): void {}

  getPeer(): string {
    return "ipv4:127.0.0.1:1";
  }
}

const tagged = (name: string, ...tags: string[]): ServiceEndpoints =>
  service(name, endpoint(`10.0.0.${name.length}`, { tags }));

/** A cache over a real store, and state-of-the-world streams of any view over it. */
function bridge(...services: ServiceEndpoints[]) {
  const store = new EndpointStore();
  store.apply(services);
  store.markReady();
  const protos = loadXdsProtos();
  const cache = new ResourceCache(store, protos, 0, { clusterGraceMs: 0 });
  let responseEncodings = 0;
  const responses = new SharedResponses(cache, {
    envelopes: { sotw: protos.discoveryResponse, delta: protos.deltaDiscoveryResponse },
    onEncode: () => (responseEncodings += 1),
  });
  /** A stream whose node asks for `view` (none: every service), subscribed to CDS and RDS. */
  const stream = (view?: string) => {
    const call = new FakeCall();
    new XdsStream({
      call: call as unknown as ServerDuplexStream<DiscoveryRequest, Buffer>,
      protocol: SOTW_PROTOCOL,
      cache,
      responses,
      logger: memoryLogger().logger,
    });
    const metadata =
      view === undefined
        ? null
        : { fields: { "consul-services": { kind: "string_value", string_value: view } } };
    const send = (typeUrl: string, names: string[], nonce = ""): void => {
      call.emit("data", {
        type_url: typeUrl,
        resource_names: names,
        response_nonce: nonce,
        version_info: "",
        error_detail: null,
        node: { id: "envoy", metadata },
      });
    };
    send(CDS, []);
    send(RDS, ["consul-services"]);
    const last = (typeUrl: string) => call.written.filter((w) => w.type_url === typeUrl).at(-1);
    const clusters = () =>
      last(CDS)?.resources.map((r) => decodeResource("cluster", r.value).name as string);
    const hosts = () =>
      (
        decodeResource("routeConfiguration", last(RDS)!.resources[0]!.value).virtual_hosts as {
          name: string;
        }[]
      ).map((host) => host.name);
    const ack = () => {
      send(CDS, [], last(CDS)!.nonce);
      send(RDS, ["consul-services"], last(RDS)!.nonce);
    };
    return { call, send, clusters, hosts, ack, close: () => call.emit("cancelled") };
  };
  return {
    store,
    cache,
    stream,
    get responseEncodings() {
      return responseEncodings;
    },
  };
}

describe("node views: each node gets only the services it asks for", () => {
  it("serves a view only its clusters and virtual hosts; a node without one gets all", () => {
    const b = bridge(tagged("web", "public"), tagged("api"), tagged("db"), tagged("cache"));
    const viewed = b.stream("web,tag:none,ca*");
    const all = b.stream();
    assert.deepEqual(viewed.clusters(), ["cache", "web"]);
    assert.deepEqual(viewed.hosts(), ["cache", "web"]);
    assert.deepEqual(all.clusters(), ["api", "cache", "db", "web"]);
    assert.deepEqual(all.hosts(), ["api", "cache", "db", "web"]);
  });

  it("encodes a view's responses once for all its streams, and each cluster once for all views", () => {
    const b = bridge(tagged("web"), tagged("api"), tagged("db"));
    const streams = Array.from({ length: 20 }, () => b.stream("web,api"));
    const other = b.stream("db,web");
    for (const s of [...streams, other]) s.ack();
    const clusterEncodings = b.cache.encodingsByType()[CDS];
    assert.equal(clusterEncodings, 3, "web's cluster is shared by both views");
    assert.equal(b.cache.encodingsByType()[RDS], 2, "one route configuration per view");
    const before = b.responseEncodings;
    const routesBefore = b.cache.encodingsByType()[RDS];
    b.store.apply([
      service(
        "web",
        endpoint("10.9.9.9", {
          meta: { "envoy-route-timeout": "5s", "envoy-lb-policy": "maglev" },
        }),
      ),
    ]);
    // One CDS and one RDS response per view, however many streams hold it.
    assert.equal(b.responseEncodings - before, 4);
    assert.equal(b.cache.encodingsByType()[RDS] - routesBefore, 2);
    assert.equal(b.cache.encodingsByType()[CDS] - clusterEncodings, 1);
    for (const s of streams) assert.deepEqual(s.clusters(), ["api", "web"]);
    assert.deepEqual(other.clusters(), ["db", "web"]);
  });

  it("wakes none of a view's streams for a change outside it", () => {
    const b = bridge(tagged("web"), tagged("api"));
    const viewed = b.stream("web");
    const all = b.stream();
    viewed.ack();
    all.ack();
    const [seenByView, seenByAll] = [viewed.call.written.length, all.call.written.length];
    b.store.apply([tagged("worker"), service("api", endpoint("10.1.1.1"))]);
    b.store.apply([], ["api"]);
    assert.equal(viewed.call.written.length, seenByView, "nothing sent to the view");
    assert.ok(all.call.written.length > seenByAll);
    assert.deepEqual(viewed.clusters(), ["web"]);
  });

  it("removes a service that loses the tag its view asks for, and adds one that gains it", () => {
    const b = bridge(tagged("web", "public"), tagged("api", "public"), tagged("db"));
    const viewed = b.stream("tag:public");
    viewed.ack();
    assert.deepEqual(viewed.clusters(), ["api", "web"]);
    b.store.apply([tagged("api"), tagged("db", "public")]);
    assert.deepEqual(viewed.clusters(), ["db", "web"]);
    assert.deepEqual(viewed.hosts(), ["db", "web"]);
  });

  it("answers a name outside the view as if the service did not exist", () => {
    const b = bridge(tagged("web"), tagged("api"));
    const viewed = b.stream("web");
    viewed.send(EDS, ["api", "web"]);
    const assignments = viewed.call.written
      .filter((w) => w.type_url === EDS)
      .flatMap((w) => w.resources.map((r) => decodeResource("clusterLoadAssignment", r.value)));
    const endpointsOf = (name: string) =>
      assignments.find((a) => a.cluster_name === name)?.endpoints as unknown[] | undefined;
    assert.equal(endpointsOf("web")?.length, 1);
    assert.equal(endpointsOf("api")?.length ?? 0, 0, "api's assignment is the empty one");
  });

  it("drops a view with its last stream: the next one builds its routes anew", () => {
    const b = bridge(tagged("web"));
    const routes = () => b.cache.encodingsByType()[RDS];
    const one = b.stream("web");
    const built = routes();
    const two = b.stream("web");
    assert.equal(routes(), built, "a second stream of the view shares its route configuration");
    one.close();
    b.stream("web").close();
    assert.equal(routes(), built, "kept while a stream holds the view");
    two.close();
    b.stream("web");
    assert.equal(routes(), built + 1, "built again: the view went with its last stream");
  });

  it("refuses a malformed view with INVALID_ARGUMENT naming the bad pattern", () => {
    const b = bridge(tagged("web"));
    const bad = b.stream("web,no/slash");
    assert.equal(bad.call.status?.code, status.INVALID_ARGUMENT);
    assert.match(bad.call.status?.details ?? "", /pattern 2 "no\/slash"/);
    assert.equal(bad.call.written.length, 0, "nothing served, not everything");
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Endpoint, ServiceEndpoints } from "../../src/model/endpoint.ts";
import type { ResourceCacheOptions } from "../../src/xds/cache/resource-cache.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { LISTENER_TYPE_URL as LDS } from "../../src/xds/resources/listener.ts";
import { ROUTE_CONFIGURATION_TYPE_URL as RDS } from "../../src/xds/resources/route-configuration.ts";
import { callThroughXds, RAW_ECHO } from "../support/grpc-xds-call.ts";
import { endpoint as fixtureEndpoint } from "../support/model-fixtures.ts";
import type { DecodedResponse, XdsTestStream } from "../support/xds-client.ts";
import { xdsServerFixture } from "../support/xds-server-fixture.ts";

const endpoint = (port: number, meta: Record<string, string> = {}): Endpoint =>
  fixtureEndpoint("127.0.0.1", { id: `node/${port}`, port, meta });
const service = (
  name: string,
  port: number,
  meta: Record<string, string> = {},
): ServiceEndpoints => ({
  service: name,
  endpoints: [endpoint(port, meta)],
});

/** Acknowledges a response on the stream, keeping the same subscription. */
function ack(stream: XdsTestStream, response: DecodedResponse, names: string[] = []): void {
  stream.send({
    type_url: response.type_url,
    resource_names: names,
    response_nonce: response.nonce,
    version_info: response.version_info,
  });
}

const virtualHosts = (response: DecodedResponse): string[] =>
  ((response.resources[0]?.virtual_hosts ?? []) as { name: string }[]).map((host) => host.name);

describe("xDS routing resources over real gRPC", () => {
  const xds = xdsServerFixture();
  const start = (options: ResourceCacheOptions = {}, ...services: ServiceEndpoints[]) =>
    xds.start({ services, cache: { clusterGraceMs: 0, ...options } });

  test("CDS answers carry every service, and a removed one is absent from the next", async () => {
    const { store, stream } = await start({}, service("web", 1), service("api", 2));
    const cds = stream("cds");
    cds.send({ node: { id: "envoy-1" }, resource_names: [] });
    const first = await cds.next();
    assert.equal(first.type_url, CDS);
    assert.deepEqual(first.names, ["api", "web"]);
    ack(cds, first);
    store.apply([], ["api"]);
    const second = await cds.next();
    assert.deepEqual(second.names, ["web"]);
    ack(cds, second);
    store.apply([], ["web"]);
    assert.deepEqual((await cds.next()).names, [], "an empty set deletes the last cluster");
  });

  test("a wildcard CDS subscription sees services registered later", async () => {
    const { store, stream } = await start({}, service("web", 1));
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CDS, resource_names: [] });
    const first = await ads.next();
    ack(ads, first);
    store.apply([service("late", 3)]);
    assert.deepEqual((await ads.next()).names, ["late", "web"]);
  });

  test("LDS answers carry the full set, and a removed service's listener is absent", async () => {
    const gateway = { host: "127.0.0.1", port: 10000 };
    const { store, stream } = await start({ gateway }, service("web", 1), service("api", 2));
    const lds = stream("lds");
    const names = ["consul-gateway", "web", "api:50051", "nobody"];
    lds.send({ node: { id: "grpc-1" }, resource_names: names });
    const first = await lds.next();
    assert.equal(first.type_url, LDS);
    assert.deepEqual(first.names, ["consul-gateway", "web", "api:50051"]);
    ack(lds, first, names);
    store.apply([], ["api"]);
    assert.deepEqual((await lds.next()).names, ["consul-gateway", "web"]);

    const wildcard = stream("lds");
    wildcard.send({ node: { id: "envoy-1" }, resource_names: [] });
    assert.deepEqual((await wildcard.next()).names, ["consul-gateway"], "no API listeners");
  });

  test("RDS answers carry every virtual host, and a removed one is absent from the next", async () => {
    const { store, stream } = await start({}, service("web", 1), service("api", 2));
    const rds = stream("rds");
    rds.send({ node: { id: "envoy-1" }, resource_names: ["consul-services"] });
    const first = await rds.next();
    assert.equal(first.type_url, RDS);
    assert.deepEqual(first.names, ["consul-services"]);
    assert.deepEqual(virtualHosts(first), ["api", "web"]);
    ack(rds, first, ["consul-services"]);
    store.apply([], ["api"]);
    assert.deepEqual(virtualHosts(await rds.next()), ["web"]);
  });

  test("a NACKed cluster version is not resent until the data changes", async () => {
    const { store, stream } = await start({}, service("web", 1));
    const ads = stream();
    ads.send({ node: { id: "envoy-nack" }, type_url: CDS, resource_names: [] });
    ack(ads, await ads.next());
    store.apply([service("web", 1, { "envoy-lb-policy": "maglev" })]);
    const rejected = await ads.next();
    ads.send({
      type_url: CDS,
      resource_names: [],
      response_nonce: rejected.nonce,
      version_info: "",
      error_detail: { code: 3, message: "maglev not allowed here" },
    });
    // Endpoints change, the cluster does not: still nothing to send on CDS.
    const maglev = { "envoy-lb-policy": "maglev" };
    store.apply([{ service: "web", endpoints: [endpoint(1, maglev), endpoint(9, maglev)] }]);
    assert.ok(await ads.quietFor(300), "no CDS resend for the rejected version");
    store.apply([service("web", 1, { "envoy-lb-policy": "round_robin" })]);
    const next = await ads.next();
    assert.equal(next.type_url, CDS);
    assert.notEqual(next.version_info, rejected.version_info);
  });

  test("in ADS a cluster goes before its assignment, which is resent after a cluster change", async () => {
    const { store, stream } = await start({}, service("web", 1));
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CDS, resource_names: [] });
    ack(ads, await ads.next());
    ads.send({ type_url: EDS, resource_names: ["web"] });
    const assignment = await ads.next();
    assert.equal(assignment.type_url, EDS);
    ack(ads, assignment, ["web"]);

    // Settings and endpoints change together: the cluster comes first.
    store.apply([{ service: "web", endpoints: [endpoint(2, { "envoy-protocol": "http2" })] }]);
    const cluster = await ads.next();
    const endpoints = await ads.next();
    assert.deepEqual([cluster.type_url, endpoints.type_url], [CDS, EDS]);
    ack(ads, cluster);
    ack(ads, endpoints, ["web"]);

    // Only the cluster changes: its unchanged assignment is sent again after it.
    store.apply([{ service: "web", endpoints: [endpoint(2, { "envoy-protocol": "http1" })] }]);
    const changed = await ads.next();
    const again = await ads.next();
    assert.deepEqual([changed.type_url, again.type_url], [CDS, EDS]);
    assert.deepEqual(again.names, ["web"]);
    assert.deepEqual(again.assignments, endpoints.assignments);
  });

  test("a request with a stale nonce is ignored on every type", async () => {
    const gateway = { host: "127.0.0.1", port: 10000 };
    const { store, stream } = await start({ gateway }, service("web", 1));
    const subscriptions: [string, string[]][] = [
      [CDS, []],
      [LDS, ["web"]],
      [RDS, ["consul-services"]],
      [EDS, ["web"]],
    ];
    for (const [index, [typeUrl, names]] of subscriptions.entries()) {
      const ads = stream();
      ads.send({ node: { id: "envoy-1" }, type_url: typeUrl, resource_names: names });
      const first = await ads.next();
      ack(ads, first, names);
      // Changes web's cluster, route, API listener and assignment, and adds a service.
      store.apply([
        service("web", 10 + index, { "envoy-route-timeout": `${index + 1}s` }),
        service(`new-${index}`, 20 + index),
      ]);
      assert.equal((await ads.next()).type_url, typeUrl);
      // Carries the first nonce, not the latest: stale, so the new names are not answered.
      ads.send({
        type_url: typeUrl,
        resource_names: [...names, "extra"],
        response_nonce: first.nonce,
        version_info: first.version_info,
      });
      assert.ok(await ads.quietFor(300), `${typeUrl}: stale request ignored`);
    }
  });

  test("a departed service keeps its cluster for the grace period, then leaves CDS", async () => {
    const { store, stream } = await start(
      { clusterGraceMs: 400 },
      service("web", 1),
      service("api", 2),
    );
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CDS, resource_names: [] });
    ack(ads, await ads.next());
    ads.send({ type_url: EDS, resource_names: ["api"] });
    ack(ads, await ads.next(), ["api"]);
    const left = Date.now();
    store.apply([], ["api"]);
    const emptied = await ads.next();
    assert.equal(emptied.type_url, EDS, "the assignment empties at once");
    assert.deepEqual(emptied.assignments[0]!.endpoints, []);
    ack(ads, emptied, ["api"]);
    const removed = await ads.next(5_000);
    assert.equal(removed.type_url, CDS);
    assert.deepEqual(removed.names, ["web"]);
    assert.ok(Date.now() - left >= 350, "not before the grace period");
  });

  test("a @grpc/grpc-js-xds client reaches a service by xds:///NAME (LDS, CDS, EDS)", async () => {
    const backend = new Server();
    backend.addService(RAW_ECHO, {
      Echo: (_call: unknown, reply: (error: null, value: Buffer) => void) =>
        reply(null, Buffer.from("hello")),
    });
    const backendPort = await new Promise<number>((resolve, reject) =>
      backend.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    xds.defer(() => backend.forceShutdown());
    const { port } = await start({}, service("echo", backendPort, { "envoy-protocol": "grpc" }));
    assert.deepEqual(await callThroughXds(port, "xds:///echo"), { ok: true, answer: "hello" });
    assert.deepEqual(await callThroughXds(port, "xds:///echo:50051"), {
      ok: true,
      answer: "hello",
    });
  });
});

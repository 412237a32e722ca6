import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createMetrics } from "../../src/observe/metrics.ts";
import type { Endpoint, ServiceEndpoints } from "../../src/model/endpoint.ts";
import type { ResourceCacheOptions } from "../../src/xds/cache/resource-cache.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { LISTENER_TYPE_URL as LDS } from "../../src/xds/resources/listener.ts";
import { ROUTE_CONFIGURATION_TYPE_URL as RDS } from "../../src/xds/resources/route-configuration.ts";
import { endpoint as fixtureEndpoint } from "../support/model-fixtures.ts";
import { waitFor } from "../support/wait-for.ts";
import type { DecodedDeltaResponse, XdsServiceKind } from "../support/xds-client.ts";
import { skippedInWorkers, xdsServerFixture } from "../support/xds-server-fixture.ts";

const endpoint = (port: number, meta: Record<string, string> = {}): Endpoint =>
  fixtureEndpoint("127.0.0.1", { id: `node/${port}`, port, meta });
const service = (name: string, ...ports: number[]): ServiceEndpoints => ({
  service: name,
  endpoints: ports.map((port) => endpoint(port)),
});

/** Ports of the endpoints of each assignment in a delta response, by cluster name. */
function assignedPorts(response: DecodedDeltaResponse): Record<string, number[]> {
  const result: Record<string, number[]> = {};
  for (const resource of response.resources) {
    const groups = (resource.endpoints ?? []) as {
      lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[];
    }[];
    result[String(resource.cluster_name)] = groups.flatMap((group) =>
      group.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value),
    );
  }
  return result;
}

describe("delta xDS over real gRPC", () => {
  const xds = xdsServerFixture();

  async function start(
    services: ServiceEndpoints[],
    { ready, ...options }: ResourceCacheOptions & { ready?: boolean } = {},
  ) {
    const metrics = createMetrics(false);
    const { store, delta, stream, logs } = await xds.start({
      services,
      ready,
      cache: { clusterGraceMs: 0, ...options },
      hooks: {
        onRequest: (kind, typeUrl, mode) =>
          metrics.xdsRequests.inc({ kind, type_url: typeUrl, mode }),
        onNack: (_node, typeUrl, _message, mode) =>
          metrics.xdsNacks.inc({ type_url: typeUrl, mode }),
      },
    });
    /** Waits until the server has seen `count` requests of that kind (delta, any type). */
    const seen = (kind: string, count: number) =>
      waitFor(
        async () =>
          (await metrics.xdsRequests.get()).values
            .filter((v) => v.labels.kind === kind && v.labels.mode === "delta")
            .reduce((sum, v) => sum + v.value, 0) >= count,
        { description: `${count} ${kind} requests` },
      );
    return { store, delta, stream, logs, metrics, seen };
  }

  test("a wildcard CDS subscription gets every cluster, then new ones, then removals", async () => {
    const { store, delta } = await start([service("web", 1), service("api", 2)]);
    const ads = delta();
    ads.send({ node: { id: "envoy-delta" }, type_url: CDS });
    const first = await ads.next();
    assert.equal(first.type_url, CDS);
    assert.deepEqual([...first.names].sort(), ["api", "web"]);
    assert.deepEqual(first.removed, []);
    assert.ok(first.versions.web && first.versions.api, "every resource has its own version");
    ads.ack(first);

    store.apply([service("late", 3)]);
    const added = await ads.next();
    assert.deepEqual(added.names, ["late"], "only the new cluster is sent");
    ads.ack(added);

    store.apply([], ["api"]);
    const removed = await ads.next();
    assert.deepEqual([removed.names, removed.removed], [[], ["api"]]);
  });

  test("`*` subscribes to every listener; a gateway listener comes and no API listener", async () => {
    const gateway = { host: "127.0.0.1", port: 10000 };
    const { delta } = await start([service("web", 1)], { gateway });
    const lds = delta("lds");
    lds.send({ node: { id: "envoy-delta" }, resource_names_subscribe: ["*"] });
    assert.deepEqual((await lds.next()).names, ["consul-gateway"]);
  });

  test("EDS by name: subscribe, changes of only what is subscribed, unsubscribe", async (t) => {
    if (skippedInWorkers(xds, t, "reads the server's hooks or logs, which run in the workers"))
      return;
    const { store, delta, seen } = await start([service("web", 1), service("api", 2)]);
    const eds = delta("eds");
    eds.send({ node: { id: "envoy-delta" }, resource_names_subscribe: ["web"] });
    const first = await eds.next();
    assert.equal(first.type_url, EDS);
    assert.deepEqual(assignedPorts(first), { web: [1] });
    eds.ack(first);

    store.apply([service("api", 2, 3)]);
    assert.ok(await eds.quietFor(200), "api is not subscribed");
    eds.send({ resource_names_subscribe: ["api"] });
    assert.deepEqual(assignedPorts(await eds.next()), { api: [2, 3] });

    eds.send({ resource_names_unsubscribe: ["web"] });
    await seen("update", 2);
    store.apply([service("web", 1, 4)]);
    assert.ok(await eds.quietFor(200), "web was unsubscribed");
    store.apply([service("api", 5)]);
    assert.deepEqual(assignedPorts(await eds.next()), { api: [5] });
  });

  test("a deregistered service's assignment becomes empty, not removed", async () => {
    const { store, delta } = await start([service("web", 1)]);
    const eds = delta();
    eds.send({ node: { id: "envoy-delta" }, type_url: EDS, resource_names_subscribe: ["web"] });
    eds.ack(await eds.next());
    store.apply([], ["web"]);
    const emptied = await eds.next();
    assert.deepEqual([emptied.names, emptied.removed], [["web"], []]);
    assert.deepEqual(assignedPorts(emptied), { web: [] });
  });

  test("on reconnect, initial_resource_versions: held versions are not resent, gone ones removed", async () => {
    const { store, delta } = await start([service("web", 1), service("api", 2), service("db", 3)]);
    const before = delta();
    before.send({ node: { id: "envoy-delta" }, type_url: CDS });
    const held = await before.next();
    before.close();

    store.apply([
      service("api", 2),
      { service: "db", endpoints: [endpoint(3, { "envoy-protocol": "http2" })] },
    ]);
    store.apply([], ["web"]);
    const after = delta();
    after.send({
      node: { id: "envoy-delta" },
      type_url: CDS,
      initial_resource_versions: held.versions,
    });
    const resumed = await after.next();
    assert.deepEqual(resumed.names, ["db"], "only the cluster whose version changed");
    assert.deepEqual(resumed.removed, ["web"]);
    assert.ok(await after.quietFor(200));
  });

  test("a NACK is logged with the node id and counted, and the version is not resent", async (t) => {
    if (skippedInWorkers(xds, t, "reads the server's hooks or logs, which run in the workers"))
      return;
    const { store, delta, logs, metrics } = await start([service("web", 1)]);
    const ads = delta();
    ads.send({ node: { id: "envoy-nacker" }, type_url: CDS });
    ads.ack(await ads.next());
    const maglev = { "envoy-lb-policy": "maglev" };
    store.apply([{ service: "web", endpoints: [endpoint(1, maglev)] }]);
    const rejected = await ads.next();
    ads.send({
      type_url: CDS,
      response_nonce: rejected.nonce,
      error_detail: { code: 3, message: "maglev not allowed here" },
    });
    await waitFor(() => logs.lines.some((l) => l.node === "envoy-nacker" && /NACK/.test(l.msg)), {
      description: "NACK logged",
    });
    const nacks = (await metrics.xdsNacks.get()).values.find((v) => v.labels.mode === "delta");
    assert.equal(nacks?.value, 1);
    store.apply([{ service: "web", endpoints: [endpoint(1, maglev), endpoint(9, maglev)] }]);
    assert.ok(await ads.quietFor(300), "no CDS resend of the rejected version");
    store.apply([service("web", 1)]);
    const next = await ads.next();
    assert.equal(next.type_url, CDS);
    assert.notEqual(next.versions.web, rejected.versions.web);
  });

  test("in delta ADS a changed cluster goes first and its assignment is sent again", async () => {
    const { store, delta } = await start([service("web", 1)]);
    const ads = delta();
    ads.send({ node: { id: "envoy-delta" }, type_url: CDS });
    ads.ack(await ads.next());
    ads.send({ type_url: EDS, resource_names_subscribe: ["web"] });
    const assignment = await ads.next();
    ads.ack(assignment);
    store.apply([{ service: "web", endpoints: [endpoint(1, { "envoy-protocol": "http2" })] }]);
    const cluster = await ads.next();
    const again = await ads.next();
    assert.deepEqual([cluster.type_url, again.type_url], [CDS, EDS]);
    assert.deepEqual(again.versions, assignment.versions, "the same, unchanged assignment");
  });

  test("nothing is sent before the first full read; then everything subscribed is", async () => {
    const { store, delta } = await start([service("web", 1)], { ready: false });
    const ads = delta();
    ads.send({ node: { id: "envoy-delta" }, type_url: CDS });
    assert.ok(await ads.quietFor(300));
    store.markReady();
    assert.deepEqual((await ads.next()).names, ["web"]);
  });

  test("every single-type delta service answers its type", async () => {
    const gateway = { host: "127.0.0.1", port: 10000 };
    const { delta } = await start([service("web", 1)], { gateway });
    const cases: [XdsServiceKind, string, string[], string[]][] = [
      ["cds", CDS, [], ["web"]],
      ["eds", EDS, ["web"], ["web"]],
      ["lds", LDS, [], ["consul-gateway"]],
      ["rds", RDS, ["consul-services"], ["consul-services"]],
    ];
    for (const [kind, typeUrl, subscribe, names] of cases) {
      const stream = delta(kind);
      stream.send({ node: { id: "envoy-delta" }, resource_names_subscribe: subscribe });
      const response = await stream.next();
      assert.deepEqual([response.type_url, response.names], [typeUrl, names], kind);
    }
  });

  test("a client with a delta and a SotW stream sees the same data on both", async () => {
    const { store, delta, stream } = await start([service("web", 1), service("api", 2)]);
    const incremental = delta();
    const sotw = stream("ads");
    incremental.send({ node: { id: "mixed" }, type_url: CDS });
    sotw.send({ node: { id: "mixed" }, type_url: CDS, resource_names: [] });
    const [d, s] = [await incremental.next(), await sotw.next()];
    const byName = (names: string[], resources: Record<string, unknown>[]) =>
      Object.fromEntries(names.map((name, i) => [name, resources[i]]));
    assert.deepEqual(byName(d.names, d.resources), byName(s.names, s.resources));
    incremental.ack(d);
    sotw.send({
      type_url: CDS,
      resource_names: [],
      response_nonce: s.nonce,
      version_info: s.version_info,
    });

    incremental.send({ type_url: EDS, resource_names_subscribe: ["web", "api"] });
    sotw.send({ type_url: EDS, resource_names: ["web", "api"] });
    const [de, se] = [await incremental.next(), await sotw.next()];
    assert.deepEqual(byName(de.names, de.resources), byName(se.names, se.resources));
    incremental.ack(de);
    sotw.send({
      type_url: EDS,
      resource_names: ["web", "api"],
      response_nonce: se.nonce,
      version_info: se.version_info,
    });

    store.apply([service("web", 1, 7)]);
    const [dc, sc] = [await incremental.next(), await sotw.next()];
    assert.deepEqual(dc.names, ["web"]);
    assert.deepEqual(byName(dc.names, dc.resources), byName(sc.names, sc.resources));
  });
});

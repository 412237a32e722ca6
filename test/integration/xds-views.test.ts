import { status } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Endpoint, ServiceEndpoints } from "../../src/model/endpoint.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { LISTENER_TYPE_URL as LDS } from "../../src/xds/resources/listener.ts";
import { ROUTE_CONFIGURATION_TYPE_URL as RDS } from "../../src/xds/resources/route-configuration.ts";
import { endpoint as fixtureEndpoint } from "../support/model-fixtures.ts";
import { viewMetadata, type TestNode } from "../support/xds-client.ts";
import { skippedInWorkers, xdsServerFixture } from "../support/xds-server-fixture.ts";

const endpoint = (port: number, tags: string[] = [], meta: Record<string, string> = {}): Endpoint =>
  fixtureEndpoint("127.0.0.1", { id: `node/${port}`, port, tags, meta });
const service = (name: string, port: number, ...tags: string[]): ServiceEndpoints => ({
  service: name,
  endpoints: [endpoint(port, tags)],
});
const CATALOG = [
  service("web", 1, "public"),
  service("api", 2),
  service("db", 3),
  service("worker", 4),
];
const QUIET_MS = 400;

describe("per-node views over real gRPC", () => {
  const xds = xdsServerFixture();

  async function start(services: ServiceEndpoints[] = CATALOG) {
    const encodings: string[] = [];
    const handle = await xds.start({
      services,
      cache: { clusterGraceMs: 0 },
      hooks: { onResponseEncode: (typeUrl) => encodings.push(typeUrl) },
    });
    return { ...handle, encodings };
  }

  const viewNode = (view: string | string[], id = "envoy-view"): TestNode => ({
    id,
    metadata: viewMetadata(view),
  });

  test("SotW: a node with a view gets only its clusters and routes; others get all", async () => {
    const { stream } = await start();
    const viewed = stream();
    viewed.send({ node: viewNode(["web", "api"]), type_url: CDS });
    const clusters = await viewed.next();
    assert.deepEqual(clusters.names, ["api", "web"]);
    viewed.send({
      type_url: CDS,
      response_nonce: clusters.nonce,
      version_info: clusters.version_info,
    });
    viewed.send({ type_url: RDS, resource_names: ["consul-services"] });
    const routes = await viewed.next();
    const hosts = (routes.resources[0]!.virtual_hosts as { name: string }[]).map((h) => h.name);
    assert.deepEqual(hosts, ["api", "web"]);

    const all = stream();
    all.send({ node: { id: "envoy-all" }, type_url: CDS });
    assert.deepEqual((await all.next()).names, ["api", "db", "web", "worker"]);
  });

  test("SotW: a change outside the view sends nothing to it; one inside does", async () => {
    const { stream, store } = await start();
    const viewed = stream();
    viewed.send({ node: viewNode("web"), type_url: CDS });
    const first = await viewed.next();
    viewed.send({ type_url: CDS, response_nonce: first.nonce, version_info: first.version_info });
    store.apply([service("batch", 5), service("db", 6)]);
    assert.ok(await viewed.quietFor(QUIET_MS), "no response for services outside the view");
    store.apply([
      { service: "web", endpoints: [endpoint(1, ["public"], { "envoy-lb-policy": "maglev" })] },
    ]);
    const changed = await viewed.next();
    assert.deepEqual(changed.names, ["web"]);
  });

  test("SotW: streams of one view share one encoding per change", async (t) => {
    if (skippedInWorkers(xds, t, "reads the server's hooks or logs, which run in the workers"))
      return;
    const { stream, store, encodings } = await start();
    const streams = Array.from({ length: 10 }, (_, i) => {
      const s = stream();
      s.send({ node: viewNode("web,api", `envoy-${i}`), type_url: CDS });
      return s;
    });
    for (const s of streams) {
      const first = await s.next();
      s.send({ type_url: CDS, response_nonce: first.nonce, version_info: first.version_info });
    }
    const before = encodings.filter((t) => t === CDS).length;
    store.apply([
      { service: "api", endpoints: [endpoint(2, [], { "envoy-lb-policy": "maglev" })] },
    ]);
    for (const s of streams) assert.deepEqual((await s.next()).names, ["api", "web"]);
    assert.equal(encodings.filter((t) => t === CDS).length - before, 1);
  });

  test("SotW: a proxyless client's view leaves out the API listeners of other services", async () => {
    const { stream } = await start();
    const client = stream();
    client.send({ node: viewNode("api"), type_url: LDS, resource_names: ["api:8080", "db:8080"] });
    assert.deepEqual((await client.next()).names, ["api:8080"]);
  });

  test("a malformed view is refused with INVALID_ARGUMENT naming the pattern", async () => {
    const { stream, delta } = await start();
    const sotw = stream();
    sotw.send({ node: viewNode("web,a b"), type_url: CDS });
    const ended = await sotw.ended;
    assert.equal(ended.code, status.INVALID_ARGUMENT);
    assert.match(ended.details, /consul-services: pattern 2 "a b"/);
    const incremental = delta();
    incremental.send({ node: viewNode(["meta:"]), type_url: CDS });
    assert.equal((await incremental.ended).code, status.INVALID_ARGUMENT);
  });

  test("delta: only the view's clusters; a service that loses its tag is removed", async () => {
    const { delta, store } = await start();
    const viewed = delta();
    viewed.send({ node: viewNode("tag:public"), type_url: CDS });
    const first = await viewed.next();
    assert.deepEqual(first.names, ["web"]);
    viewed.ack(first);
    store.apply([service("db", 3, "public")]);
    const added = await viewed.next();
    assert.deepEqual([added.names, added.removed], [["db"], []]);
    viewed.ack(added);
    store.apply([service("worker", 7)]);
    assert.ok(await viewed.quietFor(QUIET_MS), "nothing for a service outside the view");
    store.apply([service("web", 1)]);
    const removed = await viewed.next();
    assert.deepEqual([removed.names, removed.removed], [[], ["web"]]);
  });
});

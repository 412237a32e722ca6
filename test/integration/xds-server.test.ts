import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createMetrics } from "../../src/observe/metrics.ts";
import type { Endpoint } from "../../src/model/endpoint.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as CLA } from "../../src/xds/resources/cluster-load-assignment.ts";
import { endpoint as fixtureEndpoint } from "../support/model-fixtures.ts";
import { waitFor } from "../support/wait-for.ts";
import { skippedInWorkers, xdsServerFixture } from "../support/xds-server-fixture.ts";

const endpoint = (port: number): Endpoint =>
  fixtureEndpoint("127.0.0.1", { id: `node/${port}`, port });

const ports = (response: {
  assignments: {
    endpoints: {
      lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[];
    }[];
  }[];
}): number[] =>
  response.assignments.flatMap((a) =>
    a.endpoints.flatMap((l) =>
      l.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value),
    ),
  );

describe("xDS server over real gRPC", () => {
  const xds = xdsServerFixture();

  async function start(ready = true) {
    const metrics = createMetrics(false);
    const started = await xds.start({
      ready,
      hooks: {
        onNack: (_node, typeUrl) => metrics.xdsNacks.inc({ type_url: typeUrl }),
        onOpen: () => metrics.xdsStreams.inc({ type: "ads", mode: "sotw" }),
        onClose: () => metrics.xdsStreams.dec({ type: "ads", mode: "sotw" }),
      },
    });
    return { ...started, metrics };
  }

  test("nothing is answered before the first full read, then the real state is", async () => {
    const { store, stream } = await start(false);
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CLA, resource_names: ["web"] });
    assert.ok(await ads.quietFor(300), "no answer while not ready");
    store.apply([{ service: "web", endpoints: [endpoint(8081)] }]);
    store.markReady();
    const response = await ads.next();
    assert.deepEqual(ports(response), [8081]);
  });

  test("an unknown name gets an empty assignment, then the real one when it appears", async () => {
    const { store, stream } = await start();
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CLA, resource_names: ["late"] });
    const empty = await ads.next();
    assert.equal(empty.assignments[0]!.cluster_name, "late");
    assert.deepEqual(empty.assignments[0]!.endpoints, []);
    ads.send({
      type_url: CLA,
      resource_names: ["late"],
      response_nonce: empty.nonce,
      version_info: empty.version_info,
    });
    store.apply([{ service: "late", endpoints: [endpoint(9000)] }]);
    const real = await ads.next();
    assert.deepEqual(ports(real), [9000]);
    assert.notEqual(real.version_info, empty.version_info);
    assert.notEqual(real.nonce, empty.nonce);
  });

  test("only subscribed names are pushed, and only when their content changes", async () => {
    const { store, stream } = await start();
    store.apply([
      { service: "a", endpoints: [endpoint(1)] },
      { service: "b", endpoints: [endpoint(2)] },
    ]);
    const eds = stream("eds");
    eds.send({ node: { id: "envoy-1" }, resource_names: ["a"] });
    const first = await eds.next();
    eds.send({
      resource_names: ["a"],
      response_nonce: first.nonce,
      version_info: first.version_info,
    });
    store.apply([{ service: "b", endpoints: [endpoint(3)] }]);
    store.apply([{ service: "a", endpoints: [endpoint(1)] }]); // no-op
    assert.ok(await eds.quietFor(300), "no push for an unsubscribed or unchanged name");
    store.apply([{ service: "a", endpoints: [endpoint(4)] }]);
    assert.deepEqual(ports(await eds.next()), [4]);
  });

  test("a NACK is logged with the node id, counted, and the rejected version is not resent", async (t) => {
    if (skippedInWorkers(xds, t, "reads the server's hooks or logs, which run in the workers"))
      return;
    const { store, stream, logs, metrics } = await start();
    store.apply([{ service: "web", endpoints: [endpoint(8081)] }]);
    const ads = stream();
    ads.send({ node: { id: "envoy-nack" }, type_url: CLA, resource_names: ["web"] });
    const response = await ads.next();
    ads.send({
      type_url: CLA,
      resource_names: ["web"],
      response_nonce: response.nonce,
      version_info: "",
      error_detail: { code: 3, message: "bad endpoint" },
    });
    const line = await waitFor(() => logs.lines.find((l) => /NACK/.test(l.msg)), {
      description: "NACK logged",
    });
    assert.equal(line.node, "envoy-nack");
    assert.equal(line.error, "bad endpoint");
    const nacks = (await metrics.xdsNacks.get()).values.filter((value) => value.value > 0);
    assert.deepEqual(
      nacks.map((value) => [value.labels.type_url, value.value]),
      [[CLA, 1]],
    );
    assert.ok(await ads.quietFor(300), "the rejected version is not resent");
    store.apply([{ service: "web", endpoints: [endpoint(8082)] }]);
    assert.deepEqual(ports(await ads.next()), [8082], "the next real change is sent");
  });

  test("a request with an old nonce is stale and ignored", async () => {
    const { store, stream } = await start();
    store.apply([
      { service: "a", endpoints: [endpoint(1)] },
      { service: "b", endpoints: [endpoint(2)] },
    ]);
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CLA, resource_names: ["a"] });
    const first = await ads.next();
    store.apply([{ service: "a", endpoints: [endpoint(5)] }]);
    const second = await ads.next();
    // Sent before the client saw `second`: carries the old nonce, so it changes nothing.
    ads.send({
      type_url: CLA,
      resource_names: ["a", "b"],
      response_nonce: first.nonce,
      version_info: first.version_info,
    });
    assert.ok(await ads.quietFor(300), "stale request not answered");
    ads.send({
      type_url: CLA,
      resource_names: ["a", "b"],
      response_nonce: second.nonce,
      version_info: second.version_info,
    });
    const third = await ads.next();
    assert.deepEqual(
      third.assignments.map((a) => a.cluster_name),
      ["b"],
    );
  });

  test("a name subscribed again and a reconnecting client are answered again", async () => {
    const { store, stream } = await start();
    store.apply([
      { service: "a", endpoints: [endpoint(1)] },
      { service: "b", endpoints: [endpoint(2)] },
    ]);
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CLA, resource_names: ["a", "b"] });
    const first = await ads.next();
    ads.send({
      type_url: CLA,
      resource_names: ["a"],
      response_nonce: first.nonce,
      version_info: first.version_info,
    });
    assert.ok(await ads.quietFor(200));
    ads.send({
      type_url: CLA,
      resource_names: ["a", "b"],
      response_nonce: first.nonce,
      version_info: first.version_info,
    });
    const again = await ads.next();
    assert.deepEqual(
      again.assignments.map((a) => a.cluster_name),
      ["b"],
    );
    const reconnected = stream();
    reconnected.send({
      node: { id: "envoy-1" },
      type_url: CLA,
      resource_names: ["a", "b"],
      version_info: again.version_info,
    });
    assert.deepEqual((await reconnected.next()).assignments.map((a) => a.cluster_name).sort(), [
      "a",
      "b",
    ]);
  });

  test("streams are counted in while open and out once the client goes away", async (t) => {
    if (skippedInWorkers(xds, t, "reads the server's hooks or logs, which run in the workers"))
      return;
    const { store, stream, metrics } = await start();
    store.apply([{ service: "a", endpoints: [endpoint(1)] }]);
    const streamsOpen = async (): Promise<number> =>
      (await metrics.xdsStreams.get()).values.reduce((sum, v) => sum + v.value, 0);
    const ads = stream();
    ads.send({ node: { id: "envoy-1" }, type_url: CLA, resource_names: ["a"] });
    await ads.next();
    assert.equal(await streamsOpen(), 1);
    ads.close();
    await waitFor(async () => (await streamsOpen()) === 0, { description: "stream counted out" });
  });

  test("versions do not repeat across server restarts", async (t) => {
    if (skippedInWorkers(xds, t, "two servers of one process would share one cluster port")) return;
    const one = await start();
    const two = await start();
    for (const s of [one, two]) s.store.apply([{ service: "a", endpoints: [endpoint(1)] }]);
    const [r1, r2] = await Promise.all(
      [one, two].map(async (s) => {
        const ads = s.stream();
        ads.send({ node: { id: "envoy-1" }, type_url: CLA, resource_names: ["a"] });
        return ads.next();
      }),
    );
    assert.notEqual(r1!.version_info, r2!.version_info);
  });
});

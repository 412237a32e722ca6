import { status } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Endpoint } from "../../src/model/endpoint.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { endpoint as fixtureEndpoint } from "../support/model-fixtures.ts";
import { xdsServerFixture } from "../support/xds-server-fixture.ts";

const endpoint = (port: number): Endpoint =>
  fixtureEndpoint("127.0.0.1", { id: `node/${port}`, port });

const LIMIT = 1_000;
const tooMany = Array.from({ length: LIMIT + 1 }, (_, i) => `asked-${i}`);

describe("xDS limits on what one stream may ask for, over real gRPC", () => {
  const xds = xdsServerFixture();

  const start = () =>
    xds.start({
      services: [{ service: "web", endpoints: [endpoint(8081)] }],
      maxNames: LIMIT,
    });

  test("a state-of-the-world stream asking for more names than allowed ends with RESOURCE_EXHAUSTED; the others are served", async () => {
    const { store, stream } = await start();
    const envoy = stream();
    envoy.send({ node: { id: "envoy-1" }, type_url: EDS, resource_names: ["web"] });
    assert.equal((await envoy.next()).assignments[0]?.cluster_name, "web");

    const greedy = stream();
    greedy.send({ node: { id: "greedy" }, type_url: EDS, resource_names: tooMany.slice(0, LIMIT) });
    const answered = await greedy.next();
    assert.equal(answered.assignments.length, LIMIT, "up to the limit is served");
    greedy.send({
      type_url: EDS,
      resource_names: tooMany,
      response_nonce: answered.nonce,
      version_info: answered.version_info,
    });
    const ended = await greedy.ended;
    assert.equal(ended.code, status.RESOURCE_EXHAUSTED);
    assert.match(ended.details, /1001 resource names; the limit is 1000 \(--xds-max-names\)/);

    store.apply([{ service: "web", endpoints: [endpoint(8082)] }]);
    const update = await envoy.next();
    assert.equal(
      update.assignments[0]?.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address
        .port_value,
      8082,
      "the other stream is still served",
    );
  });

  test("a delta stream subscribing beyond the limit ends with RESOURCE_EXHAUSTED; the others are served", async () => {
    const { store, delta, logs } = await start();
    const envoy = delta();
    envoy.send({ node: { id: "envoy-1" }, type_url: EDS, resource_names_subscribe: ["web"] });
    envoy.ack(await envoy.next());

    const greedy = delta();
    greedy.send({ node: { id: "greedy" }, type_url: EDS, resource_names_subscribe: ["web"] });
    greedy.ack(await greedy.next());
    greedy.send({ type_url: EDS, resource_names_subscribe: tooMany });
    const ended = await greedy.ended;
    assert.equal(ended.code, status.RESOURCE_EXHAUSTED);
    assert.match(ended.details, /the limit is 1000/);
    assert.ok(logs.lines.some((line) => line.node === "greedy" && /limit is 1000/.test(line.msg)));

    store.apply([{ service: "web", endpoints: [endpoint(8083)] }]);
    assert.deepEqual((await envoy.next()).names, ["web"], "the other stream is still served");
  });

  test("a stream subscribing to an overlong name ends with INVALID_ARGUMENT", async () => {
    const { stream } = await start();
    const odd = stream();
    odd.send({ node: { id: "odd" }, type_url: EDS, resource_names: ["x".repeat(100_000)] });
    const ended = await odd.ended;
    assert.equal(ended.code, status.INVALID_ARGUMENT);
    assert.ok(ended.details.length < 300, "the name is not echoed whole");
  });
});

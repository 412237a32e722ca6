import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Endpoint, EndpointHealth, ServiceEndpoints } from "../../src/model/endpoint.ts";
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  toClusterLoadAssignment,
  type ClusterLoadAssignmentObject,
} from "../../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";

function endpoint(
  address: string,
  region: string,
  zone: string,
  weight = 1,
  health: EndpointHealth = "healthy",
): Endpoint {
  return {
    id: `n/${address}`,
    address,
    port: 8080,
    health,
    weight,
    locality: { region, zone },
    tags: [],
    meta: {},
  };
}

const web: ServiceEndpoints = {
  service: "web",
  endpoints: [
    endpoint("10.0.0.1", "dc1", "a", 3),
    endpoint("10.0.1.1", "dc1", "b", 1, "draining"),
    endpoint("10.0.0.2", "dc1", "a", 2, "degraded"),
    endpoint("10.0.9.1", "dc0", "", 5, "unhealthy"),
  ],
};

describe("toClusterLoadAssignment", () => {
  it("names the assignment after the requested cluster", () => {
    assert.equal(toClusterLoadAssignment(web, "web").cluster_name, "web");
  });

  it("groups endpoints by locality, in a stable order", () => {
    const cla = toClusterLoadAssignment(web, "web");
    assert.deepEqual(
      cla.endpoints.map((group) => [
        group.locality,
        group.lb_endpoints.map((lb) => lb.endpoint.address.socket_address.address),
      ]),
      [
        [{ region: "dc0", zone: "" }, ["10.0.9.1"]],
        [{ region: "dc1", zone: "a" }, ["10.0.0.1", "10.0.0.2"]],
        [{ region: "dc1", zone: "b" }, ["10.0.1.1"]],
      ],
    );
  });

  it("weights each locality with the sum of its endpoints' weights", () => {
    const cla = toClusterLoadAssignment(web, "web");
    assert.deepEqual(
      cla.endpoints.map((group) => group.load_balancing_weight.value),
      [5, 5, 1],
    );
  });

  it("puts every locality at priority 0", () => {
    const cla = toClusterLoadAssignment(web, "web");
    assert.ok(cla.endpoints.every((group) => group.priority === 0));
  });

  it("puts each datacenter at its failover priority, local first, with no gap", () => {
    const order = { local: "dc1", others: ["dc2", "dc0"] };
    const cla = toClusterLoadAssignment(web, "web", order);
    assert.deepEqual(
      cla.endpoints.map((group) => [group.locality.region, group.locality.zone, group.priority]),
      [
        ["dc1", "a", 0],
        ["dc1", "b", 0],
        ["dc0", "", 1],
      ],
      "dc2 has no endpoints and leaves no gap",
    );
  });

  it("carries port, endpoint weight and Envoy health status names", () => {
    const cla = toClusterLoadAssignment(web, "web");
    const all = cla.endpoints.flatMap((group) => group.lb_endpoints);
    assert.deepEqual(
      all.map((lb) => [
        lb.endpoint.address.socket_address.port_value,
        lb.load_balancing_weight.value,
        lb.health_status,
      ]),
      [
        [8080, 5, "UNHEALTHY"],
        [8080, 3, "HEALTHY"],
        [8080, 2, "DEGRADED"],
        [8080, 1, "DRAINING"],
      ],
    );
  });

  it("maps unknown health to UNKNOWN", () => {
    const cla = toClusterLoadAssignment(
      { service: "x", endpoints: [endpoint("10.0.0.1", "dc1", "", 1, "unknown")] },
      "x",
    );
    assert.deepEqual(
      cla.endpoints.flatMap((group) => group.lb_endpoints.map((lb) => lb.health_status)),
      ["UNKNOWN"],
    );
  });

  it("gives an empty assignment for a service that does not exist", () => {
    assert.deepEqual(toClusterLoadAssignment(undefined, "ghost"), {
      cluster_name: "ghost",
      endpoints: [],
    });
  });

  it("gives an empty assignment for a service with no endpoints", () => {
    assert.deepEqual(
      toClusterLoadAssignment({ service: "web", endpoints: [] }, "web").endpoints,
      [],
    );
  });

  it("encodes to a valid ClusterLoadAssignment proto that decodes to the same content", () => {
    const type = loadXdsProtos().resource(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
    const object = toClusterLoadAssignment(web, "web");
    const message = type.fromObject(object);
    assert.equal(type.verify(message), null);
    const bytes = type.encode(message).finish();
    const asObject = { enums: String, longs: String };
    assert.deepEqual(type.toObject(type.decode(bytes), asObject), type.toObject(message, asObject));

    const decoded = type.toObject(type.decode(bytes), {
      ...asObject,
      defaults: true,
    }) as ClusterLoadAssignmentObject;
    assert.equal(decoded.cluster_name, "web");
    assert.equal(decoded.endpoints.length, 3);
    const [, zoneA] = decoded.endpoints;
    assert.ok(zoneA);
    assert.equal(zoneA.locality.region, "dc1");
    assert.equal(zoneA.locality.zone, "a");
    assert.equal(zoneA.priority, 0);
    assert.equal(zoneA.load_balancing_weight.value, 5);
    assert.deepEqual(
      zoneA.lb_endpoints.map((lb) => [
        lb.endpoint.address.socket_address.address,
        lb.endpoint.address.socket_address.port_value,
        lb.health_status,
        lb.load_balancing_weight.value,
      ]),
      [
        ["10.0.0.1", 8080, "HEALTHY", 3],
        ["10.0.0.2", 8080, "DEGRADED", 2],
      ],
    );
  });

  it("encodes an empty assignment as a valid proto naming only the cluster", () => {
    const type = loadXdsProtos().resource(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
    const bytes = type
      .encode(type.fromObject(toClusterLoadAssignment(undefined, "ghost")))
      .finish();
    const decoded = type.toObject(type.decode(bytes), { defaults: true });
    assert.equal(decoded.cluster_name, "ghost");
    assert.deepEqual(decoded.endpoints, []);
  });
});

describe("toClusterLoadAssignment with one address registered twice", () => {
  const twice = (first: EndpointHealth, second: EndpointHealth) =>
    toClusterLoadAssignment(
      {
        service: "web",
        endpoints: [
          { ...endpoint("10.0.0.1", "r", "z", 1, first), id: "node-a/web-1" },
          { ...endpoint("10.0.0.1", "r", "z", 1, second), id: "node-b/web-2" },
          endpoint("10.0.0.2", "r", "z"),
        ],
      },
      "web",
    ).endpoints.flatMap((group) => group.lb_endpoints);

  it("lists each address and port once, as gRPC requires", () => {
    const hosts = twice("healthy", "healthy");
    assert.deepEqual(
      hosts.map((lb) => lb.endpoint.address.socket_address.address),
      ["10.0.0.1", "10.0.0.2"],
    );
  });

  it("keeps the registration most able to take traffic", () => {
    assert.equal(twice("unhealthy", "healthy")[0]!.health_status, "HEALTHY");
    assert.equal(twice("healthy", "draining")[0]!.health_status, "HEALTHY");
  });
});

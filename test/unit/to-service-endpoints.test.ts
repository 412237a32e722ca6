import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HealthConfig } from "../../src/config/config.ts";
import type {
  ConsulHealthCheck,
  ConsulServiceEntry,
} from "../../src/consul/client/consul-types.ts";
import {
  toServiceEndpoints,
  type TranslationOptions,
} from "../../src/consul/watch/to-service-endpoints.ts";

const DEFAULT_HEALTH: HealthConfig = { warning: "healthy", critical: "unhealthy" };

function options(health: Partial<HealthConfig> = {}): TranslationOptions {
  return { health: { ...DEFAULT_HEALTH, ...health }, datacenter: "dc-default" };
}

interface EntrySpec {
  id?: string;
  node?: string;
  nodeAddress?: string;
  address?: string;
  port?: number;
  datacenter?: string;
  meta?: Record<string, string> | null;
  weights?: { Passing: number; Warning: number } | null;
  checks?: { id?: string; status: ConsulHealthCheck["Status"]; nodeLevel?: boolean }[];
}

/** One `/v1/health/service/web` entry. */
function entry(spec: EntrySpec = {}): ConsulServiceEntry {
  const id = spec.id ?? "web-1";
  const node = spec.node ?? "node-1";
  return {
    Node: {
      Node: node,
      Address: spec.nodeAddress ?? "192.0.2.10",
      Datacenter: spec.datacenter ?? "dc1",
      Meta: spec.meta === undefined ? {} : spec.meta,
    },
    Service: {
      ID: id,
      Service: "web",
      Address: spec.address ?? "10.0.0.1",
      Port: spec.port ?? 8080,
      Weights: spec.weights === undefined ? { Passing: 1, Warning: 1 } : spec.weights,
    },
    Checks: (spec.checks ?? [{ status: "passing" }]).map((check, i) => ({
      Node: node,
      CheckID: check.id ?? (check.nodeLevel ? "serfHealth" : `service:${id}:${i}`),
      Status: check.status,
      ServiceID: check.nodeLevel ? "" : id,
      ServiceName: check.nodeLevel ? "" : "web",
    })),
  };
}

function translateOne(spec: EntrySpec, health: Partial<HealthConfig> = {}) {
  return toServiceEndpoints("web", [entry(spec)], options(health));
}

function onlyEndpoint(spec: EntrySpec, health: Partial<HealthConfig> = {}) {
  const { value, rejected } = translateOne(spec, health);
  assert.deepEqual(rejected, []);
  const [only, ...others] = value.endpoints;
  assert.ok(only);
  assert.deepEqual(others, []);
  return only;
}

describe("toServiceEndpoints health mapping", () => {
  it("maps passing to healthy with Weights.Passing", () => {
    const endpoint = onlyEndpoint({ weights: { Passing: 7, Warning: 2 } });
    assert.equal(endpoint.health, "healthy");
    assert.equal(endpoint.weight, 7);
  });

  it("treats an instance without checks as passing", () => {
    const endpoint = onlyEndpoint({ checks: [] });
    assert.equal(endpoint.health, "healthy");
  });

  it("defaults the weight to 1 when Consul gives no Weights", () => {
    const endpoint = onlyEndpoint({ weights: null });
    assert.equal(endpoint.weight, 1);
  });

  it("maps warning to healthy with Weights.Warning by default", () => {
    const endpoint = onlyEndpoint({
      weights: { Passing: 10, Warning: 3 },
      checks: [{ status: "passing" }, { status: "warning" }],
    });
    assert.equal(endpoint.health, "healthy");
    assert.equal(endpoint.weight, 3);
  });

  it("maps warning to degraded when configured so", () => {
    const endpoint = onlyEndpoint(
      { weights: { Passing: 10, Warning: 3 }, checks: [{ status: "warning" }] },
      { warning: "degraded" },
    );
    assert.equal(endpoint.health, "degraded");
  });

  it("maps warning with Weights.Warning=0 to unhealthy (no traffic while warning)", () => {
    const endpoint = onlyEndpoint({
      weights: { Passing: 1, Warning: 0 },
      checks: [{ status: "warning" }],
    });
    assert.equal(endpoint.health, "unhealthy");
    assert.ok(endpoint.weight >= 1, "Envoy weights start at 1");
  });

  it("maps critical to unhealthy by default", () => {
    const endpoint = onlyEndpoint({ checks: [{ status: "passing" }, { status: "critical" }] });
    assert.equal(endpoint.health, "unhealthy");
  });

  it("omits critical instances when configured so, without calling them rejected", () => {
    const { value, rejected } = toServiceEndpoints(
      "web",
      [
        entry({ id: "a", checks: [{ status: "critical" }] }),
        entry({ id: "b", address: "10.0.0.2" }),
      ],
      options({ critical: "omit" }),
    );
    assert.deepEqual(
      value.endpoints.map((e) => e.id),
      ["node-1/b"],
    );
    assert.deepEqual(rejected, []);
  });

  it("lets the worst check win: critical beats warning", () => {
    const endpoint = onlyEndpoint({ checks: [{ status: "warning" }, { status: "critical" }] });
    assert.equal(endpoint.health, "unhealthy");
  });

  it("drains an instance in service maintenance", () => {
    const endpoint = onlyEndpoint({
      id: "web-1",
      checks: [{ status: "passing" }, { id: "_service_maintenance:web-1", status: "critical" }],
    });
    assert.equal(endpoint.health, "draining");
  });

  it("does not drain an instance for another instance's maintenance check", () => {
    const endpoint = onlyEndpoint({
      id: "web-1",
      checks: [{ id: "_service_maintenance:web-2", status: "passing" }],
    });
    assert.equal(endpoint.health, "healthy");
  });

  it("drains every instance on a node in maintenance", () => {
    const endpoint = onlyEndpoint({
      checks: [
        { status: "passing" },
        { id: "_node_maintenance", status: "critical", nodeLevel: true },
      ],
    });
    assert.equal(endpoint.health, "draining");
  });

  it("keeps a draining instance draining even when critical is omitted", () => {
    const endpoint = onlyEndpoint(
      { checks: [{ id: "_node_maintenance", status: "critical", nodeLevel: true }] },
      { critical: "omit" },
    );
    assert.equal(endpoint.health, "draining");
  });

  it("makes instances on a node with a critical serfHealth unhealthy", () => {
    const endpoint = onlyEndpoint({
      checks: [{ status: "passing" }, { id: "serfHealth", status: "critical", nodeLevel: true }],
    });
    assert.equal(endpoint.health, "unhealthy");
  });
});

describe("toServiceEndpoints addresses and locality", () => {
  it("uses the service address when given", () => {
    const endpoint = onlyEndpoint({ address: "10.1.2.3", nodeAddress: "192.0.2.1", port: 9000 });
    assert.equal(endpoint.address, "10.1.2.3");
    assert.equal(endpoint.port, 9000);
  });

  it("falls back to the node address when the service address is empty", () => {
    const endpoint = onlyEndpoint({ address: "", nodeAddress: "192.0.2.1" });
    assert.equal(endpoint.address, "192.0.2.1");
  });

  it("accepts IPv6 literals", () => {
    const endpoint = onlyEndpoint({ address: "2001:db8::1" });
    assert.equal(endpoint.address, "2001:db8::1");
  });

  it("rejects a host name with a reason naming the address", () => {
    const { value, rejected } = translateOne({ address: "backend.internal" });
    assert.equal(value.endpoints.length, 0);
    assert.equal(rejected.length, 1);
    const [{ id, reason } = { id: "", reason: "" }] = rejected;
    assert.equal(id, "node-1/web-1");
    assert.match(reason, /backend\.internal/);
    assert.match(reason, /IP/);
  });

  for (const port of [0, -1, 65536, 80.5]) {
    it(`rejects port ${port} with a reason naming the port`, () => {
      const { value, rejected } = translateOne({ port });
      assert.equal(value.endpoints.length, 0);
      assert.deepEqual(
        rejected.map((r) => r.id),
        ["node-1/web-1"],
      );
      assert.match(rejected.map((r) => r.reason).join(), new RegExp(`port ${port}`));
    });
  }

  it("keeps the good instances when one is rejected", () => {
    const { value, rejected } = toServiceEndpoints(
      "web",
      [entry({ id: "good" }), entry({ id: "bad", address: "not-an-ip" })],
      options(),
    );
    assert.deepEqual(
      value.endpoints.map((e) => e.id),
      ["node-1/good"],
    );
    assert.deepEqual(
      rejected.map((r) => r.id),
      ["node-1/bad"],
    );
  });

  it("uses the datacenter as region and node meta zone as zone", () => {
    const endpoint = onlyEndpoint({ datacenter: "eu-west", meta: { zone: "eu-west-1b" } });
    assert.deepEqual(endpoint.locality, { region: "eu-west", zone: "eu-west-1b" });
  });

  it("uses the configured datacenter and an empty zone when Consul names neither", () => {
    const endpoint = onlyEndpoint({ datacenter: "", meta: null });
    assert.deepEqual(endpoint.locality, { region: "dc-default", zone: "" });
  });

  it("names instances by node and service ID and keeps the service name", () => {
    const { value } = toServiceEndpoints(
      "web",
      [entry({ id: "web-a", node: "n1" }), entry({ id: "web-a", node: "n2", address: "10.0.0.2" })],
      options(),
    );
    assert.equal(value.service, "web");
    assert.deepEqual(
      value.endpoints.map((e) => e.id),
      ["n1/web-a", "n2/web-a"],
    );
  });

  it("carries each instance's tags and service meta, empty when Consul sends none", () => {
    const tagged = entry();
    tagged.Service.Tags = ["v2", "canary"];
    tagged.Service.Meta = { "envoy-lb-policy": "maglev" };
    const bare = entry({ id: "web-2", address: "10.0.0.2" });
    bare.Service.Tags = null;
    bare.Service.Meta = null;
    const { value } = toServiceEndpoints("web", [tagged, bare], options());
    assert.deepEqual(
      value.endpoints.map((e) => [e.tags, e.meta]),
      [
        [["v2", "canary"], { "envoy-lb-policy": "maglev" }],
        [[], {}],
      ],
    );
  });

  it("translates an empty answer into a service with no endpoints", () => {
    assert.deepEqual(toServiceEndpoints("web", [], options()), {
      value: { service: "web", endpoints: [] },
      rejected: [],
    });
  });
});

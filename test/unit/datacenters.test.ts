import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readConsulConfig, type ConsulOption } from "../../src/config/consul.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { toClusterLoadAssignment } from "../../src/xds/resources/cluster-load-assignment.ts";
import { endpoint, service } from "../support/model-fixtures.ts";

function read(values: Partial<Record<ConsulOption, string>>) {
  const problems: string[] = [];
  const given = Object.fromEntries(
    Object.entries(values).map(([name, value]) => [name, { value, source: name }]),
  );
  return { config: readConsulConfig(given, problems), problems };
}

const inDc = (address: string, dc: string) =>
  endpoint(address, { id: `${dc}/${address}`, locality: { region: dc, zone: "" } });

describe("datacenters", () => {
  it("reads --datacenters in order without repeats, none by default", () => {
    assert.deepEqual(read({}).config.datacenters, []);
    const { config, problems } = read({ datacenters: " dc2, dc3,dc2 " });
    assert.deepEqual([config.datacenters, problems], [["dc2", "dc3"], []]);
  });

  it("refuses a bad name, and more datacenters than the connection budget holds", () => {
    assert.match(
      read({ datacenters: "dc2,d c3" }).problems[0] ?? "",
      /not a datacenter name: d c3/,
    );
    const tight = read({ datacenters: "dc2,dc3,dc4", consulMaxConns: "5" });
    assert.match(tight.problems[0] ?? "", /--consul-max-conns of at least 7 \(3 \+ 3 blocking/);
  });

  it("keeps each datacenter's endpoints apart: removing or replacing dc2's never touches dc1's", () => {
    const store = new EndpointStore();
    store.apply([service("api", inDc("10.0.0.1", "dc1"))]);
    store.apply([service("api", inDc("10.1.0.1", "dc2"))], [], "dc2");
    store.apply([service("only-remote", inDc("10.1.0.2", "dc2"))], [], "dc2");
    assert.deepEqual(
      store.get("api")?.endpoints.map((e) => e.address),
      ["10.0.0.1", "10.1.0.1"],
    );
    assert.deepEqual(store.namesIn("dc2").sort(), ["api", "only-remote"]);
    // The local source does not know remote-only services: its removal of them is a no-op.
    assert.deepEqual(store.apply([], ["only-remote"]), []);
    assert.deepEqual(store.apply([], ["api", "only-remote"], "dc2"), ["api", "only-remote"]);
    assert.deepEqual(
      store.get("api")?.endpoints.map((e) => e.address),
      ["10.0.0.1"],
    );
    assert.equal(store.get("only-remote"), undefined);
    assert.deepEqual(store.apply([service("api", inDc("10.0.0.1", "dc1"))]), [], "no-op update");
  });

  it("places the local datacenter at priority 0 and the others in order, contiguous", () => {
    const api = service("api", inDc("10.3.0.1", "dc3"), inDc("10.0.0.1", "dc1"));
    const cla = toClusterLoadAssignment(api, "api", { local: "dc1", others: ["dc2", "dc3"] });
    assert.deepEqual(
      cla.endpoints.map((group) => [group.locality.region, group.priority]),
      [
        ["dc1", 0],
        ["dc3", 1],
      ],
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Endpoint } from "../../src/model/endpoint.ts";
import { mergeSources } from "../../src/model/source-merge.ts";

const endpoint = (id: string, port: number): Endpoint => ({
  id,
  address: "10.0.0.1",
  port,
  health: "healthy",
  weight: 1,
  locality: { region: "dc1", zone: "" },
  tags: [],
  meta: {},
});
const consul = { service: "api", endpoints: [endpoint("n1/api", 80)] };
const dns = { service: "api", endpoints: [endpoint("a.example:10.0.0.1:81", 81)] };

describe("mergeSources", () => {
  it("serves whichever source has the service when only one has it", () => {
    assert.deepEqual(mergeSources("api", consul, undefined, "merge")?.endpoints, consul.endpoints);
    assert.deepEqual(
      mergeSources("api", undefined, dns, "prefer-consul")?.endpoints,
      dns.endpoints,
    );
    assert.equal(mergeSources("api", undefined, undefined, "merge"), undefined);
  });

  it("prefer-consul serves the catalog alone while it has the name", () => {
    assert.deepEqual(
      mergeSources("api", consul, dns, "prefer-consul")?.endpoints,
      consul.endpoints,
    );
  });

  it("merge serves both, an id clash kept apart", () => {
    const clash = { service: "api", endpoints: [endpoint("n1/api", 82)] };
    const merged = mergeSources("api", consul, clash, "merge");
    assert.deepEqual(
      merged?.endpoints.map((e) => [e.id, e.port]),
      [
        ["n1/api", 80],
        ["dns:n1/api", 82],
      ],
    );
    assert.equal(mergeSources("api", consul, dns, "merge")?.endpoints.length, 2);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServicePlacement } from "../../src/consul/watch/service-placement.ts";

describe("ServicePlacement", () => {
  it("finds the services on a node", () => {
    const placement = new ServicePlacement();
    placement.record("web", ["n1", "n2"]);
    placement.record("api", ["n2"]);
    assert.deepEqual([...placement.servicesOn("n2")].sort(), ["api", "web"]);
    assert.deepEqual([...placement.servicesOn("n1")], ["web"]);
    assert.deepEqual([...placement.servicesOn("n3")], []);
  });

  it("a new record replaces where a service was", () => {
    const placement = new ServicePlacement();
    placement.record("web", ["n1"]);
    placement.record("web", ["n2"]);
    assert.deepEqual([...placement.servicesOn("n1")], []);
    assert.deepEqual([...placement.servicesOn("n2")], ["web"]);
  });

  it("a forgotten service is on no node", () => {
    const placement = new ServicePlacement();
    placement.record("web", ["n1", "n1"]);
    placement.forget("web");
    assert.deepEqual([...placement.servicesOn("n1")], []);
  });
});

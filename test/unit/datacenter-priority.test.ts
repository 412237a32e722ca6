import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { datacenterPriorities } from "../../src/model/datacenter-priority.ts";

const order = { local: "dc1", others: ["dc2", "dc3"] };
const asObject = (map: Map<string, number>) => Object.fromEntries(map);

describe("datacenterPriorities", () => {
  it("puts the local datacenter at 0 and the others in the configured order", () => {
    assert.deepEqual(asObject(datacenterPriorities(["dc3", "dc1", "dc2"], order)), {
      dc1: 0,
      dc2: 1,
      dc3: 2,
    });
  });

  it("leaves no gap for a datacenter without endpoints", () => {
    assert.deepEqual(asObject(datacenterPriorities(["dc1", "dc3"], order)), { dc1: 0, dc3: 1 });
    assert.deepEqual(asObject(datacenterPriorities(["dc3", "dc2"], order)), { dc2: 0, dc3: 1 });
  });

  it("ranks datacenters that are not configured last, by name", () => {
    assert.deepEqual(asObject(datacenterPriorities(["dc9", "dc1", "dc5"], order)), {
      dc1: 0,
      dc5: 1,
      dc9: 2,
    });
  });

  it("gives a single datacenter priority 0, whatever it is", () => {
    assert.deepEqual(asObject(datacenterPriorities(["dc2"], { local: "dc1", others: [] })), {
      dc2: 0,
    });
  });
});

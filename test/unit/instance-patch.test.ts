import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ConsulServiceEntry } from "../../src/consul/client/consul-types.ts";
import {
  instanceFilter,
  MAX_PATCHED_INSTANCES,
  mergeInstances,
} from "../../src/consul/watch/instance-patch.ts";

function entry(id: string, port: number, node = "node-1"): ConsulServiceEntry {
  return {
    Node: { Node: node, Address: "10.0.0.1" },
    Service: { ID: id, Service: "web", Address: "", Port: port },
    Checks: [],
  };
}

const describeEntries = (entries: ConsulServiceEntry[]): string[] =>
  entries.map((e) => `${e.Node.Node}/${e.Service.ID}:${e.Service.Port}`);

describe("instanceFilter", () => {
  it("matches exactly the given IDs, in a stable order", () => {
    assert.equal(
      instanceFilter(new Set(["web-2", "web-1"])),
      'Service.ID == "web-1" or Service.ID == "web-2"',
    );
  });

  it("reads the service whole for no IDs or more than the cap", () => {
    assert.equal(instanceFilter(new Set()), undefined);
    const many = new Set(Array.from({ length: MAX_PATCHED_INSTANCES + 1 }, (_, i) => `id-${i}`));
    assert.equal(instanceFilter(many), undefined);
    many.delete("id-0");
    assert.ok(instanceFilter(many));
  });

  it("reads the service whole for an ID a filter literal cannot hold safely", () => {
    for (const id of ['a"b', "a\\b", "a\nb", ""]) {
      assert.equal(instanceFilter(new Set(["ok", id])), undefined, JSON.stringify(id));
    }
  });
});

describe("mergeInstances", () => {
  const previous = [entry("web-1", 1), entry("web-2", 2), entry("web-3", 3)];

  it("replaces the changed instance in place and keeps every other as it was", () => {
    const merged = mergeInstances(previous, new Set(["web-2"]), [entry("web-2", 22)]);
    assert.deepEqual(describeEntries(merged), [
      "node-1/web-1:1",
      "node-1/web-2:22",
      "node-1/web-3:3",
    ]);
    assert.equal(merged[0], previous[0], "untouched entries are the same objects");
  });

  it("adds a new instance and drops one the answer no longer has", () => {
    const merged = mergeInstances(previous, new Set(["web-1", "web-4"]), [entry("web-4", 4)]);
    assert.deepEqual(describeEntries(merged), [
      "node-1/web-2:2",
      "node-1/web-3:3",
      "node-1/web-4:4",
    ]);
  });

  it("treats an ID as unique per node only", () => {
    const twoNodes = [entry("web-1", 1, "node-1"), entry("web-1", 1, "node-2")];
    const merged = mergeInstances(twoNodes, new Set(["web-1"]), [entry("web-1", 9, "node-2")]);
    assert.deepEqual(describeEntries(merged), ["node-2/web-1:9"]);
  });

  it("ignores answered entries it did not ask for", () => {
    const merged = mergeInstances(previous, new Set(["web-3"]), [entry("web-3", 3), entry("x", 9)]);
    assert.deepEqual(describeEntries(merged), [
      "node-1/web-1:1",
      "node-1/web-2:2",
      "node-1/web-3:3",
    ]);
  });
});

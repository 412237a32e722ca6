import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { mergeSourcesInto } from "../../src/model/merged-sources.ts";
import type { SourceMergeMode } from "../../src/model/source-merge.ts";
import { endpoint, service } from "../support/model-fixtures.ts";

function views(mode: SourceMergeMode) {
  const consul = new EndpointStore();
  const dns = new EndpointStore();
  const target = new EndpointStore();
  const stop = mergeSourcesInto({ consul, dns, target, mode });
  const ports = (name: string) => target.get(name)?.endpoints.map((e) => e.port);
  return { consul, dns, target, stop, ports };
}

describe("mergeSourcesInto", () => {
  it("serves a DNS-only name and a catalog-only name side by side", () => {
    const { consul, dns, ports } = views("prefer-consul");
    consul.apply([service("web", endpoint("10.0.0.1", { id: "c1", port: 80 }))]);
    dns.apply([service("ext", endpoint("10.0.0.2", { id: "d1", port: 81 }))]);
    assert.deepEqual(ports("web"), [80]);
    assert.deepEqual(ports("ext"), [81]);
  });

  it("prefer-consul hides DNS while the catalog has the name, and shows it again once it leaves", () => {
    const { consul, dns, ports, target } = views("prefer-consul");
    dns.apply([service("api", endpoint("10.0.0.2", { id: "d1", port: 81 }))]);
    consul.apply([service("api", endpoint("10.0.0.1", { id: "c1", port: 80 }))]);
    assert.deepEqual(ports("api"), [80]);
    consul.apply([], ["api"]);
    assert.deepEqual(ports("api"), [81]);
    dns.apply([], ["api"]);
    assert.equal(target.get("api"), undefined);
  });

  it("merge serves both sets", () => {
    const { consul, dns, ports } = views("merge");
    consul.apply([service("api", endpoint("10.0.0.1", { id: "c1", port: 80 }))]);
    dns.apply([service("api", endpoint("10.0.0.2", { id: "d1", port: 81 }))]);
    assert.deepEqual(ports("api")?.sort(), [80, 81]);
  });

  it("becomes ready with the catalog view only, after its content is merged", async () => {
    const { consul, dns, target } = views("merge");
    dns.apply([service("ext", endpoint("10.0.0.2", { id: "d1", port: 81 }))]);
    dns.markReady();
    await Promise.resolve();
    assert.equal(target.ready, false, "DNS never makes the bridge ready");
    consul.apply([service("web", endpoint("10.0.0.1", { id: "c1", port: 80 }))]);
    consul.markReady();
    await target.whenReady();
    assert.deepEqual(target.names().sort(), ["ext", "web"]);
  });

  it("stops following when stopped", () => {
    const { dns, target, stop } = views("merge");
    stop();
    dns.apply([service("ext", endpoint("10.0.0.2", { id: "d1", port: 81 }))]);
    assert.equal(target.get("ext"), undefined);
  });
});

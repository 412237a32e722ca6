import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpoint, service } from "../support/model-fixtures.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";

/** A store with a recording listener. */
function recordingStore(): { store: EndpointStore; calls: string[][] } {
  const store = new EndpointStore();
  const calls: string[][] = [];
  store.subscribe((changed) => calls.push([...changed]));
  return { store, calls };
}

describe("EndpointStore", () => {
  it("notifies the names of services that changed, once per apply", () => {
    const { store, calls } = recordingStore();
    const changed = store.apply([service("web", endpoint("10.0.0.1")), service("api")]);
    assert.deepEqual(changed, ["web", "api"]);
    assert.deepEqual(calls, [["web", "api"]]);
    assert.deepEqual(store.get("web")?.endpoints, [endpoint("10.0.0.1")]);
  });

  it("does not notify for an update with the same content", () => {
    const { store, calls } = recordingStore();
    store.apply([service("web", endpoint("10.0.0.1"))]);
    const changed = store.apply([service("web", endpoint("10.0.0.1"))]);
    assert.deepEqual(changed, []);
    assert.equal(calls.length, 1);
  });

  it("ignores the order of endpoints", () => {
    const { store, calls } = recordingStore();
    store.apply([service("web", endpoint("10.0.0.1"), endpoint("10.0.0.2"))]);
    store.apply([service("web", endpoint("10.0.0.2"), endpoint("10.0.0.1"))]);
    assert.equal(calls.length, 1);
  });

  it("notifies when only an endpoint's health changes", () => {
    const { store, calls } = recordingStore();
    store.apply([service("web", endpoint("10.0.0.1"))]);
    store.apply([service("web", endpoint("10.0.0.1", { health: "draining" }))]);
    assert.deepEqual(calls, [["web"], ["web"]]);
    assert.equal(store.get("web")?.endpoints[0]?.health, "draining");
  });

  it("reports only the changed services of a mixed update", () => {
    const { store, calls } = recordingStore();
    store.apply([service("web", endpoint("10.0.0.1")), service("api", endpoint("10.0.0.9"))]);
    store.apply([service("web", endpoint("10.0.0.1")), service("api", endpoint("10.0.0.8"))]);
    assert.deepEqual(calls[1], ["api"]);
  });

  it("removes services and notifies their names; unknown removals are no-ops", () => {
    const { store, calls } = recordingStore();
    store.apply([service("web", endpoint("10.0.0.1"))]);
    assert.deepEqual(store.apply([], ["web", "never-existed"]), ["web"]);
    assert.equal(store.get("web"), undefined);
    assert.deepEqual(store.apply([], ["web"]), []);
    assert.deepEqual(calls, [["web"], ["web"]]);
  });

  it("keeps a service with no endpoints as existing", () => {
    const store = new EndpointStore();
    store.apply([service("web")]);
    assert.deepEqual(store.get("web"), { service: "web", endpoints: [] });
    assert.deepEqual(store.names(), ["web"]);
  });

  it("stops notifying after unsubscribe", () => {
    const store = new EndpointStore();
    const calls: string[][] = [];
    const unsubscribe = store.subscribe((changed) => calls.push([...changed]));
    unsubscribe();
    store.apply([service("web")]);
    assert.deepEqual(calls, []);
  });

  it("does not keep a reference to the caller's endpoint list", () => {
    const store = new EndpointStore();
    const endpoints = [endpoint("10.0.0.2"), endpoint("10.0.0.1")];
    store.apply([{ service: "web", endpoints }]);
    endpoints.pop();
    assert.equal(store.get("web")?.endpoints.length, 2);
  });

  it("is not ready until marked, then resolves every waiter", async () => {
    const store = new EndpointStore();
    assert.equal(store.ready, false);
    let resolved = 0;
    const waiters = [store.whenReady(), store.whenReady()].map((p) =>
      p.then(() => (resolved += 1)),
    );
    await Promise.resolve();
    assert.equal(resolved, 0);
    store.markReady();
    await Promise.all(waiters);
    assert.equal(resolved, 2);
    assert.equal(store.ready, true);
  });

  it("whenReady resolves at once once ready, and markReady twice is harmless", async () => {
    const store = new EndpointStore();
    store.markReady();
    store.markReady();
    await store.whenReady();
    assert.equal(store.ready, true);
  });

  it("applying data does not make the store ready by itself", () => {
    const store = new EndpointStore();
    store.apply([service("web", endpoint("10.0.0.1"))]);
    assert.equal(store.ready, false);
  });
});

import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { DeltaSubscription, type DeltaRequest } from "../../src/xds/protocol/delta-subscription.ts";

/** Current resource versions, as the cache would report them. */
let versions: Map<string, string>;
const versionOf = (name: string): string | undefined => versions.get(name);
const allNames = (): string[] => [...versions.keys()];

function request(fields: Partial<DeltaRequest> = {}): DeltaRequest {
  return {
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    initial_resource_versions: {},
    response_nonce: "",
    error_detail: null,
    ...fields,
  };
}

function take(subscription: DeltaSubscription) {
  const plan = subscription.takeResponse(versionOf, allNames);
  return plan && { names: [...plan.names].sort(), removed: [...plan.removed].sort() };
}

describe("DeltaSubscription", () => {
  beforeEach(() => {
    versions = new Map([
      ["web", "w1"],
      ["api", "a1"],
      ["db", "d1"],
    ]);
  });

  it("is a wildcard when the first request subscribes to nothing, and sends everything", () => {
    const subscription = new DeltaSubscription();
    assert.equal(subscription.onRequest(request(), allNames), "initial");
    assert.ok(subscription.isWildcard);
    assert.deepEqual(take(subscription), { names: ["api", "db", "web"], removed: [] });
    assert.equal(take(subscription), undefined, "nothing more until something changes");
  });

  it("is a wildcard with `*`, beside explicit names", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["*", "extra"] }), allNames);
    assert.ok(subscription.isWildcard);
    assert.deepEqual([...subscription.subscribed], ["extra"]);
    assert.deepEqual(take(subscription), { names: ["api", "db", "web"], removed: ["extra"] });
  });

  it("sends only the subscribed names, then only what changed", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web"] }), allNames);
    assert.ok(!subscription.isWildcard);
    assert.deepEqual(take(subscription), { names: ["web"], removed: [] });
    versions.set("api", "a2");
    subscription.onResourcesChanged(["api"]);
    assert.equal(take(subscription), undefined, "api is not subscribed");
    versions.set("web", "w2");
    subscription.onResourcesChanged(["web"]);
    assert.deepEqual(take(subscription), { names: ["web"], removed: [] });
  });

  it("announces a resource the client holds that stops existing as removed, once", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request(), allNames);
    take(subscription);
    versions.delete("db");
    subscription.onResourcesChanged(["db"]);
    assert.deepEqual(take(subscription), { names: [], removed: ["db"] });
    subscription.onResourcesChanged(["db"]);
    assert.equal(take(subscription), undefined);
  });

  it("tells a client that a name it subscribes to does not exist", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web", "nobody"] }), allNames);
    assert.deepEqual(take(subscription), { names: ["web"], removed: ["nobody"] });
    versions.set("nobody", "n1");
    subscription.onResourcesChanged(["nobody"]);
    assert.deepEqual(take(subscription), { names: ["nobody"], removed: [] }, "sent once it exists");
  });

  it("forgets an unsubscribed name without announcing a removal", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web", "api"] }), allNames);
    take(subscription);
    subscription.onRequest(request({ resource_names_unsubscribe: ["api"] }), allNames);
    versions.set("api", "a2");
    subscription.onResourcesChanged(["api"]);
    assert.equal(take(subscription), undefined);
    assert.deepEqual([...subscription.clientVersions.keys()], ["web"]);
  });

  it("sends a name subscribed again even when unchanged", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web"] }), allNames);
    take(subscription);
    subscription.onRequest(request({ resource_names_subscribe: ["web"] }), allNames);
    assert.deepEqual(take(subscription), { names: ["web"], removed: [] });
  });

  it("on reconnect resends nothing held at the current version, and removes what is gone", () => {
    const subscription = new DeltaSubscription();
    const initial = { web: "w1", api: "a0", gone: "g1" };
    subscription.onRequest(request({ initial_resource_versions: initial }), allNames);
    assert.deepEqual(take(subscription), { names: ["api", "db"], removed: ["gone"] });
  });

  it("honours initial versions for explicit subscriptions too", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(
      request({
        resource_names_subscribe: ["web", "api"],
        initial_resource_versions: { web: "w1", api: "a1" },
      }),
      allNames,
    );
    assert.equal(take(subscription), undefined, "the client holds both at their versions");
  });

  it("classifies ACKs, NACKs and nonce-less updates", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web"] }), allNames);
    take(subscription);
    assert.equal(subscription.onRequest(request({ response_nonce: "1" }), allNames), "ack");
    const nack = request({ response_nonce: "2", error_detail: { code: 3, message: "bad" } });
    assert.equal(subscription.onRequest(nack, allNames), "nack");
    const more = request({ resource_names_subscribe: ["api"] });
    assert.equal(subscription.onRequest(more, allNames), "update");
  });

  it("does not resend a NACKed version; the next change is sent", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web"] }), allNames);
    take(subscription);
    versions.set("web", "w2");
    subscription.onResourcesChanged(["web"]);
    assert.deepEqual(take(subscription), { names: ["web"], removed: [] });
    const nack = request({ response_nonce: "2", error_detail: { code: 3, message: "bad" } });
    subscription.onRequest(nack, allNames);
    subscription.onResourcesChanged(["web"]);
    assert.equal(take(subscription), undefined, "w2 is not sent again");
    versions.set("web", "w3");
    subscription.onResourcesChanged(["web"]);
    assert.deepEqual(take(subscription), { names: ["web"], removed: [] });
  });

  it("resends a subscribed name on demand (assignment after its cluster), not others", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["web"] }), allNames);
    take(subscription);
    subscription.resend(["web", "api"]);
    assert.deepEqual(take(subscription), { names: ["web"], removed: [] });
  });

  it("a wildcard covers only the listed names, and leaving it forgets them", () => {
    const subscription = new DeltaSubscription();
    subscription.onRequest(request({ resource_names_subscribe: ["*"] }), allNames);
    take(subscription);
    // A change notice for a name the cache can build but does not list (an API listener).
    subscription.onResourcesChanged(["web:8080"]);
    assert.equal(take(subscription), undefined);
    subscription.onRequest(request({ resource_names_unsubscribe: ["*"] }), allNames);
    assert.ok(!subscription.isWildcard);
    assert.equal(subscription.clientVersions.size, 0);
  });
});

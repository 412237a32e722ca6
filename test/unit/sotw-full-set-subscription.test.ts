import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { FullSetSubscription } from "../../src/xds/protocol/sotw-full-set-subscription.ts";
import type { SotwRequest } from "../../src/xds/protocol/sotw-subscription.ts";

/** Current resources and their versions; absent names do not exist. */
let versions: Map<string, string>;
const versionOf = (name: string): string | undefined => versions.get(name);
const allNames = (): string[] => [...versions.keys()];

function request(names: string[], nonce = "", error?: SotwRequest["error_detail"]): SotwRequest {
  return { resource_names: names, response_nonce: nonce, version_info: "", error_detail: error };
}

function take(subscription: FullSetSubscription, nonce: string) {
  const response = subscription.takeResponse(versionOf, allNames);
  if (response) subscription.recordNonce(nonce);
  return response;
}

/** A wildcard subscription that has sent everything with nonce n1 and had it ACKed. */
function acknowledged(names: string[] = []): FullSetSubscription {
  const subscription = new FullSetSubscription();
  subscription.onRequest(request(names));
  assert.ok(take(subscription, "n1"));
  assert.equal(subscription.onRequest(request(names, "n1")), "ack");
  return subscription;
}

function change(subscription: FullSetSubscription, name: string, version?: string): void {
  if (version === undefined) versions.delete(name);
  else versions.set(name, version);
  subscription.onResourcesChanged([name], versionOf);
}

describe("FullSetSubscription", () => {
  beforeEach(() => {
    versions = new Map([
      ["web", "w1"],
      ["api", "a1"],
    ]);
  });

  it("answers a wildcard request with every resource", () => {
    const subscription = new FullSetSubscription();
    assert.equal(subscription.onRequest(request([])), "initial");
    assert.equal(subscription.isWildcard, true);
    assert.deepEqual(take(subscription, "n1"), { names: ["web", "api"], changed: ["web", "api"] });
  });

  it("answers the first request even when there is nothing, with an empty set", () => {
    versions.clear();
    const subscription = new FullSetSubscription();
    subscription.onRequest(request([]));
    assert.deepEqual(take(subscription, "n1"), { names: [], changed: [] });
  });

  it("sends the whole set again when one resource changes, naming only it as changed", () => {
    const subscription = acknowledged();
    change(subscription, "web", "w2");
    assert.deepEqual(take(subscription, "n2"), { names: ["web", "api"], changed: ["web"] });
  });

  it("sends the set without a removed resource, so the client deletes it", () => {
    const subscription = acknowledged();
    change(subscription, "api");
    assert.deepEqual(take(subscription, "n2"), { names: ["web"], changed: [] });
  });

  it("sends an empty set when the last resource goes", () => {
    const subscription = acknowledged();
    change(subscription, "api");
    take(subscription, "n2");
    subscription.onRequest(request([], "n2"));
    change(subscription, "web");
    assert.deepEqual(take(subscription, "n3"), { names: [], changed: [] });
  });

  it("a wildcard subscription sees resources that appear later", () => {
    const subscription = acknowledged();
    change(subscription, "db", "d1");
    assert.deepEqual(take(subscription, "n2"), { names: ["web", "api", "db"], changed: ["db"] });
  });

  it("sends nothing for a change that leaves the set as sent", () => {
    const subscription = acknowledged();
    subscription.onResourcesChanged(["web"], versionOf);
    assert.equal(subscription.hasPending, false);
    versions.set("web", "w2");
    subscription.onResourcesChanged(["web"], versionOf);
    versions.set("web", "w1");
    assert.equal(take(subscription, "n2"), undefined);
  });

  it("carries only the named resources that exist for a named subscription", () => {
    const subscription = new FullSetSubscription();
    subscription.onRequest(request(["web", "ghost"]));
    assert.equal(subscription.isWildcard, false);
    assert.deepEqual(take(subscription, "n1"), { names: ["web"], changed: ["web"] });
    subscription.onRequest(request(["web", "ghost"], "n1"));
    change(subscription, "api", "a2");
    assert.equal(subscription.hasPending, false, "api is not subscribed");
    change(subscription, "ghost", "g1");
    assert.deepEqual(take(subscription, "n2"), { names: ["web", "ghost"], changed: ["ghost"] });
  });

  it("answers a change of the subscribed names even when the set is the same", () => {
    const subscription = acknowledged(["web"]);
    subscription.onRequest(request(["web", "ghost"], "n1"));
    assert.deepEqual(take(subscription, "n2"), { names: ["web"], changed: [] });
  });

  it("does not resend the rejected set after a NACK, and sends the next real change", () => {
    const subscription = acknowledged();
    change(subscription, "web", "w2");
    take(subscription, "n2");
    const nack = request([], "n2", { code: 3, message: "bad cluster" });
    assert.equal(subscription.onRequest(nack), "nack");
    assert.equal(subscription.hasPending, false);
    assert.equal(take(subscription, "n3"), undefined);
    change(subscription, "web", "w2");
    assert.equal(subscription.hasPending, false, "the rejected version is not pending");
    change(subscription, "web", "w3");
    assert.deepEqual(take(subscription, "n3"), { names: ["web", "api"], changed: ["web"] });
  });

  it("ignores a request with an old nonce", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    take(subscription, "n2");
    assert.equal(subscription.onRequest(request(["web", "api"], "n1")), "stale");
    assert.deepEqual([...subscription.subscribed], ["web"]);
    assert.equal(subscription.hasPending, false);
  });

  it("starts over on a request without a nonce (a reconnecting client)", () => {
    const subscription = acknowledged();
    assert.equal(subscription.onRequest(request([])), "initial");
    assert.deepEqual(take(subscription, "n2"), { names: ["web", "api"], changed: ["web", "api"] });
  });

  it("treats an explicit * as a wildcard", () => {
    const subscription = acknowledged(["web"]);
    subscription.onRequest(request(["*"], "n1"));
    assert.equal(subscription.isWildcard, true);
    assert.deepEqual(take(subscription, "n2"), { names: ["web", "api"], changed: ["api"] });
  });
});

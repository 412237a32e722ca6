import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { SotwSubscription, type SotwRequest } from "../../src/xds/protocol/sotw-subscription.ts";

/** Resource versions as the cache would report them; unknown names have the empty version. */
let versions: Map<string, string>;
const versionOf = (name: string): string => versions.get(name) ?? "empty";
const allNames = (): string[] => [...versions.keys()];

function request(names: string[], nonce = "", error?: SotwRequest["error_detail"]): SotwRequest {
  return { resource_names: names, response_nonce: nonce, version_info: "", error_detail: error };
}

const NACK = { code: 3, message: "endpoint weight out of range" };

/** Takes what is pending as the stream does: the names sent, recorded with `nonce` when any. */
function takePending(
  subscription: SotwSubscription,
  versionOf: (name: string) => string | undefined,
  nonce: string,
): string[] {
  const response = subscription.takeResponse(versionOf);
  if (response) subscription.recordNonce(nonce);
  return response?.names ?? [];
}

/** A subscription that has sent `names` with nonce "n1" and received their ACK. */
function acknowledged(names: string[]): SotwSubscription {
  const subscription = new SotwSubscription();
  subscription.onRequest(request(names), allNames);
  assert.deepEqual(takePending(subscription, versionOf, "n1").sort(), [...names].sort());
  assert.equal(subscription.onRequest(request(names, "n1"), allNames), "ack");
  return subscription;
}

/** Changes a resource's version and tells the subscription. */
function change(subscription: SotwSubscription, name: string, version: string): void {
  versions.set(name, version);
  subscription.onResourcesChanged([name], versionOf);
}

describe("SotwSubscription", () => {
  beforeEach(() => {
    versions = new Map([
      ["web", "w1"],
      ["api", "a1"],
      ["db", "d1"],
    ]);
  });

  it("makes every requested name pending on the initial request", () => {
    const subscription = new SotwSubscription();
    assert.equal(subscription.onRequest(request(["web", "api"]), allNames), "initial");
    assert.equal(subscription.hasPending, true);
    assert.deepEqual(takePending(subscription, versionOf, "n1").sort(), ["api", "web"]);
    assert.equal(subscription.hasPending, false);
    assert.deepEqual([...subscription.subscribed].sort(), ["api", "web"]);
  });

  it("answers a requested name that does not exist yet (with its empty version)", () => {
    const subscription = new SotwSubscription();
    subscription.onRequest(request(["not-yet"]), allNames);
    assert.deepEqual(takePending(subscription, versionOf, "n1"), ["not-yet"]);
  });

  it("sends a name that did not exist as soon as it appears", () => {
    const subscription = acknowledged(["not-yet"]);
    change(subscription, "not-yet", "x1");
    assert.deepEqual(takePending(subscription, versionOf, "n2"), ["not-yet"]);
  });

  it("records the nonce of a response: a request with that nonce is an ACK", () => {
    const subscription = new SotwSubscription();
    subscription.onRequest(request(["web"]), allNames);
    takePending(subscription, versionOf, "n1");
    assert.equal(subscription.onRequest(request(["web"], "n1"), allNames), "ack");
  });

  it("sends nothing new after an ACK of the latest response", () => {
    const subscription = acknowledged(["web", "api"]);
    assert.equal(subscription.hasPending, false);
    assert.deepEqual(takePending(subscription, versionOf, "n2"), []);
  });

  it("does not take a nonce for an empty response", () => {
    const subscription = acknowledged(["web"]);
    assert.deepEqual(takePending(subscription, versionOf, "n2"), []);
    assert.equal(subscription.onRequest(request(["web"], "n1"), allNames), "ack");
    assert.equal(subscription.onRequest(request(["web"], "n2"), allNames), "stale");
  });

  it("ignores a request with an old nonce, subscription changes included", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    assert.deepEqual(takePending(subscription, versionOf, "n2"), ["web"]);
    const kind = subscription.onRequest(request(["web", "api"], "n1"), allNames);
    assert.equal(kind, "stale");
    assert.deepEqual([...subscription.subscribed], ["web"]);
    assert.equal(subscription.hasPending, false);
  });

  it("ignores a request with a nonce it never sent", () => {
    const subscription = acknowledged(["web"]);
    assert.equal(subscription.onRequest(request(["db"], "bogus"), allNames), "stale");
    assert.deepEqual([...subscription.subscribed], ["web"]);
  });

  it("classifies a request with error_detail and the latest nonce as a NACK", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    takePending(subscription, versionOf, "n2");
    assert.equal(subscription.onRequest(request(["web"], "n2", NACK), allNames), "nack");
  });

  it("does not resend the rejected version after a NACK", () => {
    const subscription = acknowledged(["web", "api"]);
    change(subscription, "web", "w2");
    takePending(subscription, versionOf, "n2");
    subscription.onRequest(request(["web", "api"], "n2", NACK), allNames);
    assert.equal(subscription.hasPending, false);
    assert.deepEqual(takePending(subscription, versionOf, "n3"), []);
    subscription.onResourcesChanged(["web"], versionOf);
    assert.equal(subscription.hasPending, false, "same rejected version is not pending");
  });

  it("sends the next real version after a NACK", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    takePending(subscription, versionOf, "n2");
    subscription.onRequest(request(["web"], "n2", NACK), allNames);
    change(subscription, "web", "w3");
    assert.deepEqual(takePending(subscription, versionOf, "n3"), ["web"]);
    assert.equal(subscription.onRequest(request(["web"], "n3"), allNames), "ack");
  });

  it("answers a name newly subscribed in a NACK", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    takePending(subscription, versionOf, "n2");
    subscription.onRequest(request(["web", "api"], "n2", NACK), allNames);
    assert.deepEqual(takePending(subscription, versionOf, "n3"), ["api"]);
  });

  it("answers a name newly subscribed in an ACK, and only that name", () => {
    const subscription = acknowledged(["web"]);
    assert.equal(subscription.onRequest(request(["web", "api"], "n1"), allNames), "ack");
    assert.deepEqual(takePending(subscription, versionOf, "n2"), ["api"]);
  });

  it("sends a name again when it is unsubscribed and subscribed again, even if unchanged", () => {
    const subscription = acknowledged(["web", "api"]);
    subscription.onRequest(request(["web"], "n1"), allNames);
    assert.deepEqual(takePending(subscription, versionOf, "n2"), []);
    subscription.onRequest(request(["web", "api"], "n1"), allNames);
    assert.deepEqual(takePending(subscription, versionOf, "n3"), ["api"]);
  });

  it("ignores a change to a name it is not subscribed to", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "api", "a2");
    assert.equal(subscription.hasPending, false);
    assert.deepEqual(takePending(subscription, versionOf, "n2"), []);
  });

  it("ignores a change to a name after it was unsubscribed", () => {
    const subscription = acknowledged(["web", "api"]);
    subscription.onRequest(request(["web"], "n1"), allNames);
    change(subscription, "api", "a2");
    assert.equal(subscription.hasPending, false);
  });

  it("does not mark a name pending when its version did not change", () => {
    const subscription = acknowledged(["web"]);
    subscription.onResourcesChanged(["web"], versionOf);
    assert.equal(subscription.hasPending, false);
  });

  it("sends only the newest version when a name changes twice before sending", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    change(subscription, "web", "w3");
    assert.deepEqual(takePending(subscription, versionOf, "n2"), ["web"]);
    change(subscription, "web", "w3");
    assert.equal(subscription.hasPending, false);
  });

  it("drops a pending change that reverted to the version already sent", () => {
    const subscription = acknowledged(["web"]);
    change(subscription, "web", "w2");
    versions.set("web", "w1");
    assert.deepEqual(takePending(subscription, versionOf, "n2"), []);
  });

  it("treats empty names on the first request as a wildcard over every name", () => {
    const subscription = new SotwSubscription();
    assert.equal(subscription.onRequest(request([]), allNames), "initial");
    assert.equal(subscription.isWildcard, true);
    assert.deepEqual(takePending(subscription, versionOf, "n1").sort(), ["api", "db", "web"]);
  });

  it("a wildcard subscription receives names that appear later and stays wildcard on ACK", () => {
    const subscription = new SotwSubscription();
    subscription.onRequest(request([]), allNames);
    takePending(subscription, versionOf, "n1");
    assert.equal(subscription.onRequest(request([], "n1"), allNames), "ack");
    assert.equal(subscription.isWildcard, true);
    assert.equal(subscription.hasPending, false);
    change(subscription, "cache", "c1");
    change(subscription, "web", "w2");
    assert.deepEqual(takePending(subscription, versionOf, "n2").sort(), ["cache", "web"]);
  });

  it("is not a wildcard when names are requested", () => {
    const subscription = acknowledged(["web"]);
    assert.equal(subscription.isWildcard, false);
  });

  it("leaving a wildcard for explicit names makes an unsubscribed name new again", () => {
    const subscription = new SotwSubscription();
    subscription.onRequest(request([]), allNames);
    takePending(subscription, versionOf, "n1");
    subscription.onRequest(request(["web"], "n1"), allNames);
    assert.equal(subscription.isWildcard, false);
    assert.deepEqual(takePending(subscription, versionOf, "n2"), []);
    change(subscription, "api", "a2");
    assert.equal(subscription.hasPending, false, "api is no longer subscribed");
    subscription.onRequest(request(["web", "api"], "n1"), allNames);
    assert.deepEqual(takePending(subscription, versionOf, "n3"), ["api"]);
  });
});

describe("SotwSubscription for per-name types", () => {
  beforeEach(() => {
    versions = new Map([
      ["web", "w1"],
      ["api", "a1"],
    ]);
  });

  it("does not send a requested name that does not exist (a route configuration)", () => {
    const subscription = new SotwSubscription();
    subscription.onRequest(request(["web", "ghost"]), allNames);
    const exists = (name: string): string | undefined => versions.get(name);
    assert.deepEqual(takePending(subscription, exists, "n1"), ["web"]);
    subscription.onRequest(request(["web", "ghost"], "n1"), allNames);
    versions.set("ghost", "g1");
    subscription.onResourcesChanged(["ghost"], exists);
    assert.deepEqual(takePending(subscription, exists, "n2"), ["ghost"]);
  });

  it("resends an unchanged subscribed name when told to (an assignment after its cluster)", () => {
    const subscription = acknowledged(["web", "api"]);
    subscription.resend(["web", "db"]);
    assert.deepEqual(takePending(subscription, versionOf, "n2"), ["web"]);
  });

  it("answers takeResponse with what changed, or nothing", () => {
    const subscription = acknowledged(["web"]);
    assert.equal(subscription.takeResponse(versionOf), undefined);
    change(subscription, "web", "w2");
    assert.deepEqual(subscription.takeResponse(versionOf), {
      names: ["web"],
      changed: ["web"],
    });
  });
});

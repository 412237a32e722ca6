import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { parseServiceFilter } from "../../src/model/service-filter.ts";
import { CacheFeed, type FeedInterest, type FeedUpdate } from "../../src/xds/cache/cache-feed.ts";
import { MirrorCache } from "../../src/xds/cache/mirror-cache.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { WILDCARD } from "../../src/xds/cache/xds-cache.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { LISTENER_TYPE_URL as LDS } from "../../src/xds/resources/listener.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { endpoint, service } from "../support/model-fixtures.ts";

/**
 * A primary's cache and feed and `count` worker caches, joined by queues that copy each message
 * as the IPC channel does (structured clone: Buffers arrive as Uint8Arrays). `deliver()` runs the
 * queues until both directions are empty.
 */
function feedWithWorkers(count: number) {
  const store = new EndpointStore();
  store.apply([service("web", endpoint("10.0.0.1")), service("api", endpoint("10.0.0.2"))]);
  store.markReady();
  const cache = new ResourceCache(store, loadXdsProtos(), 0, { clusterGraceMs: 0 });
  const feed = new CacheFeed(cache);
  const queue: (() => void)[] = [];
  const sent: FeedInterest[] = [];
  const workers = Array.from({ length: count }, () => {
    const mirrors: MirrorCache[] = [];
    const peer = feed.attach((update: FeedUpdate) =>
      queue.push(() => mirrors[0]?.receive(structuredClone(update))),
    );
    const mirror = new MirrorCache((interest) => {
      sent.push(interest);
      queue.push(() => peer.receive(structuredClone(interest)));
    });
    mirrors.push(mirror);
    return { mirror, peer };
  });
  const deliver = async (): Promise<void> => {
    // The primary answers a scope once its cache is ready (a resolved promise): let it run.
    for (let turn = 0; turn < 10; turn++) {
      while (queue.length > 0) queue.shift()!();
      await Promise.resolve();
    }
  };
  return { store, cache, feed, workers, deliver, sent };
}

describe("the cache feed between the primary and its xDS workers", () => {
  it("every worker gets the primary's bytes: each resource is encoded once, whatever the workers", async () => {
    const { cache, store, workers, deliver } = feedWithWorkers(3);
    await deliver();
    const encoded = cache.encodings;
    for (const { mirror } of workers) {
      assert.ok(mirror.ready);
      assert.deepEqual(mirror.names(CDS), ["api", "web"]);
      assert.ok(mirror.get(EDS, "web")!.any.value.equals(cache.get(EDS, "web")!.any.value));
      assert.ok(Buffer.isBuffer(mirror.get(EDS, "web")!.any.value));
    }
    assert.equal(cache.encodings, encoded, "reading in the workers encodes nothing");

    const told: string[] = [];
    workers[0]!.mirror.subscribe((changes) => told.push(...(changes.get(EDS) ?? [])));
    const before = cache.encodings;
    store.apply([service("web", endpoint("10.0.0.1"), endpoint("10.0.0.3"))]);
    await deliver();
    assert.equal(cache.encodings - before, 1, "one new assignment, encoded once for all");
    assert.deepEqual(told, ["web"]);
    for (const { mirror } of workers) {
      assert.equal(mirror.get(EDS, "web")!.version, cache.get(EDS, "web")!.version);
    }
  });

  it("a name subscribed to by name is asked once; the worker is not ready until it is answered", async () => {
    const { workers, deliver, sent } = feedWithWorkers(1);
    await deliver();
    const { mirror } = workers[0]!;
    mirror.retain(EDS, "late");
    mirror.retain(EDS, "late");
    assert.equal(mirror.ready, false, "streams wait for the answer");
    assert.equal(sent.filter((m) => m.kind === "retain").length, 1);
    await deliver();
    assert.ok(mirror.ready);
    const empty = mirror.get(EDS, "late")!;
    assert.equal(empty.exists, false, "the empty assignment of an unknown cluster");
    mirror.retain(CDS, WILDCARD);
    assert.ok(mirror.ready, "a wildcard needs nothing of the primary");
  });

  it("a worker keeps only the names it has, so what another worker held cannot go stale in it", async () => {
    const { store, workers, deliver } = feedWithWorkers(2);
    await deliver();
    const [one, other] = [workers[0]!.mirror, workers[1]!.mirror];
    other.retain(LDS, "api:8080");
    await deliver();
    assert.ok(other.get(LDS, "api:8080")?.exists, "the API listener of a proxyless client");
    // Gone, then back once the other worker let go: the primary tells no worker of the return.
    store.apply([], ["api"]);
    await deliver();
    other.release(LDS, "api:8080");
    store.apply([service("api", endpoint("10.0.0.2"))]);
    await deliver();
    one.retain(LDS, "api:8080");
    assert.equal(one.ready, false, "asked of the primary: streams wait, not told it is absent");
    await deliver();
    assert.ok(one.get(LDS, "api:8080")?.exists);
  });

  it("a node view is opened in the primary by the first worker stream and let go with the last", async () => {
    const { workers, deliver, sent } = feedWithWorkers(1);
    await deliver();
    const { mirror } = workers[0]!;
    const view = { filter: parseServiceFilter("web").filter, text: "web" };
    const first = mirror.openView(view);
    const second = mirror.openView(view);
    assert.equal(first.ready, false);
    await deliver();
    assert.ok(first.ready);
    assert.deepEqual(first.names(CDS), ["web"]);
    first.close();
    second.close();
    assert.deepEqual(
      sent.filter((m) => m.scope === "web").map((m) => m.kind),
      ["open", "close"],
    );
  });

  it("a worker that is gone lets go of what it held", async () => {
    const { cache, workers, deliver } = feedWithWorkers(1);
    await deliver();
    workers[0]!.mirror.retain(EDS, "late");
    await deliver();
    const held = cache.encodings;
    cache.get(EDS, "late");
    assert.equal(cache.encodings, held, "kept while the worker holds it");
    workers[0]!.peer.detach();
    cache.get(EDS, "late");
    assert.equal(cache.encodings - held, 1, "dropped with the worker: built again");
  });
});
